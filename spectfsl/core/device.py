"""The one device picker, and CPU thread settings."""

from __future__ import annotations

import os

from spectfsl.errors import SpectfslError

DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto"):
    """`auto` -> cuda, then mps, then cpu; an explicit device that is absent is an error (exit 2)."""
    import torch

    requested = name.lower()
    kind = requested.split(":")[0]
    if kind not in DEVICES:
        raise SpectfslError(
            f"{{device}} must be one of {', '.join(DEVICES)} (or cuda:N), got '{name}'", settings="device"
        )
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if kind == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if kind == "cuda" and not cuda:
        raise SpectfslError(
            "{device} cuda: CUDA was asked for but no CUDA device is available; use {device} cpu (or auto)",
            settings="device",
        )
    if kind == "mps" and not mps:
        raise SpectfslError(
            "{device} mps: MPS was asked for but is not available; use {device} cpu (or auto)", settings="device"
        )
    return torch.device(requested)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def configure_cpu() -> None:
    """Use every core this process may run on (its share of them when torchrun starts several
    processes on the node), and flush denormals to zero.

    Denormal arithmetic once the loss nears zero slowed CPU fine-tuning 5-10x in calibration.
    """
    import torch

    from spectfsl.core.distributed import cores_per_process

    torch.set_num_threads(cores_per_process(usable_cores()))
    torch.set_flush_denormal(True)


def setup_device(name: str = "auto"):
    """`pick_device(name)`, with the CPU configured (threads, denormals): what every command needs.

    Under torchrun the process also joins its process group here, on cuda:LOCAL_RANK where CUDA
    is picked without an index (see `spectfsl.core.distributed`).
    """
    from spectfsl.core import distributed

    device = distributed.local_device(pick_device(name))
    configure_cpu()
    distributed.join(device)
    return device
