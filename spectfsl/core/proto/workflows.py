"""Few-shot classification end to end: fit a bank and predict images (evaluation: `evaluation.py`).

These are the functions the `proto` commands call, and what a notebook user calls:

>>> from pathlib import Path
>>> from spectfsl import FineTuneSettings, FitSettings, fit_bank, prepare, read_dataset, save_bank, write_phantom
>>> _ = write_phantom("phantom", patients=2)
>>> _ = prepare(sorted(Path("phantom").glob("*/spect.dcm")), "ds", labels=sorted(Path("phantom").glob("*/labels.npy")))
>>> settings = FitSettings(weights="random", fine_tune=FineTuneSettings(episodes=2))
>>> classifier, info, weights = fit_bank(read_dataset("ds"), settings)
>>> save_bank("bank.safetensors", classifier, info, weights)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from spectfsl.core import distributed
from spectfsl.core.checkpoint import Checkpointer, fingerprint
from spectfsl.core.distributed import in_groups
from spectfsl.core.files.loader import BadInput, iter_images
from spectfsl.core.image import SpectImage
from spectfsl.core.networks.weights import WeightsChoice, resolve_weights
from spectfsl.core.prefetch import prefetched
from spectfsl.core.processing.preprocess import centred_window, normalised
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.bank import BankInfo
from spectfsl.core.proto.episodes import FineTuneSettings, fine_tune, resolve_shape
from spectfsl.core.proto.ood import CropProfile
from spectfsl.core.proto.prototypes import PrototypicalClassifier
from spectfsl.errors import SpectfslError, SpectfslWarning

if TYPE_CHECKING:  # datasets pulls in `prepare`'s imaging; `proto predict` needs none of it
    from spectfsl.core.data.datasets import LabelledImages

#: The feature transform of `auto`, without and with episodic fine-tuning: the better of each on the
#: phantom (`benchmarks/proto_calibration.sh`).
AUTO_TRANSFORM = {False: "l2", True: "cl2n"}
DEFAULT_EPISODES = 100


@dataclass(frozen=True)
class FitSettings:
    """`proto fit`: backbone and weights, support shots per class (None: all), fine-tuning, features."""

    backbone: str = "resnet18"
    weights: str = "auto"
    shots: int | None = None
    fine_tune: FineTuneSettings = field(default_factory=lambda: FineTuneSettings(episodes=DEFAULT_EPISODES))
    transform: str = "auto"
    input_size: int | None = None
    seed: int = 0


def resolve_transform(transform: str, fine_tuned: bool) -> str:
    """`auto` -> the measured best feature transform for a fine-tuned or a plain backbone."""
    return AUTO_TRANSFORM[fine_tuned] if transform == "auto" else transform


def class_indices(data: LabelledImages) -> np.ndarray:
    """Each image's class as an index into `data.classes`."""
    lookup = {name: index for index, name in enumerate(data.classes)}
    return np.array([lookup[label] for label in data.labels])


def support_indices(data: LabelledImages, support: LabelledImages) -> list[int]:
    """Where the support images lie in `data` (dataset order): which images gave the prototypes."""
    chosen = set(support.paths)
    return [index for index, path in enumerate(data.paths) if path in chosen]


def choose_support(data: LabelledImages, shots: int | None, seed: int) -> LabelledImages:
    """`shots` images per class drawn at random (all images when None)."""
    if shots is None:
        return data
    rng = np.random.default_rng(seed)
    chosen = []
    for name in data.classes:
        members = [i for i, label in enumerate(data.labels) if label == name]
        if len(members) < shots:
            raise SpectfslError(
                f"class '{name}' has {len(members)} images, fewer than {{support}} {shots}", settings="support"
            )
        chosen.extend(sorted(rng.choice(members, shots, replace=False)))
    return data.subset(chosen)


def fit_bank(
    data: LabelledImages,
    settings: FitSettings,
    device: torch.device | str = "cpu",
    on_episode: Callable[[int, float, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
) -> tuple[PrototypicalClassifier, BankInfo, WeightsChoice]:
    """Optionally fine-tune the backbone on episodes from `data`, then fit prototypes on the support.

    A fallback in the choice of weights (no ImageNet weights found) is in the returned
    `WeightsChoice.warning`, for the caller to show.
    """
    device = torch.device(device)
    torch.manual_seed(settings.seed)
    weights = resolve_weights(settings.weights, settings.backbone)
    backbone = create_model(settings.backbone, weights).to(device)
    input_size = settings.input_size or data.size
    losses: list[float] = []
    fine_tuning = settings.fine_tune
    if fine_tuning.episodes > 0:
        labels = class_indices(data)
        fine_tuning = replace(fine_tuning, shape=resolve_shape(fine_tuning.shape, labels, data.classes))
        losses = fine_tune(
            backbone,
            torch.from_numpy(data.images),
            labels,
            data.classes,
            fine_tuning,
            device,
            input_size,
            on_episode,
            checkpointer,
        )
    support = choose_support(data, settings.shots, settings.seed)
    transform = resolve_transform(settings.transform, fine_tuned=settings.fine_tune.episodes > 0)
    classifier = PrototypicalClassifier(backbone, data.classes, transform, device, input_size)
    classifier.fit(support.images, support.labels)
    training = {
        "episodes": settings.fine_tune.episodes,
        "way": fine_tuning.shape.way,
        "shot": fine_tuning.shape.shot,
        "query": fine_tuning.shape.query,
        "lr": settings.fine_tune.lr,
        "seed": settings.seed,
        "support_images": len(support.labels),
        "support_indices": support_indices(data, support),
        "world_size": distributed.current().world_size,
        "final_loss": losses[-1] if losses else None,
        "losses": losses,
    }
    info = BankInfo(
        classes=data.classes,
        backbone=settings.backbone,
        weights=weights.describe(),
        weights_sha256=weights.sha256,
        fine_tuned=settings.fine_tune.episodes > 0,
        input_size=input_size,
        size=data.size,
        spacing_mm=data.spacing_mm,
        transform=transform,
        temperature=classifier.temperature,
        ood_threshold=classifier.ood_threshold,
        backbone_options=backbone.options,
        training=training,
        crop_profile=CropProfile.fit(data.images).as_dict(),
        fitted_on_sha256=sorted(set(image_sha256(data.images))),
    )
    return classifier, info, weights


def image_sha256(images: np.ndarray) -> list[str]:
    """What identifies each (H, W) image of a dataset as read at a bank's geometry, whatever its file
    is called: SHA-256 of its shape, dtype and pixels."""
    return [fingerprint(image) for image in images]


PREDICTION_COLUMNS = ("path", "frame", "predicted", "probability", "distance", "ood")


def prediction_columns(classes: list[str], skip_bad: bool = False) -> list[str]:
    """The columns of `proto predict`; with `--skip-bad`, an `error` column last."""
    return list(PREDICTION_COLUMNS) + [f"p_{name}" for name in classes] + (["error"] if skip_bad else [])


def predict_images(
    classifier: PrototypicalClassifier,
    info: BankInfo,
    specs: Iterable[str],
    batch_size: int = 256,
    skip_bad: bool = False,
) -> Iterator[dict[str, Any]]:
    """One row per 2D image (every frame of a volume), in input order, streaming in batches.

    A batch never spans two groups of `batch_size` inputs (IMAGE arguments), so each group's
    numbers are the same wherever the run starts: a torchrun rank given whole groups prints what
    one process prints for them, digit for digit (kernels round differently with batch size).

    With `skip_bad`, an input that cannot be read gives a row with its `path` and `error` in its
    place, and the rest is classified; without it, its SpectfslError stops the run.

    `ood` is true when the image does not look like the bank's crops (its `CropProfile`); for a bank
    written before crop profiles, when the nearest prototype is farther than the bank's threshold. An
    input whose physical size differs from the bank's crops is classified as a whole (its central
    window), with one warning per run.
    """
    profile = CropProfile.from_dict(info.crop_profile) if info.crop_profile else None
    pending: list[tuple[str, int | None, np.ndarray]] = []
    probability_columns = [f"p_{name}" for name in info.classes]
    warned = False

    def flush() -> Iterator[dict[str, Any]]:
        windows = np.stack([item[2] for item in pending])
        prediction = classifier.predict(windows)
        unlike = profile.outside(windows) if profile is not None else np.zeros(len(windows), dtype=bool)
        best_classes = prediction.probabilities.argmax(dim=1).tolist()
        rows = zip(pending, best_classes, prediction.probabilities.tolist(), prediction.distances.tolist(), unlike)
        for (source, frame, _), best, probabilities, distances, odd in rows:
            row = {
                "path": source,
                "frame": frame,
                "predicted": info.classes[best],
                "probability": probabilities[best],
                "distance": distances[best],
                "ood": bool(odd if profile is not None else distances[best] > classifier.ood_threshold),
            }
            row.update(zip(probability_columns, probabilities))
            yield row
        pending.clear()

    def windows() -> Iterator[tuple[str, int | None, str | None, np.ndarray] | BadInput | None]:
        """Each image read, normalised and cut to the bank's window (in a background thread off the
        CPU, see below); None at the end of each group of inputs."""
        for group in in_groups(list(specs), batch_size):
            for image in iter_images(group, skip_bad):
                if isinstance(image, BadInput):
                    yield image
                    continue
                for index, plane in enumerate(normalised(image).slices()):
                    unlike = None if _crop_sized(plane, info) else _not_a_crop(plane, info)
                    if image.is_volume and index == 0:
                        unlike = "; ".join(filter(None, [_volume_note(image), unlike]))
                    yield plane.source, plane.frame, unlike, centred_window(plane, info.size, info.spacing_mm)
            yield None

    # Reading ahead in a thread pays where the network runs elsewhere (a GPU); on the CPU the network
    # already uses every core, and a reader thread measured no faster (`spectfsl bench`).
    inputs = windows() if classifier.device.type == "cpu" else prefetched(windows(), depth=2 * batch_size)
    for item in inputs:
        if item is None:
            if pending:
                yield from flush()
            continue
        if isinstance(item, BadInput):
            if pending:
                yield from flush()
            yield {"path": item.path, "error": item.error}
            continue
        source, frame, unlike, window = item
        if unlike is not None and not warned:
            warned = True
            warnings.warn(unlike, SpectfslWarning, stacklevel=2)
        pending.append((source, frame, window))
        if len(pending) >= batch_size:
            yield from flush()
    if pending:
        yield from flush()


def _volume_note(image: SpectImage) -> str:
    return (
        f"{image.source} is a volume: each of its {image.n_frames} slices is classified as a whole (one row per "
        "slice); `spectfsl segment predict` labels its voxels"
    )


#: An input counts as crop-sized when its field differs from the bank's crops by at most this fraction.
CROP_SIZE_TOLERANCE = 0.25


def _field_mm(plane: SpectImage, spacing_mm: float | None) -> tuple[float, float] | None:
    if plane.pixel_spacing_mm is None or spacing_mm is None:
        return None
    return (plane.pixels.shape[0] * plane.pixel_spacing_mm[0], plane.pixels.shape[1] * plane.pixel_spacing_mm[1])


def _crop_sized(plane: SpectImage, info: BankInfo) -> bool:
    """True when `plane` covers about the field of the bank's crops (or either has no known spacing)."""
    field = _field_mm(plane, info.spacing_mm)
    if field is None:
        return max(plane.pixels.shape) <= info.size * (1 + CROP_SIZE_TOLERANCE)
    crop_mm = info.size * info.spacing_mm
    return all(abs(side - crop_mm) <= CROP_SIZE_TOLERANCE * crop_mm for side in field)


def _not_a_crop(plane: SpectImage, info: BankInfo) -> str:
    field = _field_mm(plane, info.spacing_mm)
    size = f"{field[1]:.0f} x {field[0]:.0f} mm" if field else f"{plane.pixels.shape[1]} x {plane.pixels.shape[0]} px"
    crop = f"{info.size * info.spacing_mm:.0f} mm" if info.spacing_mm else f"{info.size} px"
    return (
        f"{plane.label}: is {size}, but the bank classifies crops of {crop} like those it was fitted on "
        f"(`spectfsl prepare` cuts them); each such image is classified as a whole from its central {crop} "
        "window and is likely flagged ood"
    )
