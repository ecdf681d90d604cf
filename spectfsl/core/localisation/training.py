"""PRNet self-supervised training, patches on a common pixel grid, and model files.

Images are normalised like `prepare` (99.5th percentile of non-zero voxels -> 1) and resampled to
one pixel size (`pixel_mm`, stored in the model). Training draws pairs of points inside the body
(normalised intensity >= BODY_THRESHOLD) of the same slice, crops a `patch` x `patch` window around
each (zero-padded at borders), and minimises

    L = L_dis + lambda * L_rec
    L_dis = mean squared error between a(c_j) - a(c_i) and (c_j - c_i) / offset_scale_mm
    L_rec = mean squared error between the decoded patches and the patches

where a() is the position head's output and c the points in mm. The model then maps any patch to
anatomical coordinates in mm: a() * offset_scale_mm.

lambda defaults to 0: on the phantom (500 steps) the reconstruction term made localisation worse
(LV centre MRE 11.6 vs 9.8 mm) and made each step 1.75x slower; a model needs lambda > 0 for
`prnet reconstruct`, which shows the decoder's output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core.image import SpectImage
from spectfsl.core.models.prnet import PRNet
from spectfsl.core.imaging.preprocess import NORMALISATION, normalised, resample_plane
from spectfsl.core.files.store import load_tensors, save_tensors
from spectfsl.errors import SpectfslError

PRNET_FORMAT = "spectfsl.prnet/1"
BODY_THRESHOLD = 0.1


@dataclass(frozen=True)
class PRNetSettings:
    """Training settings; sizes in pixels of the model grid, `pixel_mm` and `offset_scale_mm` in mm."""

    patch: int = 32
    pixel_mm: float = 4.0
    offset_scale_mm: float = 100.0
    epochs: int = 50
    iters: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    reconstruction_weight: float = 0.0
    channels: int = 16
    seed: int = 0
    max_offset_mm: float | None = None

    def __post_init__(self) -> None:
        if self.patch < 16 or self.patch % 16:
            raise SpectfslError(f"--patch must be a multiple of 16, got {self.patch}")
        if min(self.epochs, self.iters, self.batch_size) < 1 or self.pixel_mm <= 0 or self.offset_scale_mm <= 0:
            raise SpectfslError("--epochs, --iters and --batch-size must be >= 1; --pixel-mm and --offset-scale-mm > 0")


@dataclass
class GridImage:
    """A 2D image on the model grid: normalised pixels at `pixel_mm`, and how source pixels map to it."""

    pixels: np.ndarray
    source: SpectImage
    scale: tuple[float, float]  # model pixels per source pixel, (row, col)

    def to_model(self, xy: np.ndarray) -> np.ndarray:
        """Source pixel (x, y) -> model pixel (x, y) (pixel centres map exactly)."""
        xy = np.asarray(xy, dtype=np.float64)
        factor = np.array([self.scale[1], self.scale[0]])
        return (xy + 0.5) * factor - 0.5

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """Model pixel (x, y) -> source pixel (x, y)."""
        factor = np.array([self.scale[1], self.scale[0]])
        return (np.asarray(xy, dtype=np.float64) + 0.5) / factor - 0.5

    def source_mm(self, xy: np.ndarray) -> np.ndarray | None:
        """Source pixel (x, y) -> mm from the image's first pixel centre, or None when spacing is unknown."""
        spacing = self.source.pixel_spacing_mm
        if spacing is None:
            return None
        return np.asarray(xy, dtype=np.float64) * np.array([spacing[1], spacing[0]])


def to_grid(plane: SpectImage, pixel_mm: float) -> GridImage:
    """Resample a normalised 2D image to `pixel_mm` (unknown spacing: taken as already `pixel_mm`)."""
    if plane.pixel_spacing_mm is None:
        return GridImage(plane.pixels.astype(np.float32), plane, (1.0, 1.0))
    pixels, _ = resample_plane(plane.pixels, plane.pixel_spacing_mm, pixel_mm)
    scale = (pixels.shape[0] / plane.pixels.shape[0], pixels.shape[1] / plane.pixels.shape[1])
    return GridImage(pixels, plane, scale)


def grid_images(images: Iterable[SpectImage], pixel_mm: float) -> list[GridImage]:
    """Every 2D slice of `images`, normalised per scan and resampled to the model grid."""
    return [to_grid(plane, pixel_mm) for image in images for plane in normalised(image).slices()]


def stack(grids: list[GridImage]) -> torch.Tensor:
    """(N, 1, H, W) tensor of grid images, zero-padded at the bottom and right to a common size."""
    height = max(g.pixels.shape[0] for g in grids)
    width = max(g.pixels.shape[1] for g in grids)
    batch = torch.zeros(len(grids), 1, height, width)
    for index, grid in enumerate(grids):
        rows, cols = grid.pixels.shape
        batch[index, 0, :rows, :cols] = torch.from_numpy(grid.pixels)
    return batch


def extract_patches(images: torch.Tensor, centres: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, 1, H, W) images and (B, 2) centres (x, y, model pixels, fractional) -> (B, 1, P, P) patches.

    Bilinear sampling; outside the image is zero.
    """
    _, _, height, width = images.shape
    offsets = torch.arange(patch, dtype=centres.dtype, device=centres.device) - (patch - 1) / 2
    xs = centres[:, 0, None] + offsets  # (B, P)
    ys = centres[:, 1, None] + offsets
    grid_x = (2 * xs + 1) / width - 1
    grid_y = (2 * ys + 1) / height - 1
    grid = torch.stack(torch.broadcast_tensors(grid_x[:, None, :], grid_y[:, :, None]), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class PairSampler:
    """Pairs of body points in the same slice (x, y in model pixels, with sub-pixel jitter)."""

    def __init__(self, grids: list[GridImage], generator: torch.Generator, max_offset_px: float | None = None) -> None:
        self.body = [np.argwhere(g.pixels >= BODY_THRESHOLD)[:, ::-1].astype(np.float32) for g in grids]
        self.usable = [i for i, points in enumerate(self.body) if len(points) >= 2]
        if not self.usable:
            raise SpectfslError(f"no image has body pixels (normalised intensity >= {BODY_THRESHOLD}) to train on")
        self.generator = generator
        self.max_offset_px = max_offset_px

    def sample(self, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image indices (B,), points i (B, 2), points j (B, 2))."""
        choice = torch.randint(len(self.usable), (count,), generator=self.generator)
        indices = torch.tensor([self.usable[i] for i in choice])
        first, second = [], []
        for index in indices.tolist():
            body = self.body[index]
            pick = body[torch.randint(len(body), (1,), generator=self.generator)[0]]
            candidates = body
            if self.max_offset_px is not None:
                near = np.abs(body - pick).max(axis=1) <= self.max_offset_px
                candidates = body[near]
            first.append(pick)
            second.append(candidates[torch.randint(len(candidates), (1,), generator=self.generator)[0]])
        jitter = torch.rand(2, count, 2, generator=self.generator) - 0.5
        return indices, torch.from_numpy(np.stack(first)) + jitter[0], torch.from_numpy(np.stack(second)) + jitter[1]


def train_prnet(
    grids: list[GridImage],
    settings: PRNetSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[PRNet, list[float]]:
    """Train a PRNet on grid images; returns the model and the mean loss of each epoch.

    `on_step(epoch, iteration, loss)` reports progress.
    """
    device = torch.device(device)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    images = stack(grids)
    max_offset_px = settings.max_offset_mm / settings.pixel_mm if settings.max_offset_mm else None
    sampler = PairSampler(grids, generator, max_offset_px)
    model = PRNet(settings.patch, settings.channels).to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    reconstruct = settings.reconstruction_weight > 0
    epoch_losses = []
    for epoch in range(settings.epochs):
        losses = []
        for iteration in range(settings.iters):
            indices, first, second = sampler.sample(settings.batch_size)
            pair_images = images[torch.cat([indices, indices])]
            patches = extract_patches(pair_images, torch.cat([first, second]), settings.patch)
            gain = 1.0 + 0.1 * (torch.rand(settings.batch_size, 1, 1, 1, generator=generator) * 2 - 1)
            patches = (patches * torch.cat([gain, gain])).to(device)
            coordinates, decoded = model(patches, reconstruct=reconstruct)
            predicted = coordinates[settings.batch_size :] - coordinates[: settings.batch_size]
            target = ((second - first) * settings.pixel_mm / settings.offset_scale_mm).to(device)
            loss = F.mse_loss(predicted, target)
            if reconstruct:
                loss = loss + settings.reconstruction_weight * F.mse_loss(decoded, patches)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(epoch, iteration, losses[-1])
        epoch_losses.append(float(np.mean(losses)))
    return model.eval(), epoch_losses


@dataclass
class PRNetInfo:
    """A model file's metadata: architecture, grid, offset scale, normalisation, training record."""

    patch: int
    channels: int
    hidden: int
    pixel_mm: float
    offset_scale_mm: float
    reconstruction_weight: float
    body_threshold: float = BODY_THRESHOLD
    normalisation: str = NORMALISATION
    training: dict[str, Any] = field(default_factory=dict)


def save_prnet(path: str | os.PathLike, model: PRNet, info: PRNetInfo) -> None:
    """Write the model and its metadata as `spectfsl.prnet/1` safetensors (atomic)."""
    save_tensors(path, model.state_dict(), PRNET_FORMAT, asdict(info))


def load_prnet(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[PRNet, PRNetInfo]:
    """Read a model file; refuses other formats and inconsistent contents (exit 2)."""
    path = Path(path)
    tensors, metadata = load_tensors(path, PRNET_FORMAT)
    try:
        info = PRNetInfo(**{key: metadata[key] for key in PRNetInfo.__dataclass_fields__ if key in metadata})
    except TypeError as error:
        raise SpectfslError(f"{path}: model metadata incomplete ({error})") from None
    if info.normalisation != NORMALISATION:
        raise SpectfslError(f"{path}: incompatible model: unsupported normalisation '{info.normalisation}'")
    if info.pixel_mm <= 0 or info.offset_scale_mm <= 0:
        raise SpectfslError(f"{path}: incompatible model: pixel size and offset scale must be positive")
    try:
        model = PRNet(info.patch, info.channels, info.hidden)
        model.load_state_dict(tensors)
    except (RuntimeError, SpectfslError) as error:
        raise SpectfslError(f"{path}: incompatible model: weights do not fit PRNet(patch={info.patch}) ({str(error)[:160]})") from None
    return model.to(device).eval(), info
