"""PRNet workloads, 2D (slices) and 3D (volumes) by `dims`: offsets of point pairs, locating a
landmark in targets, training steps; each next to the position head or a bare training step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.bench.harness import BenchSettings, Workload
from spectfsl.core.networks.prnet import PRNet

#: Per dimensionality: the stable ids and names of the locate and train workloads, the unit of a
#: target, and how many targets a locate call takes.
LOCATE = {
    2: ("prnet_locate", "prnet locate (targets)", "targets/s", 16),
    3: ("prnet3d_locate", "prnet locate, 3D (volumes)", "volumes/s", 4),
}
TRAIN = {2: ("prnet_train", "prnet train (steps)"), 3: ("prnet3d_train", "prnet train, 3D (steps)")}


def phantom_grids(count: int, pixel_mm: float, dims: int = 2):
    """Phantom images on the PRNet grid (synthetic data the benchmark makes itself): central slices
    (8 per patient) for a 2D model, whole volumes on the cubic grid for a 3D one."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.image import SpectImage
    from spectfsl.core.prnet.grid import grid_images, grid_volumes

    if dims == 3:
        cases = [make_patient(index) for index in range(count)]
        volumes = [
            SpectImage(c.counts.astype(np.float32), (c.voxel_mm,) * 2, c.voxel_mm, "phantom", c.patient) for c in cases
        ]
        return grid_volumes(volumes, pixel_mm)
    volumes = []
    for index in range(-(-count // 8)):  # 8 slices per patient, enough patients for `count`
        case = make_patient(index)
        volumes.append(
            SpectImage(
                case.counts[28:36].astype(np.float32), (case.voxel_mm,) * 2, case.voxel_mm, "phantom", case.patient
            )
        )
    return grid_images(volumes, pixel_mm)[:count]


def untrained_prnet(device: torch.device, settings: BenchSettings, dims: int = 2):
    """An untrained PRNet with `prnet train`'s defaults for `dims` and its metadata: speed does not
    depend on training."""
    from spectfsl.core.prnet.model_file import PRNetInfo
    from spectfsl.core.prnet.training import default_settings

    defaults = default_settings(dims)
    torch.manual_seed(0)
    model = PRNet(defaults.patch, defaults.channels, dims=dims, head_activation=defaults.head_activation)
    model = model.to(device).eval()
    settings.acceleration.prepare(model, "position")
    info = PRNetInfo(
        defaults.patch, defaults.channels, model.hidden, defaults.pixel_mm, 100.0, 0.0, dims=dims,
        head_activation=defaults.head_activation,
    )  # fmt: skip
    return model, info


def recorded_position_batches(model, call: Callable[[], object]) -> list[torch.Size]:
    """The shapes of the patch batches `call` sends through `model.position`."""
    shapes: list[torch.Size] = []
    original = model.position
    prepared = "position" in vars(model)  # an Acceleration replaced the method on this model

    def recording(patches: torch.Tensor) -> torch.Tensor:
        shapes.append(patches.shape)
        return original(patches)

    model.position = recording
    try:
        call()
    finally:
        if prepared:
            model.position = original
        else:
            del model.position  # back to the class's method
    return shapes


def bare_positions(model, shapes: list[torch.Size], items: int, settings: BenchSettings, device: torch.device):
    """The reference of the PRNet inference workloads: the position head on resident patch batches of
    exactly the shapes one workload call produced."""
    batches = [settings.acceleration.laid_out(torch.rand(shape, device=device)) for shape in shapes]

    def step() -> int:
        with torch.inference_mode():
            for batch in batches:
                model.position(batch)
        return items

    return step


def prnet_offset_pairs(settings: BenchSettings, device: torch.device) -> Workload:
    """`prnet offset` in bulk: anatomical offsets of `batch_size` point pairs on phantom slices (patch
    extraction from the images, then the position head)."""
    from spectfsl.core.prnet.grid import stack
    from spectfsl.core.prnet.locate import anatomical_positions

    model, info = untrained_prnet(device, settings)
    grids = phantom_grids(16, info.pixel_mm)
    images = stack(grids)
    generator = torch.Generator().manual_seed(0)
    pairs = settings.batch_size
    indices = torch.randint(len(grids), (2 * pairs,), generator=generator)
    side = torch.tensor(images.shape[-1:-3:-1], dtype=torch.float32)
    points = torch.rand(2 * pairs, 2, generator=generator) * (side - 1)
    pair_images = images[indices]

    def step() -> int:
        positions = anatomical_positions(model, info, pair_images, points)
        (positions[pairs:] - positions[:pairs]).numpy()
        return pairs

    shapes = recorded_position_batches(model, step)
    reference = bare_positions(model, shapes, pairs, settings, device)
    return Workload("prnet_offset", "prnet offset (point pairs)", "pairs/s", step, reference, "PRNet position head")


def prnet_locate(settings: BenchSettings, device: torch.device, dims: int = 2) -> Workload:
    """`prnet locate`: one landmark in 16 target slices (2D) or 4 volumes (3D) per call, 13 starts
    each making 5 moves (trained models converged in 4-7 moves on the phantom; an untrained one would
    not stop early); the reference is the position head on the very patch batches a call made."""
    from spectfsl.core.prnet.locate import locate

    workload_id, name, unit, targets_per_call = LOCATE[dims]
    model, info = untrained_prnet(device, settings, dims)
    grids = phantom_grids(targets_per_call + 1, info.pixel_mm, dims)
    reference, targets = grids[0], grids[1:]
    point = np.array(reference.pixels.shape[::-1]) / 2

    def step() -> int:
        locate([(model, info)], reference, reference.to_source(point), targets, max_steps=5)
        return len(targets)

    shapes = recorded_position_batches(model, step)
    bare = bare_positions(model, shapes, len(targets), settings, device)
    head = "PRNet position head" if dims == 2 else "3D PRNet position head"
    return Workload(workload_id, name, unit, step, bare, head)


def prnet_train(settings: BenchSettings, device: torch.device, dims: int = 2) -> Workload:
    """`prnet train`: 10 training steps per call at the defaults of `dims` (2D: 16 pairs of 32-pixel
    patches; 3D: 32 pairs of 16-voxel cubes), set-up included; the reference is 10 bare steps
    (forward, loss, backward, Adam) on a resident batch."""
    from spectfsl.core.prnet.training import default_settings, train_prnet

    workload_id, name = TRAIN[dims]
    train_settings = replace(default_settings(dims), epochs=1, iters=10)
    grids = phantom_grids(16 if dims == 2 else 4, train_settings.pixel_mm, dims)

    def step() -> int:
        train_prnet(grids, train_settings, device)
        return train_settings.iters

    bare = _bare_training(train_settings, settings, device)
    return Workload(workload_id, name, "steps/s", step, bare, f"bare {'3D ' if dims == 3 else ''}PRNet training step")


def _bare_training(prnet_settings, settings: BenchSettings, device: torch.device) -> Callable[[], int]:
    """The reference of the training workloads: `iters` bare steps (forward, loss, backward, Adam) on
    a resident batch of `batch_size` pairs of patches."""
    dims, patch = prnet_settings.dims, prnet_settings.patch
    torch.manual_seed(0)
    model = PRNet(patch, prnet_settings.channels, dims=dims, head_activation=prnet_settings.head_activation).to(device)
    if dims == 2:
        model = model.to(memory_format=settings.memory_format)
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=prnet_settings.lr)
    pairs = prnet_settings.batch_size
    patches = torch.rand(2 * pairs, 1, *(patch,) * dims, device=device)
    if dims == 2:
        patches = patches.to(memory_format=settings.memory_format)
    target = torch.rand(pairs, dims, device=device)

    def bare() -> int:
        for _ in range(prnet_settings.iters):
            coordinates, _ = model(patches, reconstruct=False)
            loss = F.mse_loss(coordinates[pairs:] - coordinates[:pairs], target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return prnet_settings.iters

    return bare
