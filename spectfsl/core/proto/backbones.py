"""The one backbone factory: any registered backbone, randomly initialised or with its weights loaded
(a state dict, or the encoder of a PRNet model file).

>>> from spectfsl.core.proto.backbones import create_model
>>> from spectfsl.core.networks.weights import resolve_weights
>>> backbone = create_model("resnet18", resolve_weights("random"))
>>> type(backbone).__name__
'ResNetEmbedding'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spectfsl.core.networks.registry import backbone_class, backbone_entry
from spectfsl.core.networks.weights import WeightsChoice, load_state_dict
from spectfsl.core.prnet.model_file import load_prnet
from spectfsl.errors import SpectfslError


def create_model(name: str, weights: WeightsChoice | None = None, **options: Any):
    """The registered backbone `name` (an `nn.Module`): with `weights` from their file, else randomly
    initialised from torch's current seed with architecture `options`."""
    cls = backbone_class(name)
    if weights is None or weights.path is None:
        return cls(**options)
    file_options, state = _read_weights(name, weights.path)
    model = cls(**file_options)
    try:
        model.load_pretrained(state)
    except (ValueError, RuntimeError) as error:
        raise SpectfslError(f"{weights.path}: weights do not fit {name} ({str(error)[:200]})") from None
    return model


def _read_weights(name: str, path: Path) -> tuple[dict[str, Any], dict]:
    """(architecture options, state dict) from a weights file of the kind the registry names."""
    if backbone_entry(name).weights_file == "prnet-model":
        trained, info = load_prnet(path)
        options = {"patch": info.patch, "channels": info.channels, "hidden": info.hidden}
        return options | {"head_activation": info.head_activation}, trained.state_dict()
    return {}, load_state_dict(path)
