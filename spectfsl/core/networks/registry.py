"""Backbones by name, like timm's registry: a new backbone is one entry here, not a new code path."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from spectfsl.errors import SpectfslError


@dataclass(frozen=True)
class BackboneEntry:
    """Where a backbone's class lives ("module:Class"), torchvision's ImageNet weights file if any, and
    what kind of file `--weights PATH` names for it (`state-dict` or a `prnet-model` file)."""

    constructor: str
    imagenet_file: str | None = None
    weights_file: str = "state-dict"


#: Modules import torch, so a class loads only when a model is created.
BACKBONES: dict[str, BackboneEntry] = {
    "resnet18": BackboneEntry("spectfsl.core.networks.resnet:ResNetEmbedding", imagenet_file="resnet18-f37072fd.pth"),
    "prnet": BackboneEntry("spectfsl.core.networks.prnet:PRNetEmbedding", weights_file="prnet-model"),
}


def backbone_entry(name: str) -> BackboneEntry:
    """The registry entry of `name`; an unknown name is a user error (exit 2)."""
    if name not in BACKBONES:
        raise SpectfslError(f"unknown backbone '{name}' (known: {', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]


def backbone_class(name: str) -> type:
    """The class registered as `name`."""
    module, _, class_name = backbone_entry(name).constructor.partition(":")
    return getattr(import_module(module), class_name)
