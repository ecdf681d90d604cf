"""The benchmark harness: settings, a workload and its reference, timing in alternating windows,
peak memory, and the report (JSON and table).

A workload is a callable that processes one batch and returns how many items it handled; its
reference does the same items' network work on resident tensors and nothing else. Both are warmed
up, then timed in alternating windows (so a slow spell of a shared machine hits both); a throughput
is items per call over the median call time, so one slow call does not skew it. `ratio` =
throughput / reference throughput. The workloads themselves: `workloads` (proto, segment,
quantify) and `prnet_workloads` (PRNet, 2D and 3D).
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from spectfsl.core.acceleration import Acceleration
from spectfsl.core.tables import Table, number
from spectfsl.errors import SpectfslError

WARMUP_CALLS = 2
#: Timed windows per workload and per reference, alternating.
ROUNDS = 3


@dataclass(frozen=True)
class BenchSettings:
    """Batch size (images), image side (pixels), numeric precision, torch.compile, seconds per workload,
    and channels-last memory format for the networks and their resident batches."""

    batch_size: int = 256
    size: int = 64
    precision: str = "fp32"
    compile: bool = False
    seconds: float = 10.0
    channels_last: bool = False

    @property
    def acceleration(self) -> Acceleration:
        return Acceleration(self.precision, self.compile, self.channels_last)

    @property
    def memory_format(self) -> torch.memory_format:
        return self.acceleration.memory_format

    def __post_init__(self) -> None:
        Acceleration(self.precision)  # refuses an unknown precision
        if self.batch_size < 1 or self.size < 16 or self.seconds <= 0:
            raise SpectfslError("--batch-size must be >= 1, --size >= 16 and --seconds > 0")


@dataclass(frozen=True)
class Workload:
    """A stable id (what scripts key on), a name and unit for people, the step and its reference."""

    id: str
    name: str
    unit: str
    step: Callable[[], int]
    reference: Callable[[], int]
    reference_name: str


@dataclass(frozen=True)
class Timing:
    """Call durations of one callable: throughput = items per call / median call time."""

    items: int
    durations: list[float]

    @property
    def median_call_s(self) -> float:
        return statistics.median(self.durations)

    @property
    def throughput(self) -> float:
        return self.items / self.median_call_s


@dataclass(frozen=True)
class Measurement:
    workload: Workload
    timing: Timing
    reference: Timing
    peak_memory_mb: float | None

    @property
    def ratio(self) -> float:
        return self.timing.throughput / self.reference.throughput


def time_calls(step: Callable[[], int], seconds: float, device: torch.device, minimum: int = 1) -> Timing:
    """Call `step` for about `seconds` (at least `minimum` calls), synchronising CUDA after each."""
    durations: list[float] = []
    items = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(durations) < minimum:
        start = time.perf_counter()
        items = step()
        _synchronise(device)
        durations.append(time.perf_counter() - start)
    return Timing(items, durations)


def measure(workload: Workload, seconds: float, device: torch.device) -> Measurement:
    """Warm both up, then time the workload and its reference in ROUNDS alternating windows."""
    for _ in range(WARMUP_CALLS):
        workload.step()
        workload.reference()
    _synchronise(device)
    window = seconds / ROUNDS
    steps: list[float] = []
    references: list[float] = []
    peak = None
    items = reference_items = 0
    for _ in range(ROUNDS):
        _reset_peak_memory(device)
        timing = time_calls(workload.step, window, device)
        peak = max(filter(None, [peak, _peak_memory_mb(device)]), default=None)
        reference = time_calls(workload.reference, window, device)
        steps += timing.durations
        references += reference.durations
        items, reference_items = timing.items, reference.items
    return Measurement(workload, Timing(items, steps), Timing(reference_items, references), peak)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: CUDA's allocator statistics, or Linux's resident high-water mark (clear_refs 5)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")


def _peak_memory_mb(device: torch.device) -> float | None:
    """CUDA: the most memory allocated since the reset; CPU: the process's peak resident memory (VmHWM)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux kB; peak of the whole run


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def library_versions() -> dict[str, str]:
    import torchvision

    from spectfsl import __version__

    return {
        "spectfsl": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def bench_report(settings: BenchSettings, device: torch.device, results: list[Measurement]) -> tuple[dict, list[Table]]:
    """The JSON document (SPEC schema) and the table of a run."""
    document = {
        "device": device_name(device),
        "versions": library_versions(),
        "settings": {
            "batch_size": settings.batch_size,
            "size": settings.size,
            "precision": settings.precision,
            "compile": settings.compile,
            "channels_last": settings.channels_last,
            "seconds": settings.seconds,
        },
        "workloads": [
            {
                "id": m.workload.id,
                "name": m.workload.name,
                "unit": m.workload.unit,
                "throughput": m.timing.throughput,
                "reference_throughput": m.reference.throughput,
                "ratio": m.ratio,
                "peak_memory_mb": m.peak_memory_mb,
                "reference": m.workload.reference_name,
                "calls": len(m.timing.durations),
                "median_call_s": m.timing.median_call_s,
            }
            for m in results
        ],
    }
    rows = tuple(
        (
            w["id"],
            number(w["throughput"], 1),
            number(w["reference_throughput"], 1),
            w["unit"],
            number(w["ratio"]),
            "" if w["peak_memory_mb"] is None else number(w["peak_memory_mb"], 0),
            w["reference"],
        )
        for w in document["workloads"]
    )
    title = (
        f"spectfsl bench on {document['device']}, batch {settings.batch_size}, "
        f"{settings.size}x{settings.size}, {settings.precision}{', compiled' if settings.compile else ''}"
        f"{', channels-last' if settings.channels_last else ''}"
    )
    note = (
        "ratio = throughput / reference (the workload's own network, bare, same run and settings); "
        "medians of timed calls; peak memory: resident (CPU) or CUDA allocated, MiB. "
        + ", ".join(f"{k} {v}" for k, v in document["versions"].items())
    )
    header = ("id", "throughput", "reference", "unit", "ratio", "peak MiB", "reference is")
    return document, [Table(title, header, rows, note)]
