"""`segment fit`: learn a tissue map from one to five labelled scans.

Two methods share one small U-Net (`SegNet`) and one training loop over augmented crops of the
support scans (random rotation and scaling, blurring or sharpening, intensity gain, noise):

- `finetune`: the network's last layer scores the classes; cross-entropy + soft Dice.
- `prototype`: the network embeds each voxel; in every step one augmented crop gives per-class
  prototypes by masked average pooling and the other crop's voxels are labelled by the nearest
  prototype (softmax over negative squared distances, as in Prototypical Networks), and back again
  (PANet's prototype alignment). After training the prototypes are the support scans' class means;
  a voxel of a new scan takes the class of its nearest prototype.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from spectfsl.core import distributed
from spectfsl.core.checkpoint import Checkpointer, TrainingState, fingerprint
from spectfsl.core.proto.prototypes import squared_distances
from spectfsl.core.schedule import scheduled_lr
from spectfsl.core.segment.network import SegNet
from spectfsl.core.segment.settings import MAX_GAIN, SegmentSettings
from spectfsl.core.training import run_steps
from spectfsl.errors import SpectfslError

#: Fraction of training crops centred on a labelled voxel (of a foreground class drawn uniformly, so
#: that a small class such as the myocardium is seen as often as a large one such as the liver).
FOREGROUND_CROPS = 0.5
#: Gaussian noise added to training crops (normalised units).
NOISE_SD = 0.03
#: Resolution augmentation, so that scans reconstructed sharper or smoother than the support look
#: alike to the network: half the crops are blurred, the other half sharpened (unsharp mask of sigma
#: SHARPEN_SIGMA voxels), each by up to `SegmentSettings.resolution`.
SHARPEN_SIGMA = 1.0
#: Crops per step by default: STEP_CROPS, or as many larger crops as hold about their voxels (2 of 40^3).
STEP_CROPS, STEP_CROP_SIDE = 4, 32


@dataclass(frozen=True)
class SupportScan:
    """A support scan for training: normalised intensities and class indices (0 = background, 1..K in
    the order of the model's classes), both shaped (rows, cols) or (slices, rows, cols)."""

    pixels: np.ndarray
    labels: np.ndarray
    source: str


def crop_shape(crop: int, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """The training crops' shape: `crop` voxels per side, or the smallest scan's side where smaller."""
    return tuple(min(crop, min(shape[axis] for shape in shapes)) for axis in range(len(shapes[0])))


def with_batch_size(settings: SegmentSettings, shapes: Sequence[tuple[int, ...]]) -> SegmentSettings:
    """`settings` with its batch size chosen where it is None: STEP_CROPS crops, fewer where they are
    larger than STEP_CROP_SIDE per side so that a step holds about as many voxels (at least 1, or 2
    for the prototype method)."""
    if settings.batch_size is not None:
        return settings
    sides = [max(side, STEP_CROP_SIDE) for side in crop_shape(settings.crop, shapes)]
    least = 2 if settings.method == "prototype" else 1
    crops = STEP_CROPS * STEP_CROP_SIDE ** len(sides) / math.prod(sides)
    return replace(settings, batch_size=max(least, round(crops)))


def network_for(settings: SegmentSettings, classes: int, dims: int, initial: SegNet | None = None) -> SegNet:
    """The network of a method: class scores (finetune) or embeddings (prototype); with `initial`,
    its weights (the last layer too where it gives as many outputs, else that layer starts afresh)."""
    outputs = classes if settings.method == "finetune" else settings.embedding
    network = SegNet(outputs, settings.channels, dims)
    if initial is None:
        return network
    if initial.dims != dims or initial.head.in_channels != network.head.in_channels:
        raise SpectfslError(
            f"the starting model is a {initial.dims}D network of {initial.down[0][0].out_channels} channels; "
            f"this fit needs a {dims}D network of {settings.channels}"
        )
    weights = initial.state_dict()
    if initial.head.out_channels != outputs:
        weights = {name: value for name, value in weights.items() if not name.startswith("head.")}
    network.load_state_dict(weights, strict=False)
    return network


def fit_network(
    scans: Sequence[SupportScan],
    classes: int,
    settings: SegmentSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
    initial: SegNet | None = None,
) -> tuple[SegNet, torch.Tensor | None, list[float]]:
    """Train on the support scans: (network in eval mode, prototypes (classes, embedding) or None, losses).

    `classes` counts background; `on_step(step, loss)` reports progress; `checkpointer` saves (and
    with --resume restores) the run's state; `initial` is the network to start from (None: random).
    """
    dims = scans[0].pixels.ndim
    if any(scan.pixels.ndim != dims for scan in scans):
        raise SpectfslError("support scans must all be 2D images or all be volumes")
    device = torch.device(device)
    settings = with_batch_size(settings, [scan.pixels.shape for scan in scans])
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(distributed.rank_seed(settings.seed))
    model = network_for(settings, classes, dims, initial).to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    state = TrainingState(model, optimiser, generators={"crops": generator})
    checkpointer = checkpointer or Checkpointer()
    identity = {
        "kind": "segment fit",
        "settings": asdict(settings),
        "classes": classes,
        "inputs_sha256": fingerprint(*[a for scan in scans for a in (scan.pixels, scan.labels)]),
        "initial_model_sha256": fingerprint(*model.state_dict().values()),
    }
    sampler = CropSampler(scans, settings, generator)
    checkpointer.start(state, identity)
    network = distributed.replicate(model, device)

    def crop_loss(step: int) -> torch.Tensor:
        images, labels = sampler.sample(settings.batch_size)
        images = augment(images, generator, settings.gain, settings.resolution)
        outputs = network(images.to(device))
        labels = labels.to(device)
        if settings.method == "finetune":
            return dense_loss(outputs, labels, classes)
        return prototype_episode_loss(outputs, labels, classes)

    def report(step: int, loss: float) -> None:
        if on_step is not None:
            on_step(step + 1, loss)  # steps done so far

    def learning_rate(step: int) -> float:
        return scheduled_lr(settings.lr, settings.lr_schedule, step, settings.steps)

    run_steps(state, settings.steps, crop_loss, checkpointer, learning_rate, after_step=report)
    model.eval()
    prototypes = support_prototypes(model, scans, classes, device) if settings.method == "prototype" else None
    return model, prototypes, state.losses


class CropSampler:
    """Random crops of the support scans, most of them centred on a voxel of a random foreground
    class, each rotated and zoomed about its centre (`SegmentSettings`) by resampling the whole scan
    (so that a rotated crop holds the scan's own voxels at its corners, zeros only beyond the scan)."""

    def __init__(self, scans: Sequence[SupportScan], settings: SegmentSettings, generator: torch.Generator) -> None:
        self.scans = scans
        self.settings = settings
        self.generator = generator
        self.size = crop_shape(settings.crop, [scan.pixels.shape for scan in scans])
        self.volumes = [torch.from_numpy(np.ascontiguousarray(scan.pixels, dtype=np.float32)) for scan in scans]
        self.label_maps = [torch.from_numpy(scan.labels.astype(np.float32)) for scan in scans]
        self.by_class = [
            [voxels for voxels in (np.argwhere(scan.labels == c) for c in np.unique(scan.labels) if c) if len(voxels)]
            for scan in scans
        ]

    def sample(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(count, 1, *crop) float intensities and (count, *crop) int64 class indices."""
        images, labels = [], []
        for _ in range(count):
            index = self._draw(len(self.scans))
            shape, by_class = self.scans[index].pixels.shape, self.by_class[index]
            if by_class and self._uniform() < FOREGROUND_CROPS:
                voxels = by_class[self._draw(len(by_class))]
                centre = voxels[self._draw(len(voxels))]
            else:
                centre = [self._draw(n) for n in shape]
            # the centre of a window of the crop's size that lies inside the scan
            middle = [min(max(int(c) - s // 2, 0), n - s) + (s - 1) / 2 for c, s, n in zip(centre, self.size, shape)]
            grid = self._grid(torch.tensor(middle, dtype=torch.float32), shape)
            images.append(F.grid_sample(self.volumes[index][None, None], grid, "bilinear", "zeros", True)[0])
            labels.append(F.grid_sample(self.label_maps[index][None, None], grid, "nearest", "zeros", True)[0, 0])
        return torch.stack(images), torch.stack(labels).long()

    def _grid(self, middle: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """grid_sample's grid (1, *crop, dims): crop voxel offsets rotated and zoomed about `middle`."""
        axes = [torch.arange(s, dtype=torch.float32) - (s - 1) / 2 for s in self.size]
        offsets = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
        points = middle + offsets @ random_matrix(len(shape), self.settings, self.generator).T
        extent = torch.tensor([max(n - 1, 1) for n in shape], dtype=torch.float32)
        return (2 * points / extent - 1).flip(-1)[None]  # grid_sample wants (x, y[, z]) = reversed axes

    def _draw(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator))

    def _uniform(self) -> float:
        return float(torch.rand(1, generator=self.generator))


def random_matrix(dims: int, settings: SegmentSettings, generator: torch.Generator) -> torch.Tensor:
    """Crop voxel offsets -> scan voxel offsets: a rotation (about every axis for 3D) times a zoom
    (log-uniform in the settings' range) times a per-axis stretch."""
    angles = (torch.rand(1 if dims == 2 else 3, generator=generator) * 2 - 1) * math.radians(settings.rotation_deg)
    low, high = math.log(settings.zoom_min), math.log(settings.zoom_max)
    zoom = math.exp(low + (high - low) * float(torch.rand(1, generator=generator)))
    stretch = 1.0 + settings.stretch * (torch.rand(dims, generator=generator) * 2 - 1)
    matrix = torch.eye(dims)
    planes = [(0, 1)] if dims == 2 else [(0, 1), (0, 2), (1, 2)]
    for angle, (a, b) in zip(angles.tolist(), planes):
        rotation = torch.eye(dims)
        rotation[a, a] = rotation[b, b] = math.cos(angle)
        rotation[a, b], rotation[b, a] = -math.sin(angle), math.sin(angle)
        matrix = rotation @ matrix
    return matrix @ torch.diag(stretch * zoom)


def augment(
    images: torch.Tensor, generator: torch.Generator, gain: float = MAX_GAIN, resolution: float = 0.6
) -> torch.Tensor:
    """Random blurring or sharpening (up to `resolution`: blur sigma in voxels, sharpening amount),
    intensity gain (1 +- `gain`) and Gaussian noise (normalised units)."""
    count, dims = images.shape[0], images.ndim - 2
    images = torch.stack([_change_resolution(image, generator, resolution) for image in images])
    gains = 1.0 + gain * (torch.rand((count,) + (1,) * (dims + 1), generator=generator) * 2 - 1)
    noise = NOISE_SD * torch.randn(images.shape, generator=generator)
    return (images * gains + noise).clamp_(min=0.0)


def _change_resolution(image: torch.Tensor, generator: torch.Generator, resolution: float) -> torch.Tensor:
    """One (1, *spatial) crop blurred or sharpened by a random amount, up to `resolution`."""
    blur, amount = torch.rand(2, generator=generator).tolist()
    pixels = image[0].numpy()
    if blur < 0.5:
        changed = ndimage.gaussian_filter(pixels, amount * resolution, mode="nearest")
    else:
        smooth = ndimage.gaussian_filter(pixels, SHARPEN_SIGMA, mode="nearest")
        changed = np.clip(pixels + amount * resolution * (pixels - smooth), 0.0, None)
    return torch.from_numpy(changed.astype(np.float32, copy=False))[None]


def dense_loss(scores: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Cross-entropy plus (1 - soft Dice) over the batch, averaged over the foreground classes present
    in it (a class absent from every crop would otherwise dominate the loss)."""
    probabilities = scores.softmax(dim=1)
    one_hot = F.one_hot(labels, classes).movedim(-1, 1).float()
    axes = (0, *range(2, scores.ndim))
    overlap = (probabilities * one_hot).sum(axes)
    reference = one_hot.sum(axes)
    dice = (2 * overlap + 1.0) / (probabilities.sum(axes) + reference + 1.0)
    present = reference[1:] > 0
    loss = F.cross_entropy(scores, labels)
    if present.any():
        loss = loss + (1 - dice[1:][present]).mean()
    return loss


def masked_prototypes(
    embeddings: torch.Tensor, labels: torch.Tensor, classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class mean embedding over the voxels of each class: ((classes, D), (classes,) present)."""
    flat = embeddings.movedim(1, -1).reshape(-1, embeddings.shape[1])
    one_hot = F.one_hot(labels.reshape(-1), classes).float()
    counts = one_hot.sum(0)
    sums = one_hot.T @ flat
    return sums / counts.clamp(min=1)[:, None], counts > 0


def prototype_scores(embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(B, D, *spatial) embeddings -> (B, classes, *spatial) negative squared distances to each prototype."""
    flat = embeddings.movedim(1, -1)
    distances = squared_distances(flat.reshape(-1, flat.shape[-1]), prototypes)
    return (-distances).reshape(*flat.shape[:-1], -1).movedim(-1, 1)


def prototype_episode_loss(embeddings: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Half the crops give prototypes for the other half, and back (PANet's alignment); a class absent
    from the giving crops takes the receiving crops' own mean."""
    half = embeddings.shape[0] // 2
    first, second = slice(0, half), slice(half, None)
    loss = embeddings.new_zeros(())
    for give, take in ((first, second), (second, first)):
        given, present = masked_prototypes(embeddings[give], labels[give], classes)
        own, _ = masked_prototypes(embeddings[take], labels[take], classes)
        prototypes = torch.where(present[:, None], given, own)
        loss = loss + dense_loss(prototype_scores(embeddings[take], prototypes), labels[take], classes)
    return loss / 2


@torch.no_grad()
def support_prototypes(model: SegNet, scans: Sequence[SupportScan], classes: int, device: torch.device) -> torch.Tensor:
    """The class prototypes of the trained network: each class's mean embedding over all support voxels."""
    sums, counts = None, torch.zeros(classes)
    for scan in scans:
        embeddings = model(torch.from_numpy(scan.pixels)[None, None].to(device)).cpu()
        means, _ = masked_prototypes(embeddings, torch.from_numpy(scan.labels.astype(np.int64))[None], classes)
        scan_counts = torch.bincount(torch.from_numpy(scan.labels.astype(np.int64)).reshape(-1), minlength=classes)
        weighted = means * scan_counts[:, None]
        sums = weighted if sums is None else sums + weighted
        counts += scan_counts
    if (counts == 0).any():
        raise SpectfslError("a class has no voxel in any support scan")
    return sums / counts[:, None]


#: Windows per forward pass at inference (small 3D windows run far faster batched on CPUs).
WINDOW_BATCH = 8


@torch.no_grad()
def label_indices(
    model: SegNet, prototypes: torch.Tensor | None, pixels: np.ndarray, window: int, device: torch.device
) -> np.ndarray:
    """Class indices (0 = background) of every voxel of normalised `pixels`, same shape, uint8.

    The network sees windows of the training crops' size (overlapping by about a sixth, scores
    averaged), so that its instance normalisation meets the statistics it was trained on; a scan no
    larger than a window is labelled in one pass.
    """
    volume = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None].to(device)
    spatial = volume.shape[1:]
    sizes = [min(window, n) for n in spatial]
    corners = list(itertools.product(*[_window_starts(n, size) for n, size in zip(spatial, sizes)]))
    regions = [tuple(slice(c, c + size) for c, size in zip(corner, sizes)) for corner in corners]
    totals, counts = None, torch.zeros(spatial, device=device)
    for first in range(0, len(regions), WINDOW_BATCH):
        batch = regions[first : first + WINDOW_BATCH]
        outputs = model(torch.stack([volume[(slice(None), *region)] for region in batch]))
        if prototypes is not None:
            outputs = prototype_scores(outputs, prototypes.to(outputs.device))
        if totals is None:
            totals = torch.zeros((outputs.shape[1], *spatial), device=device)
        for region, output in zip(batch, outputs):
            totals[(slice(None), *region)] += output
            counts[region] += 1
    return (totals / counts).argmax(dim=0).to(torch.uint8).cpu().numpy()


def _window_starts(length: int, size: int) -> list[int]:
    """Window corners along one axis, evenly spread from 0 to flush with the end, at most 5/6 of a
    window apart."""
    if length <= size:
        return [0]
    count = math.ceil((length - size) / max(size * 5 // 6, 1)) + 1
    return sorted({round(i * (length - size) / (count - 1)) for i in range(count)})
