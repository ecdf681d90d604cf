"""Prototype banks: a fitted PrototypicalClassifier saved as a self-describing safetensors file.

Tensors: `prototypes` (C, D), `counts` (C,), `centre` (D,) for cl2n, and `backbone.<name>` for
the backbone's weights when they cannot be found again by name (fine-tuned or random). Metadata:
format `spectfsl.bank/1`, classes, backbone, weights source and sha256, whether fine-tuned, input
size, crop size and pixel spacing, intensity normalisation, distance, feature transform,
temperature, OOD threshold and the spectfsl version. Loading checks all of it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spectfsl.core.files.store import load_checked_state, load_with_info, save_tensors, sha256_of
from spectfsl.core.networks.registry import BACKBONES
from spectfsl.core.networks.weights import WeightsChoice, imagenet_candidates
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.ood import MEASURES, REQUIRED
from spectfsl.core.proto.prototypes import FEATURE_TRANSFORMS, PrototypicalClassifier
from spectfsl.errors import SpectfslError

BANK_FORMAT = "spectfsl.bank/1"
DISTANCE = "squared-euclidean"


@dataclass
class BankInfo:
    """What a bank needs besides its tensors: how images were prepared and how the backbone is rebuilt."""

    classes: list[str]
    backbone: str
    weights: str
    weights_sha256: str | None
    fine_tuned: bool
    input_size: int
    size: int
    spacing_mm: float | None
    transform: str
    temperature: float
    #: inf (no threshold) is stored as null and read back as inf
    ood_threshold: float | None
    normalisation: str = NORMALISATION
    distance: str = DISTANCE
    backbone_options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    #: The accepted range of each crop measure (see `ood.CropProfile`); None in banks written before
    #: it existed (then the distance to the nearest prototype flags OOD).
    crop_profile: dict[str, list[float]] | None = None
    #: SHA-256 of each image the bank was fitted on (fine-tuning, support, crop profile: `image_sha256`),
    #: so that `proto evaluate` can refuse them; empty in banks written before it existed.
    fitted_on_sha256: list[str] = field(default_factory=list)


def save_bank(
    path: str | os.PathLike, classifier: PrototypicalClassifier, info: BankInfo, weights: WeightsChoice
) -> None:
    """Write `classifier` and `info` to `path` (atomic)."""
    tensors = dict(classifier.state_tensors())
    if info.fine_tuned or weights.path is None:
        tensors.update({f"backbone.{k}": v for k, v in classifier.backbone.state_dict().items()})
    metadata = asdict(info)
    metadata["ood_threshold"] = info.ood_threshold if info.ood_threshold != float("inf") else None
    metadata["weights_path"] = str(weights.path.resolve()) if weights.path is not None else None
    save_tensors(path, tensors, BANK_FORMAT, metadata)


def load_bank(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[PrototypicalClassifier, BankInfo]:
    """Read a bank, rebuild its classifier on `device`, and refuse anything inconsistent (exit 2)."""
    path = Path(path)
    tensors, info, metadata = load_with_info(path, BANK_FORMAT, BankInfo)
    if info.ood_threshold is None:
        info.ood_threshold = float("inf")
    _check(path, info, tensors)
    backbone = _backbone(path, info, tensors, metadata.get("weights_path"))
    classifier = PrototypicalClassifier(backbone, info.classes, info.transform, device, info.input_size)
    return classifier.load_state(tensors, info.temperature, info.ood_threshold), info


def _check(path: Path, info: BankInfo, tensors: dict[str, torch.Tensor]) -> None:
    def refuse(reason: str) -> None:
        raise SpectfslError(f"{path}: incompatible bank: {reason}")

    if not info.classes or len(set(info.classes)) != len(info.classes):
        refuse("class names missing or repeated")
    prototypes = tensors.get("prototypes")
    if prototypes is None or prototypes.ndim != 2 or prototypes.shape[0] != len(info.classes):
        refuse(f"prototypes do not match the {len(info.classes)} classes")
    if tensors.get("counts") is None or tensors["counts"].shape != (len(info.classes),):
        refuse("per-class counts missing")
    if info.backbone not in BACKBONES:
        refuse(f"unknown backbone '{info.backbone}' (known: {', '.join(sorted(BACKBONES))})")
    if info.transform not in FEATURE_TRANSFORMS:
        refuse(f"unknown feature transform '{info.transform}'")
    if info.transform == "cl2n" and "centre" not in tensors:
        refuse("cl2n bank without its centring vector")
    if info.distance != DISTANCE:
        refuse(f"unsupported distance '{info.distance}'")
    if info.normalisation != NORMALISATION:
        refuse(f"unsupported intensity normalisation '{info.normalisation}'")
    if not (8 <= info.input_size <= MAX_INPUT_SIZE and 8 <= info.size <= MAX_INPUT_SIZE):
        refuse(f"input and crop sizes must be 8-{MAX_INPUT_SIZE} pixels")
    if not all(name.strip() for name in info.classes):
        refuse("empty class name")
    if prototypes.dtype != torch.float32:
        refuse(f"prototypes must be float32, got {prototypes.dtype}")
    centre = tensors.get("centre")
    if centre is not None and (centre.shape != (prototypes.shape[1],) or centre.dtype != torch.float32):
        refuse(f"centring vector of shape {tuple(centre.shape)} does not match prototypes of {prototypes.shape[1]}")
    if info.temperature <= 0 or info.ood_threshold < 0 or (info.spacing_mm is not None and info.spacing_mm <= 0):
        refuse("temperature and pixel spacing must be positive, the OOD threshold not negative")
    if info.crop_profile is not None and not _valid_profile(info.crop_profile):
        refuse(f"crop profile must give [low, high] for each of {', '.join(REQUIRED)}")


#: The largest crop or network input a bank may name, in pixels.
MAX_INPUT_SIZE = 1024


def _valid_profile(profile: dict) -> bool:
    ranges = [profile.get(name) for name in REQUIRED] + [profile[name] for name in MEASURES if name in profile]
    return all(isinstance(r, list) and len(r) == 2 and all(isinstance(v, (int, float)) for v in r) for r in ranges)


def _backbone(path: Path, info: BankInfo, tensors: dict[str, torch.Tensor], weights_path: str | None):
    state = {key.removeprefix("backbone."): value for key, value in tensors.items() if key.startswith("backbone.")}
    if state:
        try:
            backbone = create_model(info.backbone, **info.backbone_options)
        except (TypeError, SpectfslError) as error:
            raise SpectfslError(
                f"{path}: incompatible bank: backbone options do not fit {info.backbone} ({str(error)[:200]})"
            ) from None
        load_checked_state(backbone, state, path, f"bank ({info.backbone} backbone)")
        return backbone
    return create_model(info.backbone, _find_weights(path, info, weights_path))


def _find_weights(path: Path, info: BankInfo, weights_path: str | None) -> WeightsChoice:
    """The weights file the bank names, wherever it is now, verified by its sha256."""
    candidates = [Path(weights_path)] if weights_path else []
    if info.weights.startswith("imagenet"):
        candidates += imagenet_candidates(info.backbone)
    for candidate in candidates:
        if candidate.is_file() and sha256_of(candidate) == info.weights_sha256:
            return WeightsChoice(info.weights.split(":")[0], candidate, info.weights_sha256)
    raise SpectfslError(
        f"{path}: the bank needs backbone weights '{info.weights}' (sha256 {str(info.weights_sha256)[:12]}...), "
        "which are not found here (put them in the torchvision cache or set SPECTFSL_WEIGHTS)"
    )
