"""Resolve `--weights auto|imagenet|random|PATH` without downloading anything unasked.

`auto` uses ImageNet weights for ResNet-18 when torchvision's cache (`$TORCH_HOME/hub/checkpoints`)
or `SPECTFSL_WEIGHTS` (the file, or a folder holding it) has them, else random initialisation with
a one-line warning (returned in `WeightsChoice.warning` for the caller to print). `imagenet`
downloads only when the file is not found and the network is reachable. PATH is a `.safetensors`
file or a `.pth` state dict (loaded with `weights_only=True`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from spectfsl.core.files.store import sha256_of
from spectfsl.core.networks.registry import backbone_entry
from spectfsl.errors import SpectfslError

IMAGENET_URL = "https://download.pytorch.org/models/{file}"


@dataclass(frozen=True)
class WeightsChoice:
    """Where a backbone's initial weights come from: `random`, `imagenet` or `file`, the file if any, and
    a warning for the user when the choice fell back (for example to random weights)."""

    source: str
    path: Path | None = None
    sha256: str | None = None
    warning: str | None = None

    def describe(self) -> str:
        return self.source if self.path is None else f"{self.source}:{self.path.name}"


def imagenet_candidates(backbone: str) -> list[Path]:
    """Where ImageNet weights for `backbone` are looked for, in order."""
    import torch

    file_name = backbone_entry(backbone).imagenet_file
    if file_name is None:
        return []
    candidates = []
    configured = os.environ.get("SPECTFSL_WEIGHTS")
    if configured:
        path = Path(configured)
        candidates.append(path / file_name if path.is_dir() else path)
    candidates.append(Path(torch.hub.get_dir()) / "checkpoints" / file_name)
    return candidates


def resolve_weights(spec: str, backbone: str = "resnet18") -> WeightsChoice:
    """Decide which weights `--weights spec` means for `backbone`, downloading only for an explicit `imagenet`."""
    if spec == "random":
        return WeightsChoice("random")
    if spec in ("auto", "imagenet") and backbone_entry(backbone).imagenet_file is None:
        if spec == "imagenet":
            raise SpectfslError(
                f"{{weights}} imagenet: no ImageNet weights exist for backbone '{backbone}'; give a model file",
                settings="weights",
            )
        return WeightsChoice("random")
    if spec in ("auto", "imagenet"):
        found = next((p for p in imagenet_candidates(backbone) if p.is_file()), None)
        if found is not None:
            return WeightsChoice("imagenet", found, sha256_of(found))
        if spec == "auto":
            return WeightsChoice(
                "random",
                warning=f"no ImageNet weights for {backbone} found (set SPECTFSL_WEIGHTS, "
                "or ask for imagenet weights to download them); "
                "using random initialisation",
            )
        return _download_imagenet(backbone)
    path = Path(spec)
    if not path.is_file():
        raise SpectfslError(
            f"{{weights}} {spec}: no such file (expected auto, imagenet, random or a .safetensors/.pth file)",
            settings="weights",
        )
    return WeightsChoice("file", path, sha256_of(path))


def _download_imagenet(backbone: str) -> WeightsChoice:
    import torch

    file_name = backbone_entry(backbone).imagenet_file
    target = imagenet_candidates(backbone)[-1]
    try:
        # stdout carries only the command's results: whatever the download prints goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            torch.hub.load_state_dict_from_url(IMAGENET_URL.format(file=file_name), progress=False, check_hash=True)
    except Exception as error:  # offline machines fail in many ways (DNS, proxy, SSL)
        raise SpectfslError(
            f"{{weights}} imagenet: cannot download {file_name} ({type(error).__name__}); "
            "on an offline machine copy it to "
            f"{target} or point SPECTFSL_WEIGHTS at it",
            settings="weights",
        ) from None
    return WeightsChoice("imagenet", target, sha256_of(target))


def load_state_dict(path: Path) -> dict:
    """A state dict from `.safetensors` or `.pth` (never unpickling arbitrary objects)."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch and safetensors raise many types for a bad file
        raise SpectfslError(f"{path}: not a loadable state dict ({type(error).__name__}: {error})") from None
