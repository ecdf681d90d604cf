"""Running under `torchrun`: the process group, per-rank seeds, DDP, and sharded batch inputs.

`torchrun --nproc_per_node=N -m spectfsl COMMAND ...` starts N processes with RANK, WORLD_SIZE and
LOCAL_RANK (and the rendezvous address) in their environment. A command that supports this joins
the process group when it picks its device (`spectfsl.core.device.setup_device`): nccl on CUDA,
with the device cuda:LOCAL_RANK, gloo on the CPU, with the cores shared among the node's processes.
The CLI leaves the group when the command ends, also on error.

Training (DistributedDataParallel): every rank reads all the inputs and draws its own samples with
a seed derived from `--seed` and its rank (rank 0 uses `--seed` itself, so a one-process run is
rank 0's run); batch sizes and episodes are per rank, so one optimiser step sees world size times
as many samples; gradients are averaged by DDP; losses are averaged over ranks before they are
reported or checked; only rank 0 writes model files and checkpoints.

Batch prediction: the inputs are listed once, in the order a single process reads them (folders
expanded to their files), and cut into WORLD_SIZE consecutive blocks of whole batch groups, one per
rank; rank 0 gathers the rows in rank order, which is the single-process order, and writes them.

Without torchrun (no WORLD_SIZE, or WORLD_SIZE=1) nothing here imports torch.distributed and no
process group exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from spectfsl.errors import SpectfslError

T = TypeVar("T")


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a torchrun launch (a single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def active(self) -> bool:
        """True with more than one process: work is shared and the ranks communicate."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes outputs, logs and progress."""
        return self.rank == 0


SINGLE = Launch()


def launched() -> Launch:
    """This process's place in a torchrun launch, from its environment (no torch import)."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    try:
        world_size = int(os.environ["WORLD_SIZE"])
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    except ValueError:
        raise SpectfslError("RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE must be integers") from None
    if not (0 <= rank < world_size and 0 <= local_rank < local_world_size):
        raise SpectfslError(f"RANK {rank} / WORLD_SIZE {world_size} (LOCAL_RANK {local_rank}) do not fit together")
    return Launch(rank, world_size, local_rank, local_world_size)


_joined: Launch | None = None


def current() -> Launch:
    """The launch this process has joined (`join`), else a single process."""
    return _joined or SINGLE


def check_command(words: Sequence[str], distributed_commands: Sequence[tuple[str, ...]]) -> None:
    """Refuse, under a torchrun launch of several processes, a command (its words, `prnet train`) not
    among `distributed_commands`: it would only repeat its whole job in every process."""
    if not launched().active:
        return
    if tuple(words[:2]) not in distributed_commands:
        supported = ", ".join(" ".join(command) for command in distributed_commands)
        name = " ".join(words[:2]) or "this command"
        raise SpectfslError(
            f"'spectfsl {name}' does not run under torchrun with several processes (it would repeat its whole "
            f"job in each); these do: {supported}"
        )


def join(device) -> Launch:
    """Join the launch's process group (once): nccl for a CUDA device, gloo otherwise. A single
    process joins nothing."""
    global _joined
    launch = launched()
    if not launch.active or _joined is not None:
        return current()
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    options = {"device_id": device} if backend == "nccl" else {}
    dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size, **options)
    _joined = launch
    return launch


def leave() -> None:
    """Leave the process group, if this process joined one (at the end of every command, also on error)."""
    global _joined
    if _joined is None:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    _joined = None


def local_device(device):
    """The device of this rank: cuda:LOCAL_RANK for `cuda` without an index, else `device` as picked."""
    import torch

    launch = launched()
    if launch.active and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", launch.local_rank)
        torch.cuda.set_device(device)
    return device


def cores_per_process(cores: int) -> int:
    """This process's share of the node's CPU cores (at least 1)."""
    return max(1, cores // launched().local_world_size) if launched().active else cores


# -- training ------------------------------------------------------------------------------------


def rank_seed(seed: int) -> int:
    """The sampling seed of this rank: `seed` on rank 0 (and in one process), a distinct seed derived
    from (`seed`, rank) on the others."""
    rank = current().rank
    if rank == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def replicate(model, device, unused_parameters: bool = False):
    """`model` wrapped in DistributedDataParallel when this process is one of several, else itself.

    `unused_parameters`: some parameters get no gradient in a step (PRNet's decoder when it does not
    reconstruct), which DDP must be told about.
    """
    if not current().active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=unused_parameters)


def sum_across(values: Sequence[float], device) -> list[float]:
    """Each value summed over the ranks (one all-reduce); the values themselves in one process."""
    if not current().active:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_gather(value: T) -> list[T]:
    """Every rank's `value`, in rank order (picklable values; `[value]` in one process)."""
    if not current().active:
        return [value]
    import torch.distributed as dist

    gathered: list[Any] = [None] * current().world_size
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast(value: T) -> T:
    """Rank 0's `value` on every rank (picklable values)."""
    if not current().active:
        return value
    import torch.distributed as dist

    holder = [value if current().is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


# -- batch prediction ----------------------------------------------------------------------------


def input_units(specs: Iterable[str]) -> list[str]:
    """IMAGE arguments as units of work in the order one process reads them: a folder becomes its
    files (and DICOM series), anything else stays one unit (a file, `PATH@N`, `PATH@A-B`, or an
    argument that cannot be read, which fails or is skipped where it is read)."""
    from pathlib import Path

    from spectfsl.core.files.loader import expand_inputs, split_frame_range

    units: list[str] = []
    for spec in specs:
        spec = str(spec)
        path, frames = split_frame_range(spec)
        if frames is not None or not Path(path).is_dir():
            units.append(spec)
            continue
        try:
            items = expand_inputs([spec])
        except SpectfslError:
            units.append(spec)
            continue
        units.extend(str(item) if isinstance(item, Path) else item.label for item, _ in items)
    return units


def in_groups(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` cut into consecutive groups of `size` (the last one shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def share(units: Sequence[T], group: int = 1) -> list[T]:
    """This rank's consecutive block of `units`, made of whole groups of `group` units counted from
    the first (blocks in rank order cover them all, in order).

    A batch command starts a new batch at every group, so a rank computes each group in the very
    batches one process would: kernels round differently with batch size, and whole groups keep
    the sharded output digit for digit the one-process output.
    """
    launch = current()
    if not launch.active:
        return list(units)
    groups = in_groups(list(units), group)
    per_rank, extra = divmod(len(groups), launch.world_size)
    start = launch.rank * per_rank + min(launch.rank, extra)
    return [unit for chunk in groups[start : start + per_rank + (1 if launch.rank < extra else 0)] for unit in chunk]


@dataclass(frozen=True)
class Share:
    """What one rank's block of inputs gave: its rows, or the user error that stopped it."""

    rows: list[dict[str, Any]]
    error: str | None = None
    exit_code: int = 0


def gather_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run this rank's rows and collect every rank's on rank 0, in rank order ([] on the others).

    A SpectfslError on any rank stops every rank with the error of the first rank (in input order)
    that had one, as one process would have stopped at that input; no rank waits for a peer that
    gave up.
    """
    try:
        mine = Share(list(rows))
    except SpectfslError as error:
        mine = Share([], str(error), error.exit_code)
    outcomes = all_gather(Share([], mine.error, mine.exit_code))
    failed = next((outcome for outcome in outcomes if outcome.error is not None), None)
    if failed is not None:
        error = SpectfslError(failed.error)
        error.exit_code = failed.exit_code
        raise error
    if not current().active:
        return mine.rows
    import torch.distributed as dist

    gathered: list[Any] = [None] * current().world_size if current().is_main else None
    dist.gather_object(mine.rows, gathered, dst=0)
    return [row for block in gathered for row in block] if current().is_main else []
