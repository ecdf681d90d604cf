"""Throughput benchmarks: each workload next to the raw backbone forward pass, same run, same settings.

A workload is a callable that processes one batch and returns how many items it handled. Each is
warmed up, then called repeatedly for `seconds`; its rate is items per call divided by the median
call time, so one slow call (a page fault, another process) does not skew it.
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spectfsl.core.models.factory import create_model
from spectfsl.core.tables import Table, number
from spectfsl.errors import SpectfslError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
WARMUP_CALLS = 2


@dataclass(frozen=True)
class BenchSettings:
    """Batch size (images), image side (pixels), numeric precision, torch.compile, seconds per workload."""

    batch_size: int = 256
    size: int = 64
    precision: str = "fp32"
    compile: bool = False
    seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise SpectfslError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")
        if self.batch_size < 1 or self.size < 16 or self.seconds <= 0:
            raise SpectfslError("--batch-size must be >= 1, --size >= 16 and --seconds > 0")


@dataclass(frozen=True)
class Measurement:
    workload: str
    unit: str
    rate: float
    calls: int
    median_call_s: float


def measure(name: str, unit: str, step: Callable[[], int], seconds: float, device: torch.device) -> Measurement:
    """Rate of `step` (items per second from the median call time) over about `seconds`."""
    for _ in range(WARMUP_CALLS):
        step()
    _synchronise(device)
    durations: list[float] = []
    items = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(durations) < 3:
        start = time.perf_counter()
        items = step()
        _synchronise(device)
        durations.append(time.perf_counter() - start)
    median = statistics.median(durations)
    return Measurement(name, unit, items / median, len(durations), median)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def precision_context(device: torch.device, precision: str) -> Iterator[None]:
    dtype = PRECISIONS[precision]
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


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


def backbone_forward(settings: BenchSettings, device: torch.device) -> tuple[Callable[[], int], torch.nn.Module]:
    """The reference: the ResNet-18 embedding's forward pass on a resident batch."""
    backbone = create_model("resnet18").to(device).eval()
    network = torch.compile(backbone) if settings.compile else backbone
    batch = torch.rand(settings.batch_size, 1, settings.size, settings.size, device=device)

    def step() -> int:
        with torch.inference_mode(), precision_context(device, settings.precision):
            network(batch)
        return settings.batch_size

    return step, backbone


def proto_predict_files(settings: BenchSettings, device: torch.device, folder: Path) -> Callable[[], int]:
    """`proto predict` end to end over `batch_size` crop files: load, normalise, window, embed, classify."""
    from spectfsl.core.fewshot.bank import BankInfo
    from spectfsl.core.fewshot.prototypes import PrototypicalClassifier
    from spectfsl.core.fewshot.workflows import predict_images
    from spectfsl.core.files.loader import save_npy
    from spectfsl.core.image import SpectImage
    from spectfsl.core.imaging.preprocess import NORMALISATION

    rng = np.random.default_rng(0)
    for index in range(settings.batch_size):
        crop = rng.random((settings.size, settings.size)).astype(np.float32)
        save_npy(
            folder / f"{index:05d}.npy",
            SpectImage(crop, (2.0, 2.0), None, "bench", "bench", normalisation=NORMALISATION),
        )
    classes = ["myocardium", "ventricles", "liver"]
    classifier = PrototypicalClassifier(create_model("resnet18"), classes, "cl2n", device, settings.size)
    classifier.fit(rng.random((9, settings.size, settings.size)).astype(np.float32), classes * 3)
    info = BankInfo(
        classes,
        "resnet18",
        "random",
        None,
        False,
        settings.size,
        settings.size,
        2.0,
        "cl2n",
        classifier.temperature,
        classifier.ood_threshold,
    )

    def step() -> int:
        with precision_context(device, settings.precision):
            return sum(1 for _ in predict_images(classifier, info, [str(folder)], settings.batch_size))

    return step


def _phantom_grids(count: int, pixel_mm: float):
    """Central slices of phantom patients on the PRNet grid (synthetic data the benchmark makes itself)."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.image import SpectImage
    from spectfsl.core.localisation.grid import grid_images

    volumes = []
    for index in range(max(1, count // 8)):
        case = make_patient(index)
        volumes.append(
            SpectImage(
                case.counts[28:36].astype(np.float32), (case.voxel_mm,) * 2, case.voxel_mm, "phantom", case.patient
            )
        )
    return grid_images(volumes, pixel_mm)[:count]


def prnet_train_steps(settings: BenchSettings, device: torch.device) -> Callable[[], int]:
    """PRNet training steps (16 pairs of 32-pixel patches, lambda 0), 10 per call."""
    from spectfsl.core.localisation.training import PRNetSettings, train_prnet

    grids = _phantom_grids(16, 4.0)
    prnet_settings = PRNetSettings(epochs=1, iters=10)

    def step() -> int:
        train_prnet(grids, prnet_settings, device)
        return prnet_settings.iters

    return step


def prnet_locate_targets(settings: BenchSettings, device: torch.device) -> Callable[[], int]:
    """`prnet locate`: one landmark in 16 target slices per call, 13 starts each making 5 moves (trained
    models converged in 4-7 moves on the phantom; an untrained one would not stop early)."""
    from spectfsl.core.localisation.locate import locate
    from spectfsl.core.localisation.model_file import PRNetInfo
    from spectfsl.core.models.prnet import PRNet

    grids = _phantom_grids(17, 4.0)
    torch.manual_seed(0)
    model = PRNet(32).to(device).eval()
    stages = [(model, PRNetInfo(32, 16, model.hidden, 4.0, 100.0, 0.0))]
    reference, targets = grids[0], grids[1:]
    point = np.array(reference.pixels.shape[::-1]) / 2

    def step() -> int:
        locate(stages, reference, reference.to_source(point), targets, max_steps=5)
        return len(targets)

    return step


def run_benchmarks(
    settings: BenchSettings, device: torch.device, on_workload: Callable[[str], None] | None = None
) -> list[Measurement]:
    """Measure the backbone reference and every workload with `settings` on `device`."""
    reference_step, _ = backbone_forward(settings, device)
    with tempfile.TemporaryDirectory(prefix="spectfsl-bench-") as scratch:
        workloads = [
            ("backbone forward (reference)", "images/s", reference_step),
            ("proto predict (files, end to end)", "images/s", proto_predict_files(settings, device, Path(scratch))),
            ("prnet train", "steps/s", prnet_train_steps(settings, device)),
            ("prnet locate", "targets/s", prnet_locate_targets(settings, device)),
        ]
        results = []
        for name, unit, step in workloads:
            if on_workload is not None:
                on_workload(name)
            results.append(measure(name, unit, step, settings.seconds, device))
    return results


def bench_report(settings: BenchSettings, device: torch.device, results: list[Measurement]) -> tuple[dict, list[Table]]:
    """The JSON document and the table of a run: each workload's rate and its ratio to the backbone."""
    reference = results[0].rate
    document = {
        "device": device_name(device),
        "settings": {
            "batch_size": settings.batch_size,
            "size": settings.size,
            "precision": settings.precision,
            "compile": settings.compile,
            "seconds": settings.seconds,
        },
        "versions": library_versions(),
        "workloads": [
            {
                "name": r.workload,
                "unit": r.unit,
                "rate": r.rate,
                "ratio_to_backbone": r.rate / reference,
                "calls": r.calls,
                "median_call_s": r.median_call_s,
            }
            for r in results
        ],
    }
    rows = tuple(
        (
            w["name"],
            number(w["rate"], 1),
            w["unit"],
            number(w["ratio_to_backbone"]),
            str(w["calls"]),
            number(w["median_call_s"], 4),
        )
        for w in document["workloads"]
    )
    title = (
        f"spectfsl bench on {document['device']}, batch {settings.batch_size}, "
        f"{settings.size}x{settings.size}, {settings.precision}"
    )
    note = ", ".join(f"{k} {v}" for k, v in document["versions"].items())
    header = ("workload", "rate", "unit", "ratio to backbone", "calls", "median call (s)")
    return document, [Table(title, header, rows, note)]
