"""PRNet (Propagation-Reconstruction Network): an encoder-decoder with skip connections, 2D (the
study's adaptation) or 3D (the original design, on cubic patches).

The encoder (conv + InstanceNorm + ReLU blocks, 4 poolings) feeds a position head, fully connected
layers that map a patch to anatomical coordinates (2 or 3), and a decoder that reconstructs the
patch. Any patch size that is a multiple of 16 works; the head's input size follows from it.

The head's hidden layers use ReLU (the study's 2D model) or leaky ReLU (`head_activation`; the 3D
default): with ReLU a 3D run can lose a whole output axis when the head's units feeding it die early
in training (the model then predicts a constant along that axis).
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
#: The position head's activations by name; a model file records its own ("relu" when it does not).
HEAD_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


#: The layers of each dimensionality: convolution, instance norm, max pooling, transposed convolution.
LAYERS = {
    2: (nn.Conv2d, nn.InstanceNorm2d, nn.MaxPool2d, nn.ConvTranspose2d),
    3: (nn.Conv3d, nn.InstanceNorm3d, nn.MaxPool3d, nn.ConvTranspose3d),
}


def conv_block(in_channels: int, out_channels: int, dims: int, normalise: bool = True) -> nn.Sequential:
    """Two conv + InstanceNorm + ReLU; without the norm where maps are 1 pixel (16-pixel patches' bottleneck)."""
    conv, instance_norm = LAYERS[dims][:2]

    def norm() -> nn.Module:
        return instance_norm(out_channels, affine=True) if normalise else nn.Identity()

    return nn.Sequential(
        conv(in_channels, out_channels, 3, padding=1),
        norm(),
        nn.ReLU(inplace=True),
        conv(out_channels, out_channels, 3, padding=1),
        norm(),
        nn.ReLU(inplace=True),
    )


class PRNet(nn.Module):
    """(B, 1, P, P[, P]) normalised patches -> ((B, dims) anatomical coordinates, (B, 1, P, P[, P])
    reconstruction); `dims` 2 (slices) or 3 (volumes)."""

    def __init__(
        self, patch: int = 32, channels: int = 16, hidden: int = 256, dims: int = 2, head_activation: str = "relu"
    ) -> None:
        super().__init__()
        for name, value in (("patch", patch), ("channels", channels), ("hidden", hidden), ("dims", dims)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpectfslError(f"PRNet {name} must be an integer (got {value!r})")
        if dims not in LAYERS:
            raise SpectfslError(f"PRNet dims must be 2 or 3 (got {dims})")
        if not isinstance(head_activation, str) or head_activation not in HEAD_ACTIVATIONS:
            names = ", ".join(HEAD_ACTIVATIONS)
            raise SpectfslError(f"PRNet head activation must be one of {names} (got {head_activation!r})")
        if patch < 16 or patch % 16 or patch > MAX_PATCH:
            raise SpectfslError(f"patch size must be a multiple of 16 up to {MAX_PATCH} (got {patch})")
        if not (1 <= channels <= MAX_CHANNELS and 4 <= hidden <= MAX_HIDDEN):
            raise SpectfslError(
                f"PRNet channels must be 1-{MAX_CHANNELS} and hidden 4-{MAX_HIDDEN} (got {channels}, {hidden})"
            )
        self.patch, self.channels, self.hidden, self.dims = patch, channels, hidden, dims
        self.head_activation = head_activation
        activation = HEAD_ACTIVATIONS[head_activation]
        _, _, max_pool, transposed_conv = LAYERS[dims]
        widths = [channels * 2**level for level in range(POOLINGS + 1)]
        bottleneck_side = patch // 2**POOLINGS
        self.encoders = nn.ModuleList(
            conv_block(1 if i == 0 else widths[i - 1], widths[i], dims, normalise=i < POOLINGS or bottleneck_side > 1)
            for i in range(POOLINGS + 1)
        )
        self.pool = max_pool(2)
        bottleneck = widths[-1] * bottleneck_side**dims
        self.position_head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(bottleneck, hidden),
            activation(inplace=True),
            nn.Linear(hidden, hidden // 4),
            activation(inplace=True),
            nn.Linear(hidden // 4, dims),
        )
        self.upsamplers = nn.ModuleList(
            transposed_conv(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(POOLINGS))
        )
        self.decoders = nn.ModuleList(conv_block(2 * widths[i], widths[i], dims) for i in reversed(range(POOLINGS)))
        self.reconstruction_head = LAYERS[dims][0](widths[0], 1, 1)

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
        """Anatomical coordinates (B, dims) of each patch's centre, unitless (offset scale stored with the model)."""
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

    def __init__(self, patch: int = 32, channels: int = 16, hidden: int = 256, head_activation: str = "relu") -> None:
        super().__init__()
        self.prnet = PRNet(patch, channels, hidden, head_activation=head_activation)

    @property
    def options(self) -> dict:
        options = {"patch": self.prnet.patch, "channels": self.prnet.channels, "hidden": self.prnet.hidden}
        if self.prnet.head_activation != "relu":  # banks written before the option read as ReLU
            options["head_activation"] = self.prnet.head_activation
        return options

    def load_pretrained(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a trained PRNet's weights (the state dict of a `PRNet`)."""
        self.prnet.load_state_dict(state_dict)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != self.prnet.patch or images.shape[-2] != self.prnet.patch:
            images = F.interpolate(
                images, size=(self.prnet.patch, self.prnet.patch), mode="bilinear", align_corners=False
            )
        return self.prnet.embedding(images)
