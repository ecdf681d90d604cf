"""Throughput benchmarks: each workload next to its own network's bare pass, same run, same settings.

A workload is a callable that processes one batch and returns how many items it handled; its
reference does the same items' network work on resident tensors and nothing else (the ResNet-18
forward pass for `proto_predict`; the PRNet position head on the very patch batches a call made
for `prnet_offset` and `prnet_locate`; a bare PRNet training step on a resident batch for
`prnet_train`; the segmentation network's forward pass on a resident volume for
`segment_predict`). Both are warmed up, then timed in alternating windows (so a slow spell of a
shared machine hits both); a throughput is items per call over the median call time, so one slow
call does not skew it. `ratio` = throughput / reference throughput.
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spectfsl.core.acceleration import Acceleration
from spectfsl.core.models.factory import create_model
from spectfsl.core.models.prnet import PRNet
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


def backbone_forward(settings: BenchSettings, device: torch.device, backbone: torch.nn.Module) -> Callable[[], int]:
    """ResNet-18's bare forward pass on a resident batch: `proto_predict`'s reference."""
    batch = torch.rand(settings.batch_size, 1, settings.size, settings.size, device=device)
    batch = batch.to(memory_format=settings.memory_format)

    def step() -> int:
        with torch.inference_mode():
            backbone(batch)
        return settings.batch_size

    return step


def proto_predict_files(settings: BenchSettings, device: torch.device, folder: Path) -> Workload:
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
    torch.manual_seed(0)
    backbone = create_model("resnet18")
    classifier = PrototypicalClassifier(backbone, classes, "cl2n", device, settings.size)
    classifier.fit(rng.random((9, settings.size, settings.size)).astype(np.float32), classes * 3)
    classifier.accelerate(settings.acceleration)
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
        return sum(1 for _ in predict_images(classifier, info, [str(folder)], settings.batch_size))

    return Workload(
        "proto_predict",
        "proto predict (files, end to end)",
        "images/s",
        step,
        backbone_forward(settings, device, classifier.backbone),
        "ResNet-18 forward on a resident batch",
    )


def _phantom_grids(count: int, pixel_mm: float):
    """Central slices of phantom patients on the PRNet grid (synthetic data the benchmark makes itself)."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.image import SpectImage
    from spectfsl.core.localisation.grid import grid_images

    volumes = []
    for index in range(-(-count // 8)):  # 8 slices per patient, enough patients for `count`
        case = make_patient(index)
        volumes.append(
            SpectImage(
                case.counts[28:36].astype(np.float32), (case.voxel_mm,) * 2, case.voxel_mm, "phantom", case.patient
            )
        )
    return grid_images(volumes, pixel_mm)[:count]


def _prnet(device: torch.device, settings: BenchSettings):
    """An untrained PRNet (the default 32-pixel patch) and its metadata: speed does not depend on training."""
    from spectfsl.core.localisation.model_file import PRNetInfo

    torch.manual_seed(0)
    model = PRNet(32).to(device).eval()
    settings.acceleration.prepare(model, "position")
    return model, PRNetInfo(32, 16, model.hidden, 4.0, 100.0, 0.0)


def _recorded_position_batches(model, call: Callable[[], object]) -> list[torch.Size]:
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


def _bare_positions(model, shapes: list[torch.Size], items: int, settings: BenchSettings, device: torch.device):
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
    from spectfsl.core.localisation.grid import stack
    from spectfsl.core.localisation.locate import anatomical_positions

    model, info = _prnet(device, settings)
    grids = _phantom_grids(16, info.pixel_mm)
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

    shapes = _recorded_position_batches(model, step)
    reference = _bare_positions(model, shapes, pairs, settings, device)
    return Workload("prnet_offset", "prnet offset (point pairs)", "pairs/s", step, reference, "PRNet position head")


def prnet_locate_targets(settings: BenchSettings, device: torch.device) -> Workload:
    """`prnet locate`: one landmark in 16 target slices per call, 13 starts each making 5 moves (trained
    models converged in 4-7 moves on the phantom; an untrained one would not stop early)."""
    from spectfsl.core.localisation.locate import locate

    model, info = _prnet(device, settings)
    grids = _phantom_grids(17, info.pixel_mm)
    stages = [(model, info)]
    reference, targets = grids[0], grids[1:]
    point = np.array(reference.pixels.shape[::-1]) / 2

    def step() -> int:
        locate(stages, reference, reference.to_source(point), targets, max_steps=5)
        return len(targets)

    shapes = _recorded_position_batches(model, step)
    bare = _bare_positions(model, shapes, len(targets), settings, device)
    return Workload("prnet_locate", "prnet locate (targets)", "targets/s", step, bare, "PRNet position head")


def prnet_train_steps(settings: BenchSettings, device: torch.device) -> Workload:
    """`prnet train`: 10 training steps per call (16 pairs of 32-pixel patches, lambda 0), model set-up
    included; the reference is 10 bare steps (forward, loss, backward, Adam) on a resident batch."""
    from spectfsl.core.localisation.training import PRNetSettings, train_prnet

    grids = _phantom_grids(16, 4.0)
    prnet_settings = PRNetSettings(epochs=1, iters=10)

    def step() -> int:
        train_prnet(grids, prnet_settings, device)
        return prnet_settings.iters

    bare = _bare_training(prnet_settings.patch, prnet_settings.channels, 2, prnet_settings, settings, device)
    return Workload("prnet_train", "prnet train (steps)", "steps/s", step, bare, "bare PRNet training step")


def _bare_training(patch: int, channels: int, dims: int, prnet_settings, settings: BenchSettings, device):
    """The reference of the training workloads: `iters` bare steps (forward, loss, backward, Adam) on
    a resident batch of `batch_size` pairs of patches."""
    torch.manual_seed(0)
    model = PRNet(patch, channels, dims=dims, head_activation=prnet_settings.head_activation).to(device)
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


def _phantom_volumes(count: int, pixel_mm: float):
    """Phantom patients' volumes on the cubic 3D PRNet grid (synthetic data the benchmark makes itself)."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.image import SpectImage
    from spectfsl.core.localisation.grid import grid_volumes

    volumes = []
    for index in range(count):
        case = make_patient(index)
        spacing = (case.voxel_mm, case.voxel_mm)
        volumes.append(SpectImage(case.counts.astype(np.float32), spacing, case.voxel_mm, "phantom", case.patient))
    return grid_volumes(volumes, pixel_mm)


def _prnet3d(device: torch.device, settings: BenchSettings):
    """An untrained 3D PRNet with the 3D defaults (16-voxel cubes at 8 mm) and its metadata."""
    from spectfsl.core.localisation.model_file import PRNetInfo
    from spectfsl.core.localisation.training import default_settings

    defaults = default_settings(3)
    torch.manual_seed(0)
    model = PRNet(defaults.patch, defaults.channels, dims=3, head_activation=defaults.head_activation)
    model = model.to(device).eval()
    settings.acceleration.prepare(model, "position")
    info = PRNetInfo(
        defaults.patch,
        defaults.channels,
        model.hidden,
        defaults.pixel_mm,
        100.0,
        0.0,
        dims=3,
        head_activation=defaults.head_activation,
    )
    return model, info


def prnet3d_locate_volumes(settings: BenchSettings, device: torch.device) -> Workload:
    """`prnet locate` with a 3D model: one landmark in 4 phantom volumes per call, 13 starts each making
    5 moves; the reference is the position head on the very patch batches a call made."""
    from spectfsl.core.localisation.locate import locate

    model, info = _prnet3d(device, settings)
    grids = _phantom_volumes(5, info.pixel_mm)
    reference, targets = grids[0], grids[1:]
    point = np.array(reference.pixels.shape[::-1]) / 2

    def step() -> int:
        locate([(model, info)], reference, reference.to_source(point), targets, max_steps=5)
        return len(targets)

    shapes = _recorded_position_batches(model, step)
    bare = _bare_positions(model, shapes, len(targets), settings, device)
    return Workload("prnet3d_locate", "prnet locate, 3D (volumes)", "volumes/s", step, bare, "3D PRNet position head")


def prnet3d_train_steps(settings: BenchSettings, device: torch.device) -> Workload:
    """`prnet train --dims 3`: 10 training steps per call at the 3D defaults (16 pairs of 16-voxel
    cubes), set-up included; the reference is 10 bare steps on a resident batch."""
    from spectfsl.core.localisation.training import default_settings, train_prnet

    train_settings = replace(default_settings(3), epochs=1, iters=10)
    grids = _phantom_volumes(4, train_settings.pixel_mm)

    def step() -> int:
        train_prnet(grids, train_settings, device)
        return train_settings.iters

    bare = _bare_training(train_settings.patch, train_settings.channels, 3, train_settings, settings, device)
    return Workload("prnet3d_train", "prnet train, 3D (steps)", "steps/s", step, bare, "bare 3D PRNet training step")


def segment_predict_volume(
    settings: BenchSettings, device: torch.device, scratch: Path, crop: int | None = None
) -> Workload:
    """`segment predict` on a 64^3 phantom DICOM: read, normalise, label every voxel (in windows of
    `crop`, default `segment fit`'s), write the NIfTI label map, count voxels per class; the reference
    is the network's forward pass on the resident volume."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.files.dicom import write_nm_volume
    from spectfsl.core.files.loader import load_image
    from spectfsl.core.imaging.preprocess import normalise_intensity
    from spectfsl.core.segmentation.model_file import Segmenter, SegmentInfo
    from spectfsl.core.segmentation.output import write_label_nifti
    from spectfsl.core.segmentation.training import SegmentSettings, network_for
    from spectfsl.core.segmentation.workflows import segment_image, volume_row

    case = make_patient(0)
    path = scratch / "segment.dcm"
    write_nm_volume(path, np.clip(case.counts, 0, 65535).astype(np.uint16), case.voxel_mm, case.patient)
    fit = SegmentSettings() if crop is None else SegmentSettings(crop=crop)
    torch.manual_seed(0)
    network = network_for(fit, 4, 3).to(device).eval()
    names = ["background", "myocardium", "ventricles", "liver"]
    info = SegmentInfo("finetune", 3, fit.channels, fit.embedding, [0, 1, 2, 3], names, [], None, float("nan"))
    info.training["crop"] = fit.crop
    segmenter = Segmenter(network, None, info)
    voxels = int(np.prod(case.counts.shape))

    def step() -> int:
        image = load_image(path)
        labels = segment_image(segmenter, image)
        write_label_nifti(scratch / "segment_labels.nii.gz", image, labels)
        volume_row(image, labels, info.classes)
        return voxels

    resident = torch.from_numpy(normalise_intensity(case.counts.astype(np.float32)))[None, None].to(device)

    @torch.no_grad()
    def bare() -> int:
        network(resident)
        return voxels

    return Workload("segment_predict", "segment predict, 64^3 volume", "voxels/s", step, bare, "segmentation network")


def quantify_scan(settings: BenchSettings, device: torch.device, scratch: Path) -> Workload:
    """`quantify` on a 64^3 phantom DICOM with its label map: read both, find the LV axis, sample the
    polar map, score the segments; the reference is the polar sampling alone on the resident arrays."""
    from spectfsl.core.data.phantom import LV_CLASS_NAMES, make_patient, write_case
    from spectfsl.core.files.loader import load_image
    from spectfsl.core.quantify.polar import polar_map
    from spectfsl.core.quantify.workflow import quantify

    case = make_patient(0, defect="inferior")
    write_case(case, scratch / "quantify")
    readout = quantify(load_image(scratch / "quantify" / "spect.dcm"), case.lv_labels, LV_CLASS_NAMES)
    counts, myocardium = case.counts.astype(np.float32), case.lv_labels == 1

    def step() -> int:
        image = load_image(scratch / "quantify" / "spect.dcm")
        labels = load_image(scratch / "quantify" / "lv_labels.npy").pixels.astype(int)
        quantify(image, labels, LV_CLASS_NAMES)
        return 1

    def bare() -> int:
        polar_map(counts, myocardium, readout.frame, readout.axis)
        return 1

    return Workload("quantify", "quantify, 64^3 volume with its labels", "scans/s", step, bare, "polar sampling")


WORKLOADS = (
    "proto_predict",
    "prnet_offset",
    "prnet_locate",
    "prnet_train",
    "prnet3d_locate",
    "prnet3d_train",
    "segment_predict",
    "quantify",
)


def build_workload(workload_id: str, settings: BenchSettings, device: torch.device, scratch: Path) -> Workload:
    """The workload `workload_id` (one of WORKLOADS), ready to call; files it needs go under `scratch`."""
    builders = {
        "proto_predict": lambda: proto_predict_files(settings, device, scratch),
        "prnet_offset": lambda: prnet_offset_pairs(settings, device),
        "prnet_locate": lambda: prnet_locate_targets(settings, device),
        "prnet_train": lambda: prnet_train_steps(settings, device),
        "prnet3d_locate": lambda: prnet3d_locate_volumes(settings, device),
        "prnet3d_train": lambda: prnet3d_train_steps(settings, device),
        "segment_predict": lambda: segment_predict_volume(settings, device, scratch),
        "quantify": lambda: quantify_scan(settings, device, scratch),
    }
    return builders[workload_id]()


def run_benchmarks(
    settings: BenchSettings,
    device: torch.device,
    on_workload: Callable[[str], None] | None = None,
    only: Sequence[str] | None = None,
) -> list[Measurement]:
    """Measure every workload (or those whose ids are in `only`, in WORKLOADS order) and its
    reference with `settings` on `device`."""
    unknown = sorted(set(only or ()) - set(WORKLOADS))
    if unknown:
        raise SpectfslError(f"--only: no workload {', '.join(unknown)} (ids: {', '.join(WORKLOADS)})")
    with tempfile.TemporaryDirectory(prefix="spectfsl-bench-") as scratch:
        results = []
        for workload_id in WORKLOADS:
            if only and workload_id not in only:
                continue
            workload = build_workload(workload_id, settings, device, Path(scratch))
            if on_workload is not None:
                on_workload(workload.name)
            results.append(measure(workload, settings.seconds, device))
    return results


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
