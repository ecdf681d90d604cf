"""Out-of-distribution inputs: does a query look like the crops the bank was fitted on?

A bank classifies crops of the kind it was fitted on (masked tissue crops by default). Distances to
prototypes alone cannot tell: after l2/cl2n normalisation a blank or noise image can land next to a
prototype, and on the phantom the raw feature distances of whole slices overlapped those of
held-out crops. So a query is also out of distribution when its pixels do not look like the bank's
crops: any of four measures falls outside the range seen in the fitting data, widened by a factor
of 2 each way (low / 2, high x 2, fractions capped at 1). The measures: tissue fraction (pixels
above TISSUE_LEVEL: a blank image has none), background fraction (pixels exactly 0: a masked crop
has a zero background, a whole slice has none), mean tissue intensity, and roughness (mean absolute
difference of neighbouring tissue pixels over the mean: SPECT is smooth, noise is not). Rates
measured on the phantom and the real data are in the README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Normalised intensity above which a pixel counts as tissue (also the hand-feature baseline's level).
TISSUE_LEVEL = 0.05
#: The fitted range (low, high) of each measure is accepted as (low / RANGE_FACTOR, high * RANGE_FACTOR).
RANGE_FACTOR = 2.0
MEASURES = ("tissue_fraction", "background_fraction", "tissue_mean", "roughness")
FRACTIONS = ("tissue_fraction", "background_fraction")


def crop_measures(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image of (N, H, W) normalised images: tissue and background fractions (0-1), mean tissue
    intensity (normalised units) and roughness (unitless)."""
    tissue = images > TISSUE_LEVEL
    counts = tissue.sum(axis=(1, 2))
    mean = np.divide(
        np.where(tissue, images, 0.0).sum(axis=(1, 2)), counts, out=np.zeros(len(images)), where=counts > 0
    )
    pairs = tissue[:, :, 1:] & tissue[:, :, :-1]
    steps = np.where(pairs, np.abs(np.diff(images, axis=2)), 0.0).sum(axis=(1, 2))
    pair_counts = pairs.sum(axis=(1, 2))
    step = np.divide(steps, pair_counts, out=np.zeros(len(images)), where=pair_counts > 0)
    roughness = np.divide(step, mean, out=np.zeros(len(images)), where=mean > 0)
    return {
        "tissue_fraction": tissue.mean(axis=(1, 2)),
        "background_fraction": (images == 0).mean(axis=(1, 2)),
        "tissue_mean": mean,
        "roughness": roughness,
    }


@dataclass(frozen=True)
class CropProfile:
    """The accepted range (low, high) of each crop measure."""

    tissue_fraction: tuple[float, float]
    background_fraction: tuple[float, float]
    tissue_mean: tuple[float, float]
    roughness: tuple[float, float]

    @classmethod
    def fit(cls, images: np.ndarray) -> CropProfile:
        """The range of the fitting crops, widened by RANGE_FACTOR each way."""
        ranges = {}
        for name, values in crop_measures(images).items():
            high = float(values.max()) * RANGE_FACTOR
            ranges[name] = (float(values.min()) / RANGE_FACTOR, min(high, 1.0) if name in FRACTIONS else high)
        return cls(**ranges)

    @classmethod
    def from_dict(cls, values: dict) -> CropProfile:
        return cls(**{name: tuple(values[name]) for name in MEASURES})

    def as_dict(self) -> dict[str, list[float]]:
        return {name: list(value) for name, value in asdict(self).items()}

    def outside(self, images: np.ndarray) -> np.ndarray:
        """(N,) booleans: True where an image's measures fall outside the profile."""
        flags = np.zeros(len(images), dtype=bool)
        for name, values in crop_measures(images).items():
            low, high = getattr(self, name)
            flags |= (values < low) | (values > high)
        return flags
