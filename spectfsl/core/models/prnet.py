"""PRNet (Propagation-Reconstruction Network), 2D: an encoder-decoder with skip connections.

The encoder (conv + InstanceNorm + ReLU blocks, 4 poolings) feeds a position head, fully connected
layers that map a patch to 2D anatomical coordinates, and a decoder that reconstructs the patch.
Any patch size that is a multiple of 16 works; the head's input size follows from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spectfsl.errors import SpectfslError

POOLINGS = 4
#: Architecture bounds: far above any useful PRNet, low enough that a corrupt file cannot make a
#: model allocate gigabytes before its weights are checked.
MAX_PATCH, MAX_CHANNELS, MAX_HIDDEN = 512, 256, 8192


def _block(in_channels: int, out_channels: int, normalise: bool = True) -> nn.Sequential:
    """Two conv + InstanceNorm + ReLU; without the norm where maps are 1x1 (16-pixel patches' bottleneck)."""

    def norm() -> nn.Module:
        return nn.InstanceNorm2d(out_channels, affine=True) if normalise else nn.Identity()

    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        norm(),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        norm(),
        nn.ReLU(inplace=True),
    )


class PRNet(nn.Module):
    """(B, 1, P, P) normalised patches -> ((B, 2) anatomical coordinates, (B, 1, P, P) reconstruction)."""

    def __init__(self, patch: int = 32, channels: int = 16, hidden: int = 256) -> None:
        super().__init__()
        for name, value in (("patch", patch), ("channels", channels), ("hidden", hidden)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpectfslError(f"PRNet {name} must be an integer (got {value!r})")
        if patch < 16 or patch % 16 or patch > MAX_PATCH:
            raise SpectfslError(f"patch size must be a multiple of 16 up to {MAX_PATCH} (got {patch})")
        if not (1 <= channels <= MAX_CHANNELS and 4 <= hidden <= MAX_HIDDEN):
            raise SpectfslError(
                f"PRNet channels must be 1-{MAX_CHANNELS} and hidden 4-{MAX_HIDDEN} (got {channels}, {hidden})"
            )
        self.patch, self.channels, self.hidden = patch, channels, hidden
        widths = [channels * 2**level for level in range(POOLINGS + 1)]
        bottleneck_side = patch // 2**POOLINGS
        self.encoders = nn.ModuleList(
            _block(1 if i == 0 else widths[i - 1], widths[i], normalise=i < POOLINGS or bottleneck_side > 1)
            for i in range(POOLINGS + 1)
        )
        self.pool = nn.MaxPool2d(2)
        bottleneck = widths[-1] * bottleneck_side**2
        self.position_head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(bottleneck, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden // 4),
            nn.ReLU(inplace=True),
            nn.Linear(hidden // 4, 2),
        )
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(POOLINGS))
        )
        self.decoders = nn.ModuleList(_block(2 * widths[i], widths[i]) for i in reversed(range(POOLINGS)))
        self.reconstruction_head = nn.Conv2d(widths[0], 1, 1)

    @property
    def feature_dim(self) -> int:
        return self.hidden

    def encode(self, patches: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at every level, finest first (the last is the bottleneck)."""
        skips = []
        features = patches
        for level, encoder in enumerate(self.encoders):
            features = encoder(features if level == 0 else self.pool(features))
            skips.append(features)
        return skips

    def position(self, patches: torch.Tensor) -> torch.Tensor:
        """Anatomical coordinates (B, 2) of each patch's centre, unitless (offset scale stored with the model)."""
        return self.position_head(self.encode(patches)[-1])

    def embedding(self, patches: torch.Tensor) -> torch.Tensor:
        """The position head's first hidden layer (B, hidden): a feature vector for classification."""
        return self.position_head[:3](self.encode(patches)[-1])

    def forward(self, patches: torch.Tensor, reconstruct: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        skips = self.encode(patches)
        coordinates = self.position_head(skips[-1])
        if not reconstruct:
            return coordinates, None
        features = skips[-1]
        for upsample, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips[:-1])):
            features = decoder(torch.cat([upsample(features), skip], dim=1))
        return coordinates, self.reconstruction_head(features)


class PRNetEmbedding(nn.Module):
    """A trained PRNet encoder as a classification backbone: (B, 1, H, W) -> (B, hidden) features.

    Images are resized to the PRNet patch; a `prepare` crop (64 px at 2 mm = 128 mm) then matches
    the default PRNet field (32 px at 4 mm = 128 mm) exactly.
    """

    def __init__(self, patch: int = 32, channels: int = 16, hidden: int = 256) -> None:
        super().__init__()
        self.prnet = PRNet(patch, channels, hidden)

    @property
    def options(self) -> dict:
        return {"patch": self.prnet.patch, "channels": self.prnet.channels, "hidden": self.prnet.hidden}

    def load_pretrained(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a trained PRNet's weights (the state dict of a `PRNet`)."""
        self.prnet.load_state_dict(state_dict)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != self.prnet.patch or images.shape[-2] != self.prnet.patch:
            images = F.interpolate(
                images, size=(self.prnet.patch, self.prnet.patch), mode="bilinear", align_corners=False
            )
        return self.prnet.embedding(images)
