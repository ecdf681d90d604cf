"""Anatomy-embedding model files (`spectfsl.anatomy/1` safetensors): metadata, saving and loading."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spectfsl.core.files.store import load_checked_state, load_with_info, save_tensors
from spectfsl.core.networks.anatomy import AnatomyEmbedding
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.errors import SpectfslError

ANATOMY_FORMAT = "spectfsl.anatomy/1"
#: The field (mm) of the patch a located point's `score` compares: PRNet's default (32 px at 4 mm, 16 at 8 mm).
SCORE_FIELD_MM = 128.0
#: The coarsest grid a model file may ask for (mm): beyond it a scan is a handful of voxels.
MAX_PIXEL_MM = 32.0


@dataclass
class AnatomyInfo:
    """A model file's metadata: architecture, grid (`pixel_mm`), how its answer is refined, training record.

    `template_px`: side (model pixels) of the reference patch whose normalised cross-correlation is
    added to the embedding's similarity in the refinement; `similarity_weight`: the weight of the
    embedding's similarity (global + local, -2 to 2) in that sum.
    """

    dims: int
    channels: int
    features: int
    pixel_mm: float
    template_px: int
    similarity_weight: float
    normalisation: str = NORMALISATION
    training: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, str] | None = None

    @property
    def patch(self) -> int:
        """The side (model pixels) of the patch `match_score` compares and the QC figure boxes: a
        SCORE_FIELD_MM field, as PRNet's default patch, so that a score means the same for both."""
        return max(3, round(SCORE_FIELD_MM / self.pixel_mm))


def save_anatomy(path: str | os.PathLike, model: AnatomyEmbedding, info: AnatomyInfo) -> None:
    """Write the model and its metadata as safetensors (atomic)."""
    save_tensors(path, model.state_dict(), ANATOMY_FORMAT, asdict(info))


def load_anatomy(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[AnatomyEmbedding, AnatomyInfo]:
    """Read a model file; refuses other formats and inconsistent contents (exit 2)."""
    path = Path(path)
    tensors, info, _ = load_with_info(path, ANATOMY_FORMAT, AnatomyInfo)
    if info.normalisation != NORMALISATION:
        raise SpectfslError(f"{path}: incompatible model: unsupported normalisation '{info.normalisation}'")
    if not (0 < info.pixel_mm <= MAX_PIXEL_MM and 3 <= info.template_px <= 64 and 0 <= info.similarity_weight <= 100):
        raise SpectfslError(f"{path}: incompatible model: pixel size, template or similarity weight out of range")
    try:
        model = AnatomyEmbedding(info.dims, info.channels, info.features)
    except SpectfslError as error:
        raise SpectfslError(f"{path}: incompatible model: {error}") from None
    load_checked_state(model, tensors, path, "model")
    return model.to(device).eval(), info
