"""Opening a localiser by its model file: a PRNet cascade or a dense anatomical embedding, each
file saying which it is. `builtin` is the default built-in localiser of the inputs'
dimensionality (the built-in PRNet: on volumes no model saw, it measured ahead of the built-in
anatomy model; docs: Accuracy, Landmarks); `builtin:NAME` is a built-in model by name
(`builtin:anatomy-3d`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from spectfsl.core.files.catalogue import named, verified_path
from spectfsl.core.files.store import file_kind
from spectfsl.core.prnet.anatomy_file import ANATOMY_FORMAT, load_anatomy
from spectfsl.core.prnet.embedding import AnatomyLocaliser
from spectfsl.core.prnet.locate import Localiser, PRNetLocaliser
from spectfsl.core.prnet.model_file import load_cascade
from spectfsl.errors import SpectfslError

NAMED = "builtin:"


def open_localiser(
    model: str | os.PathLike,
    refine: Sequence[str | os.PathLike] = (),
    device: torch.device | str = "cpu",
    dims: int = 2,
) -> Localiser:
    """The localiser of a model file (an anatomy embedding, or a PRNet with the fine models of its
    cascade in `refine`); `builtin`: the built-in PRNet of `dims`-D inputs; `builtin:NAME`: the
    built-in model of that name (its SHA-256 checked)."""
    if str(model).startswith(NAMED):
        model = verified_path(named(str(model).removeprefix(NAMED)))
    if file_kind(model) != ANATOMY_FORMAT.partition("/")[0]:
        return PRNetLocaliser(load_cascade([model, *refine], device, dims))
    if refine:
        raise SpectfslError(f"{model}: an anatomy-embedding model is not refined by other models (a PRNet cascade is)")
    return AnatomyLocaliser(*load_anatomy(model, device))
