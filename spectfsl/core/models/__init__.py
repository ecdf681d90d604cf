"""Models by name: a small registry maps a name to a constructor, so a new backbone is one entry.

>>> from spectfsl.core.models import create_model
>>> backbone = create_model("resnet18")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: name -> "module:constructor"; modules import torch, so they load only when a model is created.
MODELS: dict[str, str] = {
    "resnet18": "spectfsl.core.models.resnet:ResNetEmbedding",
}


def create_model(name: str, **options: Any):
    """Build the registered model `name` (an `nn.Module`) with `options`."""
    from spectfsl.errors import SpectfslError

    if name not in MODELS:
        raise SpectfslError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    module, _, constructor = MODELS[name].partition(":")
    return getattr(import_module(module), constructor)(**options)
