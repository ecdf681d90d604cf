"""Episodic evaluation of few-shot classification, with trivial baselines on the very same episodes.

The backbone under test comes from a bank (`bank_embedding`: its fine-tuned network, input size, crop
geometry and feature transform) or from `--weights` without fine-tuning (`weights_embedding`);
`evaluate_folder` evaluates either on a DATASET folder, and its result draws its own tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from spectfsl.core.data.datasets import LabelledImages, read_dataset
from spectfsl.core.networks.weights import resolve_weights
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.bank import load_bank
from spectfsl.core.proto.episodes import EpisodeShape, MethodResult, evaluate_episodes, hand_features, resolve_shape
from spectfsl.core.proto.prototypes import embed
from spectfsl.core.proto.workflows import class_indices, image_sha256, resolve_transform
from spectfsl.core.tables import Table, percent
from spectfsl.errors import SpectfslError


@dataclass(frozen=True)
class EvaluateSettings:
    """`proto evaluate`: episode shape and count, patient split, baselines."""

    shape: EpisodeShape = field(default_factory=EpisodeShape)
    episodes: int = 600
    split_by_patient: bool = False
    baselines: bool = False
    seed: int = 0


def evaluate_dataset(
    data: LabelledImages,
    backbone: torch.nn.Module,
    transform: str,
    settings: EvaluateSettings,
    device: torch.device | str = "cpu",
    input_size: int | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> list[MethodResult]:
    """Episodic accuracy of prototypes on `backbone` features, and (with baselines) of trivial cues,
    on the same episodes."""
    if settings.episodes < 1:
        raise SpectfslError("{episodes} must be at least 1", settings="episodes")
    features = embed(backbone.to(device), torch.from_numpy(data.images), torch.device(device), input_size or data.size)
    methods = {"prototypical network": (features, transform)}
    if settings.baselines:
        methods["raw pixels (nearest centroid)"] = (torch.from_numpy(data.images.reshape(len(data.images), -1)), "none")
        methods["hand features (nearest centroid)"] = (
            torch.from_numpy(hand_features(data.images, data.spacing_mm)),
            "zscore",
        )
    return evaluate_episodes(
        methods,
        class_indices(data),
        data.classes,
        settings.shape,
        settings.episodes,
        seed=settings.seed,
        patients=data.patients,
        split_by_patient=settings.split_by_patient,
        on_episode=on_episode,
    )


@dataclass
class Embedding:
    """A backbone to evaluate: the network, its feature transform and input size (None: the crops'
    size), the crop size and spacing in mm to read a dataset at (None: as prepared), where it came
    from, and a warning for the user (for example: no ImageNet weights, random initialisation)."""

    network: nn.Module
    transform: str
    input_size: int | None
    size: int | None
    spacing_mm: float | None
    source: dict[str, Any]
    warning: str | None = None
    #: SHA-256 of the images the bank was fitted on (`workflows.image_sha256`): never evaluated on.
    fitted_on: frozenset[str] = frozenset()


def bank_embedding(
    path: str | os.PathLike, device: torch.device | str = "cpu", transform: str | None = None
) -> Embedding:
    """The (fine-tuned) backbone of a bank, with the bank's input size, crop geometry and transform."""
    classifier, info = load_bank(path, device)
    source = {"bank": str(path), "backbone": info.backbone, "weights": info.weights, "fine_tuned": info.fine_tuned}
    return Embedding(
        classifier.backbone,
        transform or info.transform,
        info.input_size,
        info.size,
        info.spacing_mm,
        source,
        fitted_on=frozenset(info.fitted_on_sha256),
    )


def weights_embedding(
    weights: str = "auto", backbone: str = "resnet18", transform: str | None = None, seed: int = 0
) -> Embedding:
    """A backbone with `--weights` and no fine-tuning (random weights drawn from `seed`)."""
    torch.manual_seed(seed)
    choice = resolve_weights(weights, backbone)
    network = create_model(backbone, choice)
    source = {"bank": None, "backbone": backbone, "weights": choice.describe(), "fine_tuned": False}
    chosen = resolve_transform(transform or "auto", fine_tuned=False)
    return Embedding(network, chosen, None, None, None, source, choice.warning)


@dataclass
class EvaluationResult:
    """Accuracy of each method over the same episodes, what was evaluated, and with what backbone."""

    methods: list[MethodResult]
    settings: EvaluateSettings
    classes: list[str]
    images: int
    patients: int
    source: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`proto evaluate --format json`)."""
        return {
            "episodes": self.settings.episodes,
            **asdict(self.settings.shape),
            "split_by": "patient" if self.settings.split_by_patient else None,
            "classes": self.classes,
            "images": self.images,
            "patients": self.patients,
            **self.source,
            "methods": [
                {
                    "name": result.name,
                    "accuracy": result.mean,
                    "ci95": result.ci95,
                    "recall": result.recall(self.classes),
                    "confusion": result.confusion.tolist(),
                }
                for result in self.methods
            ],
        }

    def tables(self) -> list[Table]:
        """Accuracy with its 95% CI and per-class recall per method; the first method's confusion matrix."""
        shape, split = self.settings.shape, ", patient-disjoint" if self.settings.split_by_patient else ""
        title = f"{shape.way}-way {shape.shot}-shot {shape.query}-query, {self.settings.episodes} episodes{split}"
        header = ("method", "accuracy", "95% CI ±", *(f"recall {name}" for name in self.classes))
        rows = tuple(
            (
                method.name,
                percent(method.mean),
                percent(method.ci95),
                *(percent(value) for value in method.recall(self.classes).values()),
            )
            for method in self.methods
        )
        first = self.methods[0]
        confusion = Table(
            f"confusion matrix, {first.name} (rows: true, columns: predicted)",
            ("", *self.classes),
            tuple((name, *(str(c) for c in counts)) for name, counts in zip(self.classes, first.confusion.tolist())),
            f"backbone {self.source.get('backbone')}, weights {self.source.get('weights')}, "
            f"fine-tuned {self.source.get('fine_tuned')}, transform {self.source.get('transform')}; "
            f"{self.images} images from {self.patients} patients. 95% CI: 1.96 standard deviations of the "
            "per-episode accuracy over the square root of the number of episodes.",
        )
        return [Table(title, header, rows), confusion]


def evaluate_folder(
    folder: str | os.PathLike,
    embedding: Embedding,
    settings: EvaluateSettings,
    device: torch.device | str = "cpu",
    on_episode: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """`proto evaluate`: read a DATASET folder at the embedding's geometry and evaluate it on episodes.
    Refuses a dataset holding images the bank was fitted on: that measures the fit, not accuracy."""
    data = read_dataset(folder, embedding.size, embedding.spacing_mm)
    if embedding.fitted_on:
        seen = [path for path, sha in zip(data.paths, image_sha256(data.images)) if sha in embedding.fitted_on]
        if seen:
            raise SpectfslError(
                f"{folder}: {len(seen)} of its {len(data.paths)} images were used to fit {embedding.source['bank']} "
                f"(for example {seen[0]}): evaluating on them measures the fit, not accuracy; evaluate on other "
                "patients' crops, or use {cross_validate} patient",
                settings="cross_validate",
            )
    settings = replace(settings, shape=resolve_shape(settings.shape, class_indices(data), data.classes))
    methods = evaluate_dataset(
        data, embedding.network, embedding.transform, settings, device, embedding.input_size, on_episode
    )
    source = {**embedding.source, "transform": embedding.transform}
    return EvaluationResult(methods, settings, data.classes, len(data.labels), len(set(data.patients)), source)
