"""PRNet model files (`spectfsl.prnet/1` and `/2` safetensors): metadata, saving, loading and checks.

Version 2 marks a model whose position head is not ReLU (`head_activation`): a spectfsl from before
that field would read such a file as ReLU and compute something else, so it must refuse it. A ReLU
model is still written as version 1, which every spectfsl reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spectfsl.core.files import catalogue
from spectfsl.core.files.store import load_checked_state, load_with_info, save_tensors
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.grid import BODY_THRESHOLD
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.errors import SpectfslError

PRNET_FORMAT = "spectfsl.prnet/2"  # the newest version read; versions 1 and 2 are read


@dataclass
class PRNetInfo:
    """A model file's metadata: architecture, grid, offset scale, normalisation, training record."""

    patch: int
    channels: int
    hidden: int
    pixel_mm: float
    offset_scale_mm: float
    reconstruction_weight: float
    body_threshold: float = BODY_THRESHOLD
    normalisation: str = NORMALISATION
    training: dict[str, Any] = field(default_factory=dict)
    dims: int = 2  # 2: slices and x,y points; 3: volumes and x,y,z points
    head_activation: str = "relu"  # files written before the option have a ReLU head
    parent: dict[str, str] | None = None  # the model training started from: {"name", "sha256"}


def save_prnet(path: str | os.PathLike, model: PRNet, info: PRNetInfo) -> None:
    """Write the model and its metadata as safetensors (atomic): `spectfsl.prnet/1` for a ReLU head,
    `/2` otherwise."""
    version = 1 if info.head_activation == "relu" else 2
    save_tensors(path, model.state_dict(), f"spectfsl.prnet/{version}", asdict(info))


def load_prnet(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[PRNet, PRNetInfo]:
    """Read a model file; refuses other formats and inconsistent contents (exit 2)."""
    path = Path(path)
    tensors, info, metadata = load_with_info(path, PRNET_FORMAT, PRNetInfo)
    if metadata["format"] == "spectfsl.prnet/1" and info.head_activation != "relu":
        head = info.head_activation
        raise SpectfslError(f"{path}: corrupt spectfsl.prnet/1 metadata: a '{head}' head needs version 2")
    if info.normalisation != NORMALISATION:
        raise SpectfslError(f"{path}: incompatible model: unsupported normalisation '{info.normalisation}'")
    if info.pixel_mm <= 0 or info.offset_scale_mm <= 0:
        raise SpectfslError(f"{path}: incompatible model: pixel size and offset scale must be positive")
    if info.reconstruction_weight < 0 or not 0 <= info.body_threshold < 1:
        raise SpectfslError(f"{path}: incompatible model: reconstruction weight or body threshold out of range")
    try:
        model = PRNet(info.patch, info.channels, info.hidden, info.dims, info.head_activation)
    except SpectfslError as error:
        raise SpectfslError(f"{path}: incompatible model: {error}") from None
    load_checked_state(model, tensors, path, "model")
    return model.to(device).eval(), info


Stage = tuple[PRNet, PRNetInfo]


def open_prnet(model: str | os.PathLike, device: torch.device | str = "cpu", dims: int = 2) -> Stage:
    """A model file, or for `builtin` the built-in PRNet of `dims`-D inputs (its SHA-256 checked
    against its card)."""
    return load_prnet(catalogue.model_path(model, "prnet", dims), device)


def parent_of(model: str | os.PathLike, dims: int = 2) -> dict[str, str]:
    """How a model trained from `model` (a file, or `builtin`) names its parent: name and SHA-256."""
    return catalogue.parent_of(model, "prnet", dims)


def starting_model(init: str | None, dims: int, device: torch.device | str = "cpu") -> tuple[Stage | None, dict | None]:
    """Where `prnet train` starts: (the model and how the new file names it as its parent), or
    (None, None) for random weights; `init` None takes the built-in model of `dims` where one ships."""
    name = catalogue.default_init(init, "prnet", dims)
    if name == "random":
        return None, None
    return open_prnet(name, device, dims), parent_of(name, dims)


def load_cascade(paths: Sequence[str | os.PathLike], device: torch.device | str = "cpu", dims: int = 2) -> list[Stage]:
    """A coarse model and the fine models that refine it, in order; they must share one pixel size.
    `builtin` names the built-in model of `dims`-D inputs."""
    stages = [open_prnet(path, device, dims) for path in paths]
    check_stages(stages)
    return stages


def check_stages(stages: Sequence[Stage]) -> float:
    """The common pixel size of a cascade of models (coarse first); refuses a mix of grids."""
    if len({info.dims for _, info in stages}) != 1:
        raise SpectfslError("the models of a cascade must all be 2D or all be 3D")
    sizes = {info.pixel_mm for _, info in stages}
    if len(sizes) != 1:
        raise SpectfslError(f"the models of a cascade must share one pixel size, got {sorted(sizes)} mm")
    return sizes.pop()


def require_decoder(info: PRNetInfo, path: str | os.PathLike) -> None:
    """Refuse a model whose decoder was not trained (reconstruction weight 0): it cannot reconstruct."""
    if info.reconstruction_weight <= 0:
        raise SpectfslError(
            f"{path}: its decoder was not trained (reconstruction weight 0); train with {{reconstruction_weight}} 1",
            settings="reconstruction_weight",
        )
