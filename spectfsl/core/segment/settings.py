"""`segment fit`'s settings and their defaults (no torch here: `--help` quotes them)."""

from __future__ import annotations

from dataclasses import dataclass

from spectfsl.errors import SpectfslError

METHODS = ("finetune", "prototype")
#: Intensity augmentation by default: a gain of 1 +- MAX_GAIN.
MAX_GAIN = 0.2


@dataclass(frozen=True)
class SegmentSettings:
    """Training settings; `crop` in voxels per side (the whole scan where it is smaller); `batch_size`
    None: chosen from the crop size (`with_batch_size`).

    Geometric augmentation: each crop is rotated by up to `rotation_deg` about each axis and zoomed
    by a factor drawn log-uniformly in [`zoom_min`, `zoom_max`] (scan voxels per crop voxel: above 1
    the anatomy shrinks, as with larger voxels), each axis by a further factor within 1 +- `stretch`
    (anisotropic voxels, an LV stretched along one axis). Resolution augmentation: half the crops are
    blurred (Gaussian, sigma up to `resolution` voxels), the other half sharpened (unsharp mask,
    amount up to `resolution`), so that scans of another resolution look alike to the network.
    """

    method: str = "finetune"
    steps: int = 800
    batch_size: int | None = None
    crop: int = 40
    channels: int = 16
    embedding: int = 16
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    seed: int = 0
    rotation_deg: float = 15.0
    zoom_min: float = 0.9
    zoom_max: float = 1.1
    stretch: float = 0.0
    gain: float = MAX_GAIN
    resolution: float = 0.6

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise SpectfslError(
                f"{{method}} must be one of {', '.join(METHODS)}, got '{self.method}'", settings="method"
            )
        if min(self.steps, self.batch_size or 1) < 1 or self.crop < 8 or self.lr <= 0:
            raise SpectfslError(
                "{steps} and {batch_size} must be >= 1, {crop} >= 8 and {lr} > 0",
                settings=("steps", "batch_size", "crop", "lr"),
            )
        if not (
            0 <= self.rotation_deg <= 180
            and 0 < self.zoom_min <= self.zoom_max
            and 0 <= self.stretch < 1
            and 0 <= self.gain < 1
            and 0 <= self.resolution <= 3
        ):
            raise SpectfslError(
                "augmentation: rotation 0-180 degrees, 0 < zoom_min <= zoom_max, stretch and gain 0-1, resolution 0-3"
            )
        if self.method == "prototype" and self.batch_size is not None and self.batch_size < 2:
            raise SpectfslError(
                "the prototype method needs {batch_size} 2 or more (one crop gives the prototypes)",
                settings="batch_size",
            )


#: Defaults of a fit that starts from a trained model (`--init builtin|MODEL`; applied by
#: `workflows.StartingPoint.settings`): the network already
#: knows SPECT, so a few steps adapt it to the support scans in seconds (chosen by measurement:
#: benchmarks/results/builtin-segment-defaults.jsonl).
FROM_MODEL = {"steps": 200, "lr": SegmentSettings.lr, "crop": 32}
#: Steps of a fit from a model whose classes differ from the fit's (its last layer starts afresh and
#: must learn the new classes: chosen by measurement on the phantom's three classes, same file).
NEW_CLASSES_STEPS = 800
