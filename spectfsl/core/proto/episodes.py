"""Episodes: sampling, episodic fine-tuning of a backbone, and episodic evaluation with baselines.

An episode draws `way` classes, then `shot` support and `query` query images per class. With
`split_by_patient`, the patients are split in two at random for each episode: support images come
from one half and query images from the other, so no patient is in both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spectfsl.core import distributed
from spectfsl.core.checkpoint import Checkpointer, TrainingState, fingerprint
from spectfsl.core.proto.ood import TISSUE_LEVEL
from spectfsl.core.proto.prototypes import class_prototypes, squared_distances, to_network_input, transform_features
from spectfsl.core.training import run_steps
from spectfsl.errors import SpectfslError, SpectfslWarning

PATIENT_SPLIT_TRIES = 200


#: Classes and query images per class of an episode when not given (the study's 3-way, 6-query).
DEFAULT_WAY, DEFAULT_QUERY = 3, 6


@dataclass(frozen=True)
class EpisodeShape:
    """W-way, K-shot, Q-query episodes. `way` and `query` None: chosen to fit the data (see `resolve_shape`)."""

    way: int | None = None
    shot: int = 3
    query: int | None = None

    def __post_init__(self) -> None:
        if (self.way is not None and self.way < 2) or self.shot < 1 or (self.query is not None and self.query < 1):
            raise SpectfslError(
                "episodes need {way} >= 2, {shot} >= 1 and {query} >= 1", settings=("way", "shot", "query")
            )


def resolve_shape(shape: EpisodeShape, labels: np.ndarray, class_names: list[str]) -> EpisodeShape:
    """`shape` with its unset `way` and `query` chosen to fit the data, so that defaults work on any
    dataset with at least 2 classes of `shot` + 1 images: way = min(3, classes), query = min(6, the
    smallest class - shot). Shrinking below the defaults is said once (a SpectfslWarning); values
    given explicitly are kept, and an episode they do not fit is refused when sampled."""
    counts = {name: int((np.asarray(labels) == index).sum()) for index, name in enumerate(class_names)}
    way = shape.way if shape.way is not None else min(DEFAULT_WAY, len(class_names))
    query = shape.query
    if query is None:
        smallest = min(counts, key=counts.get)
        room = counts[smallest] - shape.shot
        if room < 1:
            raise SpectfslError(
                f"class '{smallest}' has {counts[smallest]} images; episodes need {{shot}} + 1 = {shape.shot + 1} "
                "per class (lower {shot}, or add images)",
                settings="shot",
            )
        query = min(DEFAULT_QUERY, room)
        if query < DEFAULT_QUERY:
            warnings.warn(
                SpectfslWarning(
                    f"class '{smallest}' has {counts[smallest]} images: episodes use {query} query images per class "
                    f"({{shot}} {shape.shot} + {{query}} {query}) instead of {DEFAULT_QUERY}",
                    settings=("shot", "query"),
                ),
                stacklevel=2,
            )
    if shape.way is None and way < DEFAULT_WAY and len(class_names) >= 2:
        warnings.warn(
            f"the dataset has {len(class_names)} classes: episodes are {way}-way", SpectfslWarning, stacklevel=2
        )
    return EpisodeShape(way, shape.shot, query)


@dataclass(frozen=True)
class Episode:
    """Indices into the dataset, and the class index (into the dataset's classes) of each."""

    support: np.ndarray
    support_labels: np.ndarray
    query: np.ndarray
    query_labels: np.ndarray


class EpisodeSampler:
    """Draws episodes from integer class labels (and patients, for patient-disjoint episodes)."""

    def __init__(
        self,
        labels: np.ndarray,
        class_names: list[str],
        shape: EpisodeShape,
        seed: int = 0,
        patients: list[str] | None = None,
        split_by_patient: bool = False,
    ) -> None:
        self.labels = np.asarray(labels)
        self.class_names = class_names
        self.shape = (
            shape
            if shape.way is not None and shape.query is not None
            else resolve_shape(shape, self.labels, class_names)
        )
        self.rng = np.random.default_rng(seed)
        self.patients = np.asarray(patients) if patients is not None else None
        self.split_by_patient = split_by_patient
        self._check_feasible()

    def _check_feasible(self) -> None:
        shape = self.shape
        if len(self.class_names) < 2:
            raise SpectfslError(f"episodes need at least 2 classes; the dataset has {len(self.class_names)}")
        if shape.way > len(self.class_names):
            raise SpectfslError(
                f"{{way}} {shape.way} needs {shape.way} classes; the dataset has {len(self.class_names)}",
                settings="way",
            )
        for index, name in enumerate(self.class_names):
            have = int((self.labels == index).sum())
            if have < shape.shot + shape.query:
                raise SpectfslError(
                    f"class '{name}' has {have} images; an episode needs {{shot}} + {{query}} = "
                    f"{shape.shot + shape.query} per class",
                    settings=("shot", "query"),
                )
        if self.split_by_patient:
            if self.patients is None or len(set(self.patients)) < 2:
                raise SpectfslError("{split_by} patient needs images from at least 2 patients", settings="split_by")

    def sample(self) -> Episode:
        classes = self.rng.choice(len(self.class_names), size=self.shape.way, replace=False)
        for _ in range(PATIENT_SPLIT_TRIES if self.split_by_patient else 1):
            support_pool, query_pool = self._pools()
            episode = self._draw(classes, support_pool, query_pool)
            if episode is not None:
                return episode
        raise SpectfslError(
            "cannot draw a patient-disjoint episode: too few images per class in half of the patients "
            f"(need {self.shape.shot} support and {self.shape.query} query per class); "
            "lower {shot}/{query} or add patients",
            settings=("shot", "query"),
        )

    def _pools(self) -> tuple[np.ndarray, np.ndarray]:
        everything = np.ones(len(self.labels), dtype=bool)
        if not self.split_by_patient:
            return everything, everything
        names = np.array(sorted(set(self.patients)))
        self.rng.shuffle(names)
        cut = self.rng.integers(1, len(names))
        in_support = np.isin(self.patients, names[:cut])
        return in_support, ~in_support

    def _draw(self, classes: np.ndarray, support_pool: np.ndarray, query_pool: np.ndarray) -> Episode | None:
        support, query = [], []
        for label in classes:
            of_class = self.labels == label
            if self.split_by_patient:
                support_candidates = np.flatnonzero(of_class & support_pool)
                query_candidates = np.flatnonzero(of_class & query_pool)
                if len(support_candidates) < self.shape.shot or len(query_candidates) < self.shape.query:
                    return None
                support.append(self.rng.choice(support_candidates, self.shape.shot, replace=False))
                query.append(self.rng.choice(query_candidates, self.shape.query, replace=False))
            else:
                chosen = self.rng.choice(np.flatnonzero(of_class), self.shape.shot + self.shape.query, replace=False)
                support.append(chosen[: self.shape.shot])
                query.append(chosen[self.shape.shot :])
        support_index, query_index = np.concatenate(support), np.concatenate(query)
        return Episode(support_index, self.labels[support_index], query_index, self.labels[query_index])


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """SPECT-suited light augmentation of (B, 1, H, W) normalised images.

    Rotation within +-15 degrees, random horizontal and vertical flips, intensity scaling by
    0.8-1.2, and Poisson-like noise (standard deviation 0.05 * sqrt(intensity)).
    """
    batch = images.shape[0]
    device = images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(batch, generator=generator).to(device) * (high - low) + low

    angle = uniform(-15, 15) * math.pi / 180
    flip_x = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0).to(device)
    flip_y = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0).to(device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos * flip_x, -sin, torch.zeros_like(cos)], 1),
            torch.stack([sin, cos * flip_y, torch.zeros_like(cos)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    moved = moved * uniform(0.8, 1.2).view(batch, 1, 1, 1)
    noise = torch.randn(moved.shape, generator=generator).to(device)
    return (moved + 0.05 * moved.clamp(min=0).sqrt() * noise).clamp(min=0)


@dataclass(frozen=True)
class FineTuneSettings:
    """Episodic fine-tuning: the study's protocol is 3-way, 3-shot, 6-query, 10 episodes, Adam lr 1e-3."""

    episodes: int = 100
    shape: EpisodeShape = field(default_factory=EpisodeShape)
    lr: float = 1e-3
    seed: int = 0
    augment: bool = True


def fine_tune(
    backbone: nn.Module,
    images: torch.Tensor,
    labels: np.ndarray,
    class_names: list[str],
    settings: FineTuneSettings,
    device: torch.device,
    input_size: int | None = None,
    on_episode: Callable[[int, float, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
) -> list[float]:
    """Fine-tune `backbone` in place on episodes (cross-entropy over negative squared distances).

    Batch-norm stays in training mode (it beat frozen statistics in calibration). Returns the loss
    of each episode; `on_episode(index, loss, accuracy)` reports progress; `checkpointer` saves
    (and with --resume restores) the run's state.
    """
    sampler = EpisodeSampler(labels, class_names, settings.shape, seed=distributed.rank_seed(settings.seed))
    generator = torch.Generator().manual_seed(distributed.rank_seed(settings.seed))
    backbone.to(device).train()
    optimiser = torch.optim.Adam(backbone.parameters(), lr=settings.lr)
    state = TrainingState(
        backbone, optimiser, generators={"augment": generator}, numpy_generators={"episodes": sampler.rng}
    )
    checkpointer = checkpointer or Checkpointer()
    identity = {
        "kind": "proto fit",
        "settings": asdict(replace(settings, shape=sampler.shape)),
        "input_size": input_size,
        "inputs_sha256": fingerprint(images, np.asarray(labels), class_names),
        "initial_model_sha256": fingerprint(*backbone.state_dict().values()),
    }
    checkpointer.start(state, identity)
    network = distributed.replicate(backbone, device)
    accuracy = {}

    def episode_loss(index: int) -> torch.Tensor:
        episode = sampler.sample()
        order = np.concatenate([episode.support, episode.query])
        batch = to_network_input(images[order].to(device), input_size)
        if settings.augment:
            batch = augment(batch, generator)
        features = network(batch)
        n_support = len(episode.support)
        _, support_targets = np.unique(episode.support_labels, return_inverse=True)
        classes_in_episode = np.unique(episode.support_labels)
        query_targets = torch.as_tensor(np.searchsorted(classes_in_episode, episode.query_labels), device=device)
        prototypes = class_prototypes(
            features[:n_support], torch.as_tensor(support_targets, device=device), len(classes_in_episode)
        )
        logits = -squared_distances(features[n_support:], prototypes)
        if on_episode is not None:
            accuracy[index] = float((logits.argmax(dim=1) == query_targets).float().mean())
        return F.cross_entropy(logits, query_targets)

    def report(index: int, loss: float) -> None:
        if on_episode is not None:
            on_episode(index, loss, accuracy.pop(index))

    run_steps(state, settings.episodes, episode_loss, checkpointer, None, lambda i: f"episode {i + 1}", report)
    backbone.eval()
    return state.losses


@dataclass
class MethodResult:
    """Accuracy of one method over the same episodes, with per-class recall and confusion counts."""

    name: str
    accuracies: list[float] = field(default_factory=list)
    confusion: np.ndarray | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def ci95(self) -> float:
        """Half-width of the 95% confidence interval: 1.96 * sd / sqrt(n) over episodes."""
        return float(1.96 * np.std(self.accuracies) / math.sqrt(len(self.accuracies)))

    def recall(self, class_names: list[str]) -> dict[str, float]:
        totals = self.confusion.sum(axis=1)
        return {
            name: float(self.confusion[i, i] / totals[i]) if totals[i] else float("nan")
            for i, name in enumerate(class_names)
        }


def hand_features(images: np.ndarray, spacing_mm: float | None) -> np.ndarray:
    """Trivial cues per image: tissue area (mm^2, or pixels), mean tissue intensity, bounding-box aspect ratio."""
    tissue = images > TISSUE_LEVEL
    pixel_area = (spacing_mm or 1.0) ** 2
    features = np.zeros((len(images), 3), dtype=np.float32)
    for index, (image, mask) in enumerate(zip(images, tissue)):
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        features[index] = (mask.sum() * pixel_area, image[mask].mean(), max(height, width) / min(height, width))
    return features


def _episode_predictions(features: torch.Tensor, episode: Episode, transform: str) -> np.ndarray:
    """Predicted class index (dataset classes) of each query by nearest prototype."""
    support, query = features[episode.support], features[episode.query]
    classes_in_episode = np.unique(episode.support_labels)
    targets = torch.as_tensor(np.searchsorted(classes_in_episode, episode.support_labels))
    if transform == "zscore":
        mean, std = support.mean(dim=0), support.std(dim=0).clamp(min=1e-6)
        support, query = (support - mean) / std, (query - mean) / std
    else:
        centre = support.mean(dim=0) if transform == "cl2n" else None
        support = transform_features(support, transform, centre)
        query = transform_features(query, transform, centre)
    prototypes = class_prototypes(support, targets, len(classes_in_episode))
    return classes_in_episode[squared_distances(query, prototypes).argmin(dim=1).numpy()]


def evaluate_episodes(
    methods: dict[str, tuple[torch.Tensor, str]],
    labels: np.ndarray,
    class_names: list[str],
    shape: EpisodeShape,
    episodes: int,
    seed: int = 0,
    patients: list[str] | None = None,
    split_by_patient: bool = False,
    on_episode: Callable[[int], None] | None = None,
) -> list[MethodResult]:
    """Evaluate every method (features (N, D), transform) by nearest prototype on the very same episodes."""
    sampler = EpisodeSampler(
        labels, class_names, shape, seed=seed, patients=patients, split_by_patient=split_by_patient
    )
    results = {
        name: MethodResult(name, confusion=np.zeros((len(class_names),) * 2, dtype=np.int64)) for name in methods
    }
    for index in range(episodes):
        episode = sampler.sample()
        for name, (features, transform) in methods.items():
            predicted = _episode_predictions(features, episode, transform)
            results[name].accuracies.append(float((predicted == episode.query_labels).mean()))
            np.add.at(results[name].confusion, (episode.query_labels, predicted), 1)
        if on_episode is not None:
            on_episode(index)
    return list(results.values())
