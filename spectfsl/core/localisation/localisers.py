"""Opening a localiser by its model file: a PRNet cascade or a dense anatomical embedding, each
file saying which it is; `builtin` is the built-in localiser of the inputs' dimensionality."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from spectfsl.core.files.store import file_kind
from spectfsl.core.localisation.anatomy_file import ANATOMY_FORMAT, load_anatomy
from spectfsl.core.localisation.embedding import AnatomyLocaliser
from spectfsl.core.localisation.locate import Localiser, PRNetLocaliser
from spectfsl.core.localisation.model_file import load_cascade
from spectfsl.errors import SpectfslError

BUILTIN = "builtin"


def open_localiser(
    model: str | os.PathLike,
    refine: Sequence[str | os.PathLike] = (),
    device: torch.device | str = "cpu",
    dims: int = 2,
) -> Localiser:
    """The localiser of a model file (an anatomy embedding, or a PRNet with the fine models of its
    cascade in `refine`); `builtin`: the built-in anatomy model of `dims`-D inputs where one ships,
    else the built-in PRNet."""
    from spectfsl.core.builtin.catalogue import has_builtin, model_path

    if str(model) == BUILTIN:
        path = model_path(BUILTIN, "anatomy", dims) if has_builtin("anatomy", dims) and not refine else None
    else:
        path = model if file_kind(model) == ANATOMY_FORMAT.partition("/")[0] else None
    if path is None:
        return PRNetLocaliser(load_cascade([model, *refine], device, dims))
    if refine:
        raise SpectfslError(f"{model}: an anatomy-embedding model is not refined by other models (a PRNet cascade is)")
    return AnatomyLocaliser(*load_anatomy(path, device))
