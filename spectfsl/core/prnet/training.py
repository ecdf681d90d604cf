"""PRNet self-supervised training on the model grid (see `spectfsl.core.prnet.grid`).

Images are normalised like `prepare` (99.5th percentile of non-zero voxels -> 1) and resampled to
one pixel size (`pixel_mm`, stored in the model). Training draws pairs of points inside the body
(normalised intensity >= BODY_THRESHOLD) of the same slice, crops a `patch` x `patch` window around
each (zero-padded at borders), and minimises

    L = L_dis + lambda * L_rec
    L_dis = mean squared error between a(c_j) - a(c_i) and (c_j - c_i) / offset_scale_mm
    L_rec = mean squared error between the decoded patches and the patches

where a() is the position head's output and c the points in mm. The model then maps any patch to
anatomical coordinates in mm: a() * offset_scale_mm.

lambda defaults to 0: localisation needs only the position head, and the decoder's term costs a
training step more time; a model needs lambda > 0 for `prnet reconstruct`, which shows the decoder's
output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core import distributed
from spectfsl.core.checkpoint import Checkpointer, TrainingState, fingerprint
from spectfsl.core.networks.prnet import HEAD_ACTIVATIONS, PRNet
from spectfsl.core.prnet.grid import BODY_THRESHOLD, GridImage, extract_patches, stack
from spectfsl.core.prnet.model_file import PRNetInfo
from spectfsl.core.schedule import LR_SCHEDULES, scheduled_lr
from spectfsl.core.training import run_steps
from spectfsl.errors import SpectfslError


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
    dims: int = 2
    lr_schedule: str = "constant"  # or "cosine": from lr down to 0 over the run
    head_activation: str = "relu"  # or "leaky_relu" (the 3D default; see `default_settings`)

    def __post_init__(self) -> None:
        if self.dims not in (2, 3):
            raise SpectfslError(f"{{dims}} must be 2 or 3, got {self.dims}", settings="dims")
        if self.lr_schedule not in LR_SCHEDULES:
            raise SpectfslError(
                f"{{lr_schedule}} must be one of {', '.join(LR_SCHEDULES)}, got '{self.lr_schedule}'",
                settings="lr_schedule",
            )
        if self.head_activation not in HEAD_ACTIVATIONS:
            names = ", ".join(HEAD_ACTIVATIONS)
            raise SpectfslError(
                f"{{head_activation}} must be one of {names}, got '{self.head_activation}'", settings="head_activation"
            )
        if self.patch < 16 or self.patch % 16:
            raise SpectfslError(f"{{patch}} must be a multiple of 16, got {self.patch}", settings="patch")
        if min(self.epochs, self.iters, self.batch_size) < 1 or self.pixel_mm <= 0 or self.offset_scale_mm <= 0:
            raise SpectfslError(
                "{epochs}, {iters} and {batch_size} must be >= 1; {pixel_mm} and {offset_scale_mm} > 0",
                settings=("epochs", "iters", "batch_size", "pixel_mm", "offset_scale_mm"),
            )


def default_settings(dims: int, start: PRNetInfo | None = None) -> PRNetSettings:
    """The defaults of `prnet train` for a 2D or 3D model; training from a model (`start`) keeps its
    patch, pixel size, channels, head activation and offset scale.

    3D: 16-voxel cubic patches on an 8 mm grid (a 128 mm field, like the 2D default's 32 pixels at
    4 mm) and 8 channels in the first block, so that a training step on a CPU takes tens of
    milliseconds rather than a second; 600 steps of 32 pairs with a cosine learning-rate decay; leaky
    ReLU in the position head, so that no output axis can die. 2D: 32-pixel patches at 4 mm, 1500
    steps of 16 pairs with cosine decay. `benchmarks/localisation.py` compares settings over seeds;
    50 epochs with a constant learning rate give the study's run.
    """
    if start is not None:
        architecture = {"patch": start.patch, "pixel_mm": start.pixel_mm, "channels": start.channels}
        architecture |= {"head_activation": start.head_activation, "offset_scale_mm": start.offset_scale_mm}
        return replace(default_settings(dims), **architecture)
    if dims == 3:
        return PRNetSettings(
            patch=16,
            pixel_mm=8.0,
            channels=8,
            dims=3,
            epochs=60,
            iters=10,
            batch_size=32,
            lr_schedule="cosine",
            head_activation="leaky_relu",
        )
    return PRNetSettings(dims=dims, epochs=150, lr_schedule="cosine")


def training_layout(settings: PRNetSettings, device: torch.device) -> torch.memory_format:
    """The memory layout of a training run's weights and patches: channels-last for 3D on the CPU (the
    same arithmetic; oneDNN computes 3D convolution gradients faster in it), the default layout
    elsewhere."""
    if settings.dims == 3 and torch.device(device).type == "cpu":
        return torch.channels_last_3d
    return torch.contiguous_format


class PairSampler:
    """Pairs of body points in the same grid image, a slice or a volume ((x, y[, z]) in model pixels,
    with sub-pixel jitter)."""

    def __init__(self, grids: list[GridImage], generator: torch.Generator, max_offset_px: float | None = None) -> None:
        self.body = [np.argwhere(g.pixels >= BODY_THRESHOLD)[:, ::-1].astype(np.float32) for g in grids]
        self.usable = [i for i, points in enumerate(self.body) if len(points) >= 2]
        if not self.usable:
            raise SpectfslError(f"no image has body pixels (normalised intensity >= {BODY_THRESHOLD}) to train on")
        self.generator = generator
        self.max_offset_px = max_offset_px

    def sample(self, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(image indices (B,), points i (B, dims), points j (B, dims))."""
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
        dims = self.body[self.usable[0]].shape[1]
        jitter = torch.rand(2, count, dims, generator=self.generator) - 0.5
        return indices, torch.from_numpy(np.stack(first)) + jitter[0], torch.from_numpy(np.stack(second)) + jitter[1]


def train_prnet(
    grids: list[GridImage],
    settings: PRNetSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
    initial: tuple[PRNet, PRNetInfo] | None = None,
) -> tuple[PRNet, list[float]]:
    """Train a PRNet on grid images; returns the model and the mean loss of each epoch.

    `on_step(epoch, iteration, loss)` reports progress; `checkpointer` saves (and with --resume
    restores) the run's state, so that an interrupted run can continue where it stopped; `initial`
    is a trained PRNet (model, info) of the same architecture and grid to start from (None: random).
    """
    device = torch.device(device)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(distributed.rank_seed(settings.seed))
    images = stack(grids)
    max_offset_px = settings.max_offset_mm / settings.pixel_mm if settings.max_offset_mm else None
    sampler = PairSampler(grids, generator, max_offset_px)
    if any(grid.dims != settings.dims for grid in grids):
        raise SpectfslError(f"a {settings.dims}D model trains on {'volumes' if settings.dims == 3 else '2D slices'}")
    model = PRNet(settings.patch, settings.channels, dims=settings.dims, head_activation=settings.head_activation)
    if initial is not None:
        _check_same_start(initial, model, settings)
        model.load_state_dict(initial[0].state_dict())
    layout = training_layout(settings, device)
    model = model.to(device, memory_format=layout).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    reconstruct = settings.reconstruction_weight > 0
    state = TrainingState(model, optimiser, generators={"pairs": generator})
    checkpointer = checkpointer or Checkpointer()
    identity = {
        "kind": "prnet train",
        "settings": asdict(settings),
        "inputs_sha256": fingerprint(images),
        "initial_model_sha256": fingerprint(*model.state_dict().values()),
    }
    checkpointer.start(state, identity)
    network = distributed.replicate(model, device, unused_parameters=not reconstruct)
    total = settings.epochs * settings.iters

    def pair_loss(step: int) -> torch.Tensor:
        indices, first, second = sampler.sample(settings.batch_size)
        pair_images = images[torch.cat([indices, indices])]
        patches = extract_patches(pair_images, torch.cat([first, second]), settings.patch)
        gain_shape = (settings.batch_size,) + (1,) * (settings.dims + 1)
        gain = 1.0 + 0.1 * (torch.rand(gain_shape, generator=generator) * 2 - 1)
        patches = (patches * torch.cat([gain, gain])).to(device).contiguous(memory_format=layout)
        coordinates, decoded = network(patches, reconstruct=reconstruct)
        predicted = coordinates[settings.batch_size :] - coordinates[: settings.batch_size]
        target = ((second - first) * settings.pixel_mm / settings.offset_scale_mm).to(device)
        loss = F.mse_loss(predicted, target)
        if reconstruct:
            loss = loss + settings.reconstruction_weight * F.mse_loss(decoded, patches)
        return loss

    def describe(step: int) -> str:
        epoch, iteration = divmod(step, settings.iters)
        return f"epoch {epoch + 1}, iteration {iteration + 1}"

    def report(step: int, loss: float) -> None:
        if on_step is not None:
            on_step(*divmod(step, settings.iters), loss)

    run_steps(
        state,
        total,
        pair_loss,
        checkpointer,
        lambda step: scheduled_lr(settings.lr, settings.lr_schedule, step, total),
        describe,
        report,
    )
    epoch_losses = [
        float(np.mean(state.losses[epoch * settings.iters : (epoch + 1) * settings.iters]))
        for epoch in range(settings.epochs)
    ]
    return model.to(memory_format=torch.contiguous_format).eval(), epoch_losses


def _check_same_start(initial: tuple[PRNet, PRNetInfo], model: PRNet, settings: PRNetSettings) -> None:
    """Refuse a starting model whose architecture or grid differs from what the settings describe."""
    network, info = initial
    names = ("dims", "patch", "channels", "hidden", "head_activation")
    found = {name: getattr(network, name) for name in names} | {
        "pixel_mm": info.pixel_mm,
        "offset_scale_mm": info.offset_scale_mm,
    }
    wanted = {name: getattr(model, name) for name in names} | {
        "pixel_mm": settings.pixel_mm,
        "offset_scale_mm": settings.offset_scale_mm,
    }
    different = [f"{name} {found[name]} (asked: {wanted[name]})" for name in found if found[name] != wanted[name]]
    if different:
        raise SpectfslError(
            f"the starting model differs from the model to train: {', '.join(different)}; leave those options "
            "out, or start from random weights ({init} random)",
            settings="init",
        )


def train_model(
    grids: list[GridImage],
    settings: PRNetSettings,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
    checkpointer: Checkpointer | None = None,
    initial: tuple[PRNet, PRNetInfo] | None = None,
    parent: dict[str, str] | None = None,
) -> tuple[PRNet, PRNetInfo]:
    """`prnet train`: train on grid images (from `initial`, named `parent` in the metadata: `{"name",
    "sha256"}`; None: random weights) and describe the model with its training record."""
    model, losses = train_prnet(grids, settings, device, on_step, checkpointer, initial)
    record = {
        "epochs": settings.epochs,
        "iters": settings.iters,
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "seed": settings.seed,
        "max_offset_mm": settings.max_offset_mm,
        "lr_schedule": settings.lr_schedule,
        "slices" if settings.dims == 2 else "volumes": len(grids),
        "world_size": distributed.current().world_size,
        "epoch_losses": losses,
        "final_loss": losses[-1],
    }
    info = PRNetInfo(
        settings.patch,
        settings.channels,
        model.hidden,
        settings.pixel_mm,
        settings.offset_scale_mm,
        settings.reconstruction_weight,
        training=record,
        dims=settings.dims,
        head_activation=settings.head_activation,
        parent=parent,
    )
    return model, info
