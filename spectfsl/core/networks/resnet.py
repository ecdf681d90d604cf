"""ResNet-18 embedding for one-channel SPECT images."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18

# ImageNet statistics as one grey channel; the folded conv1 below expects inputs standardised so.
GREY_MEAN = 0.449
GREY_STD = 0.226
IMAGENET_RGB_STD = (0.229, 0.224, 0.225)


class ResNetEmbedding(nn.Module):
    """(B, 1, H, W) normalised SPECT intensities -> (B, 512) features: ResNet-18 without its classifier."""

    feature_dim = 512

    def __init__(self) -> None:
        super().__init__()
        self.net = resnet18(weights=None)
        self.net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.net.fc = nn.Identity()

    @property
    def options(self) -> dict:
        return {}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - GREY_MEAN) / GREY_STD)

    def load_pretrained(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load torchvision-style ResNet-18 weights (with or without `net.`), folding RGB conv1 into one channel.

        Folding sums the three input channels' kernels, each scaled by GREY_STD / its channel's std,
        which is what a grey image copied to three standardised channels would see; the classifier
        (`fc.*`) is dropped.
        """
        weights = {key.removeprefix("net."): value for key, value in state_dict.items() if not _is_classifier(key)}
        conv1 = weights.get("conv1.weight")
        if conv1 is not None and conv1.shape[1] == 3:
            scale = torch.tensor([GREY_STD / s for s in IMAGENET_RGB_STD], dtype=conv1.dtype).view(1, 3, 1, 1)
            weights["conv1.weight"] = (conv1 * scale).sum(dim=1, keepdim=True)
        missing, unexpected = self.net.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise ValueError(f"weights do not fit ResNet-18: missing {missing[:3]}, unexpected {unexpected[:3]}")


def _is_classifier(key: str) -> bool:
    return key.removeprefix("net.").startswith("fc.")
