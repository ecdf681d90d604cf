"""A dense anatomical embedding network: every voxel (or pixel) of an image -> a global and a local
unit vector, so that the same anatomy in two scans has alike vectors (after Yan et al. 2022, SAM).

A small U-Net. The global embedding comes from the coarsest level (1/8 resolution, a field of view
of most of the chest), upsampled: it tells the heart from the liver and the apex from the base. The
local embedding comes from the full-resolution decoder: it places a point within a voxel or two.
Both are L2-normalised along the channel axis, so that a dot product is a cosine similarity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectfsl.core.networks.prnet import LAYERS, conv_block
from spectfsl.errors import SpectfslError

#: Levels below full resolution: image sides are padded to a multiple of 2**LEVELS.
LEVELS = 3
MAX_CHANNELS, MAX_FEATURES = 128, 256


class AnatomyEmbedding(nn.Module):
    """(B, 1, *spatial) normalised images -> ((B, F, *spatial) global, (B, F, *spatial) local) unit
    vectors per voxel; `dims` 2 or 3, any spatial size (padded internally to a multiple of 8, 16 at least)."""

    def __init__(self, dims: int = 3, channels: int = 8, features: int = 32) -> None:
        super().__init__()
        for name, value in (("dims", dims), ("channels", channels), ("features", features)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpectfslError(f"embedding {name} must be an integer (got {value!r})")
        if dims not in LAYERS:
            raise SpectfslError(f"embedding dims must be 2 or 3 (got {dims})")
        if not (1 <= channels <= MAX_CHANNELS and 2 <= features <= MAX_FEATURES):
            raise SpectfslError(
                f"embedding channels must be 1-{MAX_CHANNELS} and features 2-{MAX_FEATURES} "
                f"(got {channels}, {features})"
            )
        self.dims, self.channels, self.features = dims, channels, features
        conv, _, max_pool, transposed_conv = LAYERS[dims]
        widths = [channels * 2**level for level in range(LEVELS)] + [channels * 2 ** (LEVELS - 1)]
        self.encoders = nn.ModuleList(
            conv_block(1 if level == 0 else widths[level - 1], widths[level], dims) for level in range(LEVELS + 1)
        )
        self.pool = max_pool(2)
        self.global_head = nn.Sequential(
            conv(widths[-1], widths[-1], 1), nn.ReLU(inplace=True), conv(widths[-1], features, 1)
        )
        self.upsamplers = nn.ModuleList(
            transposed_conv(widths[level + 1], widths[level], 2, stride=2) for level in reversed(range(LEVELS))
        )
        self.decoders = nn.ModuleList(
            conv_block(2 * widths[level], widths[level], dims) for level in reversed(range(LEVELS))
        )
        self.local_head = conv(widths[0], features, 1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spatial = images.shape[2:]
        multiple = 2**LEVELS
        padding = []
        for side in reversed(spatial):  # F.pad takes the last axis first; the coarsest level keeps 2 voxels
            padding += [0, max(2 * multiple, side + -side % multiple) - side]
        features = F.pad(images, padding)
        skips = []
        for level, encoder in enumerate(self.encoders):
            features = encoder(features if level == 0 else self.pool(features))
            skips.append(features)
        mode = "trilinear" if self.dims == 3 else "bilinear"
        coarse = self.global_head(skips[-1])
        global_map = F.interpolate(coarse, size=skips[0].shape[2:], mode=mode, align_corners=False)
        for upsample, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips[:-1])):
            features = decoder(torch.cat([upsample(features), skip], dim=1))
        local_map = self.local_head(features)
        crop = (slice(None), slice(None), *(slice(0, side) for side in spatial))
        return F.normalize(global_map[crop], dim=1), F.normalize(local_map[crop], dim=1)
