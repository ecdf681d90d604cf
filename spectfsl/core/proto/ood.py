"""Out-of-distribution inputs: does a query look like the crops the bank was fitted on?

A bank classifies crops of the kind it was fitted on (masked tissue crops by default). Distances to
prototypes cannot tell: after l2/cl2n normalisation a blank or noise image can land next to a
prototype, and held-out patients' crops, classified right, can lie farther from the prototypes than
whole slices. So a query is out of distribution when its pixels do not look like the bank's crops:
any of five measures falls outside the range seen in the fitting crops, widened. The measures:
tissue fraction (pixels above TISSUE_LEVEL: a blank image has none), background fraction (pixels
exactly 0: a masked crop has a zero background, a whole slice has none), mean tissue intensity,
roughness (mean absolute difference of neighbouring tissue pixels over the mean: SPECT is smooth,
noise is not), each widened by a factor of 2 each way (low / 2, high x 2, fractions capped at 1);
and box fill (the share of the non-zero pixels' bounding box that they fill: a mask's outline is
irregular, a whole slice, even one zero-padded into the window, fills its box), whose high end is
widened by a quarter of the way to 1 (BOX_FILL_MARGIN). False-alarm and detection rates are measured
by `benchmarks/proto_ood.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Normalised intensity above which a pixel counts as tissue (also the hand-feature baseline's level).
TISSUE_LEVEL = 0.05
#: The fitted range (low, high) of each measure is accepted as (low / RANGE_FACTOR, high * RANGE_FACTOR).
RANGE_FACTOR = 2.0
#: The accepted box fill reaches the fitting crops' highest plus this share of the way to 1.
BOX_FILL_MARGIN = 0.25
MEASURES = ("tissue_fraction", "background_fraction", "tissue_mean", "roughness", "box_fill")
FRACTIONS = ("tissue_fraction", "background_fraction")
#: Measures every stored profile has (box fill came later: older banks' profiles lack it).
REQUIRED = MEASURES[:4]


def crop_measures(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per image of (N, H, W) normalised images: tissue and background fractions (0-1), mean tissue
    intensity (normalised units), roughness (unitless) and box fill (0-1)."""
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
        "box_fill": box_fill(images),
    }


def box_fill(images: np.ndarray) -> np.ndarray:
    """Per image: the non-zero pixels over the area of their bounding box (0 for an all-zero image)."""
    nonzero = images != 0
    rows, cols = nonzero.any(axis=2), nonzero.any(axis=1)

    def extent(hits: np.ndarray) -> np.ndarray:
        first = hits.argmax(axis=1)
        last = hits.shape[1] - 1 - hits[:, ::-1].argmax(axis=1)
        return np.where(hits.any(axis=1), last - first + 1, 0)

    area = extent(rows) * extent(cols)
    return np.divide(nonzero.sum(axis=(1, 2)), area, out=np.zeros(len(images)), where=area > 0)


@dataclass(frozen=True)
class CropProfile:
    """The accepted range (low, high) of each crop measure."""

    tissue_fraction: tuple[float, float]
    background_fraction: tuple[float, float]
    tissue_mean: tuple[float, float]
    roughness: tuple[float, float]
    #: None in profiles written before it existed (not checked then)
    box_fill: tuple[float, float] | None = None

    @classmethod
    def fit(cls, images: np.ndarray) -> CropProfile:
        """The range of the fitting crops, widened: by RANGE_FACTOR each way, box fill by BOX_FILL_MARGIN."""
        ranges = {}
        for name, values in crop_measures(images).items():
            low, high = float(values.min()), float(values.max())
            if name == "box_fill":
                ranges[name] = (0.0, high + (1.0 - high) * BOX_FILL_MARGIN)
                continue
            high *= RANGE_FACTOR
            ranges[name] = (low / RANGE_FACTOR, min(high, 1.0) if name in FRACTIONS else high)
        return cls(**ranges)

    @classmethod
    def from_dict(cls, values: dict) -> CropProfile:
        return cls(**{name: tuple(values[name]) for name in MEASURES if values.get(name) is not None})

    def as_dict(self) -> dict[str, list[float]]:
        return {name: list(value) for name, value in asdict(self).items() if value is not None}

    def outside(self, images: np.ndarray) -> np.ndarray:
        """(N,) booleans: True where an image's measures fall outside the profile."""
        flags = np.zeros(len(images), dtype=bool)
        for name, values in crop_measures(images).items():
            if getattr(self, name) is None:
                continue
            low, high = getattr(self, name)
            flags |= (values < low) | (values > high)
        return flags
