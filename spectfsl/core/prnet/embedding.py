"""Dense anatomical embeddings: self-supervised training and one-shot matching.

Training (no labels): two randomly turned, scaled, shifted and re-contrasted views of one volume
are embedded; for points inside the body of the first view, the embedding at the same anatomy in
the second view must be the most alike among all the second view's sampled points (InfoNCE). The
global embedding counts as wrong only points farther than GLOBAL_NEAR_PX from the true one (it
needs to be right, not sharp); the local one counts every other point (it needs to be sharp).

Matching: the reference point's global and local vectors against every voxel of a target; the
target voxel with the highest sum of the two cosine similarities is the answer, refined below a
voxel by the peak of a parabola.

Positions are array order ([slice,] row, col) on the model grid unless a name says x, y[, z].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core.checkpoint import TrainingState
from spectfsl.core.networks.anatomy import AnatomyEmbedding
from spectfsl.core.prnet.anatomy_file import AnatomyInfo
from spectfsl.core.prnet.grid import BODY_THRESHOLD, GridImage
from spectfsl.core.prnet.locate import Located, correlation_map, peak_position, within_radius
from spectfsl.core.schedule import scheduled_lr
from spectfsl.core.training import run_steps

#: Global InfoNCE: points nearer than this (model pixels, in the volume) to the true one are not negatives.
GLOBAL_NEAR_PX = 2.0
#: Local InfoNCE: only the true point itself is positive; nearer than this is not counted either.
LOCAL_NEAR_PX = 0.75
#: The refinement's reference patch (model pixels) by dimensionality, and the weight of the
#: embedding's similarity beside its normalised cross-correlation.
TEMPLATE_PX = {2: 16, 3: 12}
SIMILARITY_WEIGHT = 0.5


@dataclass(frozen=True)
class EmbeddingSettings:
    """Self-supervised training of an `AnatomyEmbedding`; sizes in model pixels, angles in degrees."""

    dims: int = 3
    pixel_mm: float = 8.0
    channels: int = 8
    features: int = 32
    steps: int = 800
    batch_size: int = 2
    view: int = 40
    points: int = 256
    lr: float = 1e-3
    temperature: float = 0.1
    rotation_deg: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)
    shift_px: float = 4.0
    seed: int = 0


def default_settings(dims: int) -> EmbeddingSettings:
    """The training defaults for 3D volumes (8 mm grid, 40-voxel views: 320 mm, most of a SPECT
    field) or 2D slices (4 mm grid, 64-pixel views: 256 mm)."""
    if dims == 3:
        return EmbeddingSettings(dims=3)
    return EmbeddingSettings(dims=2, pixel_mm=4.0, view=64, channels=16)


def _rotation(dims: int, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """A random rotation (array axis order), each angle uniform in +-degrees."""
    angles = (torch.rand(1 if dims == 2 else 3, generator=generator) * 2 - 1) * math.radians(degrees)
    if dims == 2:
        c, s = math.cos(angles[0]), math.sin(angles[0])
        return torch.tensor([[c, -s], [s, c]])
    matrix = torch.eye(3)
    for axis, angle in enumerate(angles.tolist()):
        c, s = math.cos(angle), math.sin(angle)
        i, j = [a for a in range(3) if a != axis]
        turn = torch.eye(3)
        turn[i, i], turn[i, j], turn[j, i], turn[j, j] = c, -s, s, c
        matrix = turn @ matrix
    return matrix


@dataclass
class View:
    """A view of a volume: view voxel v -> volume voxel `matrix @ (v - view_centre) + volume_centre + shift`."""

    image: torch.Tensor  # (1, *spatial)
    matrix: torch.Tensor
    view_centre: torch.Tensor
    volume_centre: torch.Tensor
    shift: torch.Tensor

    def to_volume(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.view_centre) @ self.matrix.T + self.volume_centre + self.shift

    def from_volume(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.volume_centre - self.shift) @ torch.linalg.inv(self.matrix).T + self.view_centre


def random_view(volume: torch.Tensor, settings: EmbeddingSettings, generator: torch.Generator) -> View:
    """A turned, scaled, shifted view (side `settings.view`) of a (1, *spatial) volume, with a random
    contrast (gain, gamma) and noise."""
    dims = volume.ndim - 1
    low, high = settings.scale
    scale = low + (high - low) * float(torch.rand(1, generator=generator))
    matrix = _rotation(dims, settings.rotation_deg, generator) / scale  # a larger scale shows a larger heart
    sides = torch.tensor(volume.shape[1:], dtype=torch.float32)
    view_centre = torch.full((dims,), (settings.view - 1) / 2)
    volume_centre = (sides - 1) / 2
    shift = (torch.rand(dims, generator=generator) * 2 - 1) * settings.shift_px
    view = View(torch.empty(0), matrix, view_centre, volume_centre, shift)
    axes = torch.meshgrid(*[torch.arange(settings.view, dtype=torch.float32)] * dims, indexing="ij")
    positions = view.to_volume(torch.stack(axes, dim=-1).reshape(-1, dims))
    image = sample(volume[None], positions[None])[0].reshape(1, *[settings.view] * dims)
    gain = 0.8 + 0.4 * float(torch.rand(1, generator=generator))
    gamma = math.exp((float(torch.rand(1, generator=generator)) * 2 - 1) * 0.25)
    noise = 0.05 * float(torch.rand(1, generator=generator))
    image = gain * image.clamp(min=0) ** gamma + noise * torch.randn(image.shape, generator=generator)
    view.image = image
    return view


def sample(maps: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(B, C, *spatial) maps at (B, N, dims) array-order positions (fractional; zero outside) -> (B, C, N)."""
    dims = positions.shape[-1]
    sides = torch.tensor(maps.shape[2:], dtype=positions.dtype, device=positions.device)
    normalised = ((2 * positions + 1) / sides - 1).flip(-1)  # grid_sample wants x first, align_corners=False
    grid = normalised.view(positions.shape[0], *([1] * (dims - 1)), positions.shape[1], dims)
    values = F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return values.reshape(maps.shape[0], maps.shape[1], -1)


def _info_nce(first: torch.Tensor, second: torch.Tensor, distance: torch.Tensor, near: float, temperature: float):
    """InfoNCE of (N, F) matched vectors; pairs nearer than `near` (but not the pair itself) are left out."""
    logits = first @ second.T / temperature
    excluded = (distance < near) & ~torch.eye(len(first), dtype=torch.bool)
    logits = logits.masked_fill(excluded, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(first), device=logits.device))


def pair_loss(
    model: AnatomyEmbedding, volume: torch.Tensor, settings: EmbeddingSettings, generator: torch.Generator
) -> torch.Tensor:
    """The InfoNCE loss (global + local) of two random views of one (1, *spatial) volume."""
    views = [random_view(volume, settings, generator) for _ in range(2)]
    dims = volume.ndim - 1
    candidates = torch.rand(settings.points * 4, dims, generator=generator) * (settings.view - 1)
    first, second = views
    inside = sample(first.image[None], candidates[None])[0, 0] >= BODY_THRESHOLD
    in_volume = first.to_volume(candidates)
    in_second = second.from_volume(in_volume)
    visible = ((in_second >= 0) & (in_second <= settings.view - 1)).all(dim=1)
    chosen = (inside & visible).nonzero().squeeze(1)[: settings.points]
    if len(chosen) < 8:
        return torch.zeros((), requires_grad=True)
    points_first, points_second = candidates[chosen], in_second[chosen]
    distance = torch.cdist(in_volume[chosen], in_volume[chosen])
    device = next(model.parameters()).device
    global_maps, local_maps = model(torch.stack([first.image, second.image]).to(device))
    loss = torch.zeros((), device=device)
    for maps, near in ((global_maps, GLOBAL_NEAR_PX), (local_maps, LOCAL_NEAR_PX)):
        a = sample(maps[:1], points_first[None].to(device))[0].T
        b = sample(maps[1:], points_second[None].to(device))[0].T
        loss = loss + _info_nce(
            F.normalize(a, dim=1), F.normalize(b, dim=1), distance.to(device), near, settings.temperature
        )
    return loss


def train_embedding(
    grids: Sequence[GridImage],
    settings: EmbeddingSettings,
    on_step: Callable[[int, int, float], None] | None = None,
    device: torch.device | str = "cpu",
) -> AnatomyEmbedding:
    """Train an embedding on unlabelled grid images (volumes for `dims` 3), self-supervised; views
    are drawn on the CPU from the seed, so a run is repeatable on one device. `on_step(step, steps,
    loss)` reports progress."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = AnatomyEmbedding(settings.dims, settings.channels, settings.features).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    volumes = [torch.from_numpy(grid.pixels)[None] for grid in grids]

    def views_loss(step: int) -> torch.Tensor:
        picks = torch.randint(len(volumes), (settings.batch_size,), generator=generator).tolist()
        return sum(pair_loss(model, volumes[index], settings, generator) for index in picks) / len(picks)

    def report(step: int, loss: float) -> None:
        if on_step:
            on_step(step + 1, settings.steps, loss)

    state = TrainingState(model, optimiser, generators={"views": generator})
    run_steps(
        state,
        settings.steps,
        views_loss,
        learning_rate=lambda step: scheduled_lr(settings.lr, "cosine", step, settings.steps),
        after_step=report,
    )
    return model.eval()


def embed(model: AnatomyEmbedding, grid: GridImage) -> tuple[torch.Tensor, torch.Tensor]:
    """(F, *spatial) global and local embeddings of a grid image (on the CPU)."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        global_map, local_map = model(torch.from_numpy(grid.pixels)[None, None].to(device))
    return global_map[0].cpu(), local_map[0].cpu()


def point_vectors(maps: tuple[torch.Tensor, torch.Tensor], position: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The global and local unit vectors at an array-order model position."""
    at = torch.tensor(np.asarray(position, dtype=np.float32))[None, None]
    return tuple(F.normalize(sample(m[None], at)[0, :, 0], dim=0) for m in maps)


def similarity(
    maps: tuple[torch.Tensor, torch.Tensor], vectors: tuple[torch.Tensor, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of every voxel's global and local vectors with `vectors`."""
    return tuple(torch.einsum("c...,c->...", m, v).numpy() for m, v in zip(maps, vectors))


#: The answer counts as converged when the global embedding's own best match lies within this many
#: model pixels of it: the coarse and the fine embedding agree on the place.
AGREE_PX = 2.0


#: Embedded images an `AnatomyLocaliser` keeps (about 35 MB each for a 64^3 volume at 8 mm): a
#: target located for several points, or for several references in an evaluation, is embedded once.
EMBEDDINGS_KEPT = 8


@dataclass(frozen=True)
class AnatomyLocaliser:
    """One-shot localisation by dense anatomical embeddings: the target voxel most alike the
    reference point (global + local cosine similarity); with a match radius, the best sum of the
    reference patch's normalised cross-correlation and `similarity_weight` times that similarity
    within the radius of the embedding's answer."""

    model: AnatomyEmbedding
    info: AnatomyInfo
    method: str = "anatomy"
    _kept: dict = field(default_factory=dict, repr=False, compare=False)

    def embedded(self, grid: GridImage) -> tuple[torch.Tensor, torch.Tensor]:
        """`embed` of a grid image, kept for the last EMBEDDINGS_KEPT images (held, so ids stay theirs)."""
        key = id(grid)
        if key not in self._kept:
            if len(self._kept) >= EMBEDDINGS_KEPT:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (grid, embed(self.model, grid))
        return self._kept[key][1]

    @property
    def dims(self) -> int:
        return self.info.dims

    @property
    def pixel_mm(self) -> float:
        return self.info.pixel_mm

    @property
    def patch(self) -> int:
        return self.info.patch

    def locate(
        self, reference: GridImage, point, targets: list[GridImage], match_radius_mm: float = 0.0
    ) -> list[Located]:
        vectors = point_vectors(self.embedded(reference), reference.to_model(np.asarray(point))[::-1])
        found = []
        for target in targets:
            global_similarity, local_similarity = similarity(self.embedded(target), vectors)
            combined = global_similarity + local_similarity
            answer = peak_position(combined)  # x, y[, z] model pixels
            converged = bool(np.linalg.norm(peak_position(global_similarity) - answer) <= AGREE_PX)
            if match_radius_mm > 0:
                score = correlation_map(reference, point, target, self.info.template_px)
                score = score + self.info.similarity_weight * combined
                answer = peak_position(within_radius(score, target, answer, match_radius_mm))
            xy = target.to_source(answer)
            found.append(Located(xy, target.source_mm(xy), 1, converged))
        return found

    def networks(self) -> list[tuple[torch.nn.Module, str]]:
        return [(self.model, "forward")]
