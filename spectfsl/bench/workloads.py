"""The benchmark's workloads, by stable id (what scripts key on): each next to its own network's
bare pass (`harness`). `proto_predict` (files end to end) against the ResNet-18 forward pass;
`segment_predict` against the segmentation network's pass over a resident volume; `quantify` against
the polar sampling alone; the PRNet workloads (`prnet_workloads`) against the position head on the
very patch batches a call made, or a bare training step.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from spectfsl.bench.harness import BenchSettings, Measurement, Workload, measure
from spectfsl.bench.prnet_workloads import prnet_locate, prnet_offset_pairs, prnet_train
from spectfsl.core.proto.backbones import create_model
from spectfsl.errors import SpectfslError


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
    from spectfsl.core.files.formats import save_npy
    from spectfsl.core.image import SpectImage
    from spectfsl.core.processing.preprocess import NORMALISATION
    from spectfsl.core.proto.bank import BankInfo
    from spectfsl.core.proto.prototypes import PrototypicalClassifier
    from spectfsl.core.proto.workflows import predict_images

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


def segment_predict_volume(
    settings: BenchSettings, device: torch.device, scratch: Path, crop: int | None = None
) -> Workload:
    """`segment predict` on a 64^3 phantom DICOM: read, normalise, label every voxel (in windows of
    `crop`, default `segment fit`'s), write the NIfTI label map, count voxels per class; the reference
    is the network's forward pass on the resident volume."""
    from spectfsl.core.data.phantom import make_patient
    from spectfsl.core.files.dicom_writer import write_nm_volume
    from spectfsl.core.files.loader import load_image
    from spectfsl.core.files.nifti_writer import write_label_nifti
    from spectfsl.core.processing.preprocess import normalise_intensity
    from spectfsl.core.segment.model_file import Segmenter, SegmentInfo
    from spectfsl.core.segment.training import SegmentSettings, network_for
    from spectfsl.core.segment.workflows import segment_image, volume_row

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
        "prnet_locate": lambda: prnet_locate(settings, device, dims=2),
        "prnet_train": lambda: prnet_train(settings, device, dims=2),
        "prnet3d_locate": lambda: prnet_locate(settings, device, dims=3),
        "prnet3d_train": lambda: prnet_train(settings, device, dims=3),
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
