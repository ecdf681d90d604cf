"""How a network runs at inference: numeric precision (autocast), torch.compile and channels-last.

The defaults (fp32, not compiled, contiguous) are the plain path; every option changes speed, and
only `precision` changes results (bf16/fp16 round the activations).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from spectfsl.errors import SpectfslError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Acceleration:
    """Numeric precision (`fp32`, `bf16`, `fp16`), torch.compile, and channels-last memory format."""

    precision: str = "fp32"
    compile: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise SpectfslError(
                f"{{precision}} must be one of {', '.join(PRECISIONS)}, got '{self.precision}'", settings="precision"
            )

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def laid_out(self, batch: torch.Tensor) -> torch.Tensor:
        """`batch` in the memory format asked for: channels-last for 4D, its 5D form for 3D networks."""
        if not self.channels_last:
            return batch
        return batch.to(memory_format=torch.channels_last_3d if batch.ndim == 5 else torch.channels_last)

    def prepare(self, module: nn.Module, method: str = "forward") -> None:
        """Make `module.<method>` (its forward pass, or e.g. PRNet's `position`) run this way: weights in
        the memory format asked for, the method compiled when asked, and run under autocast with
        float32 results when a lower precision is asked. The module's class, state dict and every
        other method are unchanged."""
        volumetric = any(parameter.ndim == 5 for parameter in module.parameters())
        if self.channels_last and volumetric:
            module.to(memory_format=torch.channels_last_3d)  # 3D convolutions: the 5D layout
        else:
            module.to(memory_format=self.memory_format)
        if not self.compile and PRECISIONS[self.precision] is None:
            return  # the method itself, untouched
        call = getattr(module, method)
        if self.compile:
            call = torch.compile(call)
        if PRECISIONS[self.precision] is not None:
            call = self._autocast_call(module, call)
        setattr(module, method, call)

    def _autocast_call(self, module: nn.Module, call):
        def autocast_call(*args, **kwargs):
            with self.autocast(next(module.parameters()).device):
                result = call(*args, **kwargs)
            if isinstance(result, tuple):
                return tuple(_as_float32(item) for item in result)
            return _as_float32(result)

        return autocast_call

    @contextlib.contextmanager
    def autocast(self, device: torch.device) -> Iterator[None]:
        """Autocast to the precision asked for on `device` (nothing for fp32)."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            yield
            return
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield


def _as_float32(value):
    return value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`batch` on `device` as float32; to CUDA through pinned memory, without blocking the host
    (work queued after it on the same stream waits for the copy)."""
    if device.type != "cuda":
        return batch.to(device, dtype=torch.float32)
    staged = batch.to(dtype=torch.float32).pin_memory()
    return staged.to(device, non_blocking=True)
