"""Prototypical networks (Snell et al. 2017): prototypes are mean support embeddings; a query takes
the class of the nearest prototype, with probabilities from a softmax over negative squared
Euclidean distances.

Features can be transformed before prototypes and distances are computed: `none`, `l2`
(unit length) or `cl2n` (subtract the support's mean feature, then unit length). Probabilities use
a temperature: distances are divided by the mean leave-one-out squared distance of the support
images to their own class prototype, which makes them comparable across feature transforms.
Out-of-distribution (banks without a crop profile, `ood.CropProfile`): a query is flagged when its
distance to the nearest prototype exceeds OOD_FACTOR times the 95th percentile of those
leave-one-out distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectfsl.core.acceleration import Acceleration, to_device
from spectfsl.errors import SpectfslError

FEATURE_TRANSFORMS = ("none", "l2", "cl2n")
OOD_FACTOR = 2.0
EMBED_BATCH = 256


@dataclass
class Prediction:
    """Per query: class probabilities (N, C) and squared distances to each prototype (N, C)."""

    probabilities: torch.Tensor
    distances: torch.Tensor

    @property
    def predicted(self) -> torch.Tensor:
        return self.probabilities.argmax(dim=1)


def squared_distances(queries: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(N, D) x (C, D) -> (N, C) squared Euclidean distances."""
    return torch.cdist(queries, prototypes).pow(2)


def transform_features(features: torch.Tensor, transform: str, centre: torch.Tensor | None = None) -> torch.Tensor:
    """Apply a feature transform (`none`, `l2`, `cl2n`; `cl2n` subtracts `centre` first)."""
    if transform == "none":
        return features
    if transform == "cl2n":
        if centre is None:
            raise ValueError("cl2n needs the centring vector")
        features = features - centre
    elif transform != "l2":
        raise SpectfslError(f"unknown feature transform '{transform}' (known: {', '.join(FEATURE_TRANSFORMS)})")
    return F.normalize(features, dim=-1)


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean feature of each class: (N, D) with labels in [0, C) -> (C, D)."""
    one_hot = F.one_hot(labels, n_classes).to(features.dtype)
    counts = one_hot.sum(dim=0)
    if (counts == 0).any():
        raise SpectfslError("every class needs at least one support image")
    return (one_hot.T @ features) / counts[:, None]


def leave_one_out_distances(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Squared distance of each support feature to its class prototype computed without it (classes of >= 2)."""
    one_hot = F.one_hot(labels, n_classes).to(features.dtype)
    counts = one_hot.sum(dim=0)
    sums = one_hot.T @ features
    own_count = counts[labels]
    usable = own_count >= 2
    without = (sums[labels] - features)[usable] / (own_count[usable] - 1)[:, None]
    return (features[usable] - without).pow(2).sum(dim=1)


def embed(
    backbone: nn.Module, images: torch.Tensor, device: torch.device, input_size: int | None = None
) -> torch.Tensor:
    """(N, H, W) or (N, 1, H, W) images -> (N, D) features, in eval mode, batched, on CPU."""
    backbone.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), EMBED_BATCH):
            batch = to_device(images[start : start + EMBED_BATCH], device)
            outputs.append(backbone(to_network_input(batch, input_size)).float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, 0)


def to_network_input(images: torch.Tensor, input_size: int | None) -> torch.Tensor:
    """Add the channel axis and resize to `input_size` (bilinear) when it differs."""
    if images.ndim == 3:
        images = images[:, None]
    if input_size is not None and images.shape[-1] != input_size:
        images = F.interpolate(images, size=(input_size, input_size), mode="bilinear", align_corners=False)
    return images


class PrototypicalClassifier:
    """A support set in once, then any number of queries; prototypes, centre and calibration are state."""

    def __init__(
        self,
        backbone: nn.Module,
        classes: Sequence[str] = (),
        transform: str = "cl2n",
        device: torch.device | str = "cpu",
        input_size: int | None = None,
    ) -> None:
        if transform not in FEATURE_TRANSFORMS:
            raise SpectfslError(f"unknown feature transform '{transform}' (known: {', '.join(FEATURE_TRANSFORMS)})")
        self.backbone = backbone.to(device)
        self.device = torch.device(device)
        self.classes = list(classes)
        self.transform = transform
        self.input_size = input_size
        self.prototypes: torch.Tensor | None = None
        self.counts: torch.Tensor | None = None
        self.centre: torch.Tensor | None = None
        self.temperature = 1.0
        self.ood_threshold = float("inf")

    def accelerate(self, acceleration: Acceleration) -> PrototypicalClassifier:
        """Run the backbone with `acceleration` from now on (precision, torch.compile, channels-last)."""
        acceleration.prepare(self.backbone)
        return self

    def embed(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Raw backbone features of (N, H, W) images."""
        return embed(self.backbone, torch.as_tensor(images), self.device, self.input_size)

    def fit(self, support: torch.Tensor | np.ndarray, labels: Sequence[str]) -> PrototypicalClassifier:
        """Compute prototypes from support images and their class names; calibrate temperature and OOD."""
        return self.fit_features(self.embed(support), labels)

    def fit_features(self, features: torch.Tensor, labels: Sequence[str]) -> PrototypicalClassifier:
        """As `fit`, from precomputed raw features."""
        self.classes = list(dict.fromkeys(labels)) if not self.classes else self.classes
        unknown = set(labels) - set(self.classes)
        if unknown:
            raise SpectfslError(f"support labels {sorted(unknown)} are not among the classes {self.classes}")
        index = torch.tensor([self.classes.index(label) for label in labels])
        self.centre = features.mean(dim=0) if self.transform == "cl2n" else None
        transformed = transform_features(features, self.transform, self.centre)
        self.prototypes = class_prototypes(transformed, index, len(self.classes))
        self.counts = torch.bincount(index, minlength=len(self.classes))
        held_out = leave_one_out_distances(transformed, index, len(self.classes))
        if held_out.numel():
            self.temperature = max(float(held_out.mean()), 1e-8)
            self.ood_threshold = OOD_FACTOR * float(torch.quantile(held_out, 0.95))
        return self

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The fitted state as tensors: `prototypes` (C, D), `counts` (C,) and, for cl2n, `centre` (D,).

        With `temperature` and `ood_threshold` (numbers) this is everything `load_state` needs.
        """
        if self.prototypes is None or self.counts is None:
            raise SpectfslError("the classifier has no prototypes: fit it on a support set first")
        tensors = {"prototypes": self.prototypes, "counts": self.counts}
        if self.centre is not None:
            tensors["centre"] = self.centre
        return tensors

    def load_state(
        self, tensors: dict[str, torch.Tensor], temperature: float, ood_threshold: float
    ) -> PrototypicalClassifier:
        """Restore what `state_tensors` exported, with the calibration (temperature, OOD threshold)."""
        self.prototypes = tensors["prototypes"].float()
        self.counts = tensors["counts"]
        self.centre = tensors.get("centre")
        self.temperature = float(temperature)
        self.ood_threshold = float(ood_threshold)
        return self

    def predict_features(self, features: torch.Tensor) -> Prediction:
        if self.prototypes is None:
            raise SpectfslError("the classifier has no prototypes: fit it on a support set first")
        distances = squared_distances(transform_features(features, self.transform, self.centre), self.prototypes)
        return Prediction(torch.softmax(-distances / self.temperature, dim=1), distances)

    def predict(self, queries: torch.Tensor | np.ndarray) -> Prediction:
        """Class probabilities and distances for (N, H, W) query images."""
        return self.predict_features(self.embed(queries))
