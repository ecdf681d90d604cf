"""Models by name: a small registry maps a name to a class, so a new backbone is one entry.

A registered embedding class takes its architecture options as keyword arguments, reports them as
`options` (saved in banks), and builds itself from a weights file with `from_file(path)`.

>>> from spectfsl.core.models import create_model
>>> backbone = create_model("resnet18")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: name -> "module:constructor"; modules import torch, so they load only when a model is created.
MODELS: dict[str, str] = {
    "resnet18": "spectfsl.core.models.resnet:ResNetEmbedding",
    "prnet": "spectfsl.core.models.prnet:PRNetEmbedding",
}


def model_class(name: str) -> type:
    """The class registered as `name`."""
    from spectfsl.errors import SpectfslError

    if name not in MODELS:
        raise SpectfslError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    module, _, class_name = MODELS[name].partition(":")
    return getattr(import_module(module), class_name)


def create_model(name: str, **options: Any):
    """Build the registered model `name` (an `nn.Module`) with `options`, randomly initialised."""
    return model_class(name)(**options)
