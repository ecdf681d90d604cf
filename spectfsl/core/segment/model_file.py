"""Segmentation model files (`spectfsl.segment/1` safetensors): the network, its prototypes (prototype
method), the classes, the support scans' fingerprints and the tuned threshold baseline."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spectfsl.core.files import catalogue
from spectfsl.core.files.store import load_checked_state, load_with_info, save_tensors
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.core.segment.network import SegNet
from spectfsl.core.segment.settings import METHODS
from spectfsl.core.segment.support import SegmentClasses
from spectfsl.errors import SpectfslError

SEGMENT_FORMAT = "spectfsl.segment/1"
PROTOTYPES = "prototypes"


@dataclass
class SegmentInfo:
    """A model file's metadata.

    `support_sha256`: fingerprints of the voxels of every scan the model learned from (its support
    scans, and its parent's), so that evaluation can refuse them;
    `support_spacing_mm`: their voxel size (a scan of another size is labelled with a warning);
    `threshold_fraction`: the intensity-threshold baseline tuned on the support scans;
    `class_pieces`: per foreground class, the most connected pieces it has in a support scan (labels
    are cut down to that many with `--drop-stray`, see `pieces`; None in files from before it was
    recorded: no clean-up);
    `parent`: the model training started from (`{"name", "sha256"}`: a built-in model's name or a
    file's, and its SHA-256), None when it started from random weights;
    `voxel_range_mm`: the voxel sizes a model trained on many scans was made for (a scan outside it
    is labelled with a warning); None for a few-shot model, which compares with `support_spacing_mm`;
    `support_profiles`: what each support scan and its labels are like (`plausibility.scan_profile`),
    against which `segment predict` flags unlike scans and maps; None in files from before it was
    recorded and in the built-in models.
    """

    method: str
    dims: int
    channels: int
    embedding: int
    class_ids: list[int]
    class_names: list[str]
    support_sha256: list[str]
    support_spacing_mm: list[float] | None
    threshold_fraction: float
    normalisation: str = NORMALISATION
    class_pieces: list[int] | None = None
    parent: dict[str, str] | None = None
    voxel_range_mm: list[float] | None = None
    support_profiles: list[dict[str, Any]] | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> SegmentClasses:
        return SegmentClasses(tuple(self.class_ids), tuple(self.class_names))


@dataclass(frozen=True)
class Segmenter:
    """A loaded model: network (eval mode), prototypes (None for fine-tuning), metadata."""

    network: SegNet
    prototypes: torch.Tensor | None
    info: SegmentInfo


def save_segmenter(path: str | os.PathLike, segmenter: Segmenter) -> None:
    """Write the model as `spectfsl.segment/1` safetensors (atomic)."""
    tensors = dict(segmenter.network.state_dict())
    if segmenter.prototypes is not None:
        tensors[PROTOTYPES] = segmenter.prototypes
    info = asdict(segmenter.info)
    if info["support_profiles"] is None:  # unset, it is left out: a built-in file's bytes stay its recipe's
        del info["support_profiles"]
    save_tensors(path, tensors, SEGMENT_FORMAT, info)


def load_segmenter(path: str | os.PathLike, device: torch.device | str = "cpu") -> Segmenter:
    """Read a model file; refuses other formats and inconsistent contents (exit 2)."""
    path = Path(path)
    tensors, info, _ = load_with_info(path, SEGMENT_FORMAT, SegmentInfo)
    try:
        classes = info.classes
    except SpectfslError as error:
        raise SpectfslError(f"{path}: incompatible model: {error}") from None
    if info.method not in METHODS or info.normalisation != NORMALISATION:
        raise SpectfslError(f"{path}: incompatible model: method '{info.method}', normalisation '{info.normalisation}'")
    pieces = info.class_pieces
    if pieces is not None and (len(pieces) != len(classes.foreground) or min(pieces, default=1) < 0):
        raise SpectfslError(f"{path}: incompatible model: class_pieces does not give one count per class")
    prototypes = tensors.pop(PROTOTYPES, None)
    outputs = len(classes.ids) if info.method == "finetune" else info.embedding
    if (prototypes is None) != (info.method == "finetune") or (
        prototypes is not None and tuple(prototypes.shape) != (len(classes.ids), info.embedding)
    ):
        raise SpectfslError(f"{path}: incompatible model: prototypes do not match the method and classes")
    try:
        network = SegNet(outputs, info.channels, info.dims)
    except SpectfslError as error:
        raise SpectfslError(f"{path}: incompatible model: {error}") from None
    load_checked_state(network, tensors, path, "model")
    device = torch.device(device)
    return Segmenter(network.to(device).eval(), None if prototypes is None else prototypes.to(device), info)


def open_segmenter(model: str | os.PathLike, device: torch.device | str = "cpu", dims: int = 3) -> Segmenter:
    """A model file, or for `builtin` the built-in model of `dims`-D inputs (its SHA-256 checked
    against its card)."""
    return load_segmenter(catalogue.model_path(model, "segment", dims), device)


def parent_of(model: str | os.PathLike, dims: int = 3) -> dict[str, str]:
    """How a model trained from `model` (a file, or `builtin`) names its parent: name and SHA-256."""
    return catalogue.parent_of(model, "segment", dims)
