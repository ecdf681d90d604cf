"""A small U-Net for dense labelling of 2D images or 3D volumes.

Two poolings, conv + InstanceNorm + ReLU blocks (PRNet's), skip connections. Its last layer gives
either class scores (fine-tuning) or per-voxel embeddings (prototypes). Any input size works: the
input is padded to a multiple of 4 and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectfsl.core.networks.prnet import LAYERS, conv_block
from spectfsl.errors import SpectfslError

POOLINGS = 2
MAX_CHANNELS, MAX_OUTPUTS = 128, 64


class SegNet(nn.Module):
    """(B, 1, *spatial) normalised intensities -> (B, outputs, *spatial) class scores or embeddings."""

    def __init__(self, outputs: int, channels: int = 16, dims: int = 3) -> None:
        super().__init__()
        if dims not in LAYERS:
            raise SpectfslError(f"segmentation network dims must be 2 or 3 (got {dims})")
        if not (1 <= channels <= MAX_CHANNELS and 2 <= outputs <= MAX_OUTPUTS):
            raise SpectfslError(f"segmentation network: channels 1-{MAX_CHANNELS}, outputs 2-{MAX_OUTPUTS}")
        conv, _, pool, up = LAYERS[dims]
        self.dims = dims
        widths = [channels * 2**level for level in range(POOLINGS + 1)]
        self.down = nn.ModuleList(
            conv_block(1 if level == 0 else widths[level - 1], widths[level], dims) for level in range(POOLINGS + 1)
        )
        self.pool = pool(2)
        self.up = nn.ModuleList(up(widths[level + 1], widths[level], 2, stride=2) for level in range(POOLINGS))
        self.merge = nn.ModuleList(conv_block(2 * widths[level], widths[level], dims) for level in range(POOLINGS))
        self.head = conv(widths[0], outputs, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        spatial = images.shape[2:]
        multiple = 2**POOLINGS
        padding: list[int] = []
        for size in reversed(spatial):
            padding += [0, -size % multiple]
        x = F.pad(images, padding)
        skips = []
        for level, block in enumerate(self.down):
            x = block(x)
            if level < POOLINGS:
                skips.append(x)
                x = self.pool(x)
        for level in reversed(range(POOLINGS)):
            x = self.merge[level](torch.cat([self.up[level](x), skips[level]], dim=1))
        out = self.head(x)
        return out[(...,) + tuple(slice(0, size) for size in spatial)]
