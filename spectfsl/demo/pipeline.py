"""The demo's stages. Each calls the same core functions as the commands and records what a report shows.

Phantom: 12 patients; tissue crops of patients 1-4 fit the bank (3 shots per class, after episodic
fine-tuning on them), patients 5-12 are classified and evaluated patient-disjoint. PRNet trains on
the central slices of patients 1-8 and is evaluated leave-one-out on patients 9-12.
Real data (when found): the NIfTI patients with their expert LV-wall masks (classes derived from
the wall), the DICOM volumes (heart found without labels), and the study's PNG slice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectfsl import figures
from spectfsl.core.data.datasets import LabelledImages, PrepareSettings, read_dataset
from spectfsl.core.data.phantom import DEFECT_WALLS, LV_CLASS_NAMES, make_patient, write_phantom
from spectfsl.core.data.prepare import prepare
from spectfsl.core.data.shared import lvseg_gated_studies, lvseg_pairs, physionet_folder, physionet_wall_pairs
from spectfsl.core.files.catalogue import BUILTIN
from spectfsl.core.files.loader import load_image, load_study
from spectfsl.core.files.points import read_points
from spectfsl.core.image import SpectImage
from spectfsl.core.prnet.evaluate import LocalisationResult, evaluate_localisation, load_landmarks
from spectfsl.core.prnet.grid import grid_images, load_grid, load_grid_volume, to_grid
from spectfsl.core.prnet.landmarks import heart_landmark_rows, mask_landmark_rows
from spectfsl.core.prnet.localisers import open_localiser
from spectfsl.core.prnet.locate import LOCAL_MATCH_MM, locate, locate_rows, mse_psnr, reconstruct
from spectfsl.core.prnet.model_file import load_prnet, require_decoder, save_prnet, starting_model
from spectfsl.core.prnet.training import PRNetSettings, default_settings, train_model
from spectfsl.core.processing import registration
from spectfsl.core.processing.heart import find_heart
from spectfsl.core.processing.masks import wall_landmark_points
from spectfsl.core.processing.preprocess import normalised
from spectfsl.core.processing.registration import RegistrationSettings
from spectfsl.core.proto.bank import load_bank, save_bank
from spectfsl.core.proto.episodes import EpisodeShape, FineTuneSettings
from spectfsl.core.proto.evaluation import EvaluateSettings, EvaluationResult, bank_embedding, evaluate_folder
from spectfsl.core.proto.workflows import FitSettings, fit_bank, predict_images, prediction_columns
from spectfsl.core.quantify.workflow import ScanReader, add_rest, classical_function, quantify, rest_scan_of
from spectfsl.core.segment.model_file import open_segmenter
from spectfsl.core.segment.plausibility import implausible
from spectfsl.core.segment.settings import FROM_MODEL
from spectfsl.core.segment.support import choose_classes, load_labelled
from spectfsl.core.segment.workflows import (
    ScanScore,
    evaluate_scans,
    fit_segmenter,
    segment_image,
    starting_point,
)
from spectfsl.render import row_output
from spectfsl.ui import warn

PHANTOM_CLASSES = "1=myocardium,2=ventricles,3=liver"
TRAIN_PATIENTS = ("P001", "P002", "P003", "P004")
PRNET_TRAIN_PATIENTS = tuple(f"P{i:03d}" for i in range(1, 9))
PRNET_TEST_PATIENTS = tuple(f"P{i:03d}" for i in range(9, 13))
#: How the report names the built-in segmentation model used with no labelled scan.
BUILTIN_NO_LABELS = "built-in, no labelled scan"
STUDY = {"train_accuracy": 0.9667, "validation_accuracy": 0.9333, "prnet_training_loss": 1.395}


@dataclass(frozen=True)
class DemoSettings:
    """Default: sized to finish in under 5 minutes on 2 cores with the registration baselines, so every
    training run is shorter than the commands' defaults (with the cosine learning-rate decay of `prnet
    train`'s 2D and 3D defaults, which gets more out of a short run), and a few patients stand in for
    the many the benchmarks measure. The phantom model keeps the reconstruction loss
    (lambda 1) for Figure 1; the real-data model drops it (faster, better localisation)."""

    proto_episodes: int = 50
    evaluation_episodes: int = 300
    prnet_phantom_epochs: int = 20  # 200 steps with the reconstruction loss (Figure 1)
    prnet_real_epochs: int = 30
    prnet_iters: int = 10
    prnet_lr_schedule: str = "cosine"
    segment_steps: int = FROM_MODEL["steps"]  # fine-tuning from the built-in model, as `segment fit` does
    segment_evaluated: int = 7  # phantom patients evaluated (P002-P008; never the support, P001)
    gated_patients: int = 3  # gated phantom patients read out (8 gates each)
    registration: bool = True  # the registration baselines beside localisation and tissue maps
    seed: int = 0

    @classmethod
    def full(cls) -> DemoSettings:
        """The study's protocol: 10 fine-tuning episodes, PRNet 50 epochs x 10 iterations; 600 evaluation
        episodes."""
        return cls(
            proto_episodes=10,
            evaluation_episodes=600,
            prnet_phantom_epochs=50,
            prnet_real_epochs=50,
            prnet_lr_schedule="constant",
        )


@dataclass(frozen=True)
class FitSummary:
    """The phantom bank: its weights and transform, fine-tuning episodes and losses, training accuracy."""

    weights: str
    transform: str
    episodes: int
    losses: list[float]
    train_accuracy: float


@dataclass(frozen=True)
class PredictSummary:
    """`proto predict` over the held-out crops: how many, the fraction correct, the fraction flagged OOD."""

    images: int
    accuracy: float
    ood_rate: float


@dataclass(frozen=True)
class TrainingSummary:
    """A PRNet training run: the images it trained on (2D slices or volumes), steps, the loss of each
    epoch and what it started from."""

    images: int
    steps: int
    losses: list[float]
    start: str = "random weights"

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


@dataclass(frozen=True)
class ReconstructionSummary:
    """The reconstructed patch of Figure 1: where it is (image, x, y in pixels), its MSE and PSNR (dB)."""

    image: str
    point: tuple[float, float]
    mse: float
    psnr_db: float


@dataclass(frozen=True)
class HeartFound:
    """A heart found without labels in a real DICOM volume: centre (slice, row, col) and box in voxels."""

    file: str
    centre: tuple[float, float, float]
    box_voxels: tuple[int, int, int]


@dataclass(frozen=True)
class SliceClassification:
    """One crop of the study's slice: its true class, the prediction, its probability and OOD flag."""

    truth: str
    predicted: str
    probability: float
    ood: bool


@dataclass(frozen=True)
class DefectFound:
    """A phantom patient with a named defect: the true wall, and the wall of lowest uptake that
    `quantify` found from the true labels and from the built-in model's map."""

    patient: str
    truth: str
    with_labels: str
    with_builtin: str


@dataclass(frozen=True)
class GatedStudy:
    """A gated study's LVEF (%) from `quantify` (the built-in model), from the classical count-based
    edges, and the truth (the phantom's, or the expert's contours)."""

    study: str
    truth: float
    learned: float
    classical: float


@dataclass
class DemoResults:
    """What the stages found, for the report (None: the stage did not run or had no data)."""

    train_images: int = 0
    test_images: int = 0
    fit: FitSummary | None = None
    evaluation: EvaluationResult | None = None
    predict: PredictSummary | None = None
    prnet_phantom: TrainingSummary | None = None
    localisation_phantom: LocalisationResult | None = None
    reconstruction: ReconstructionSummary | None = None
    real_nifti: EvaluationResult | None = None
    real_dicom: list[HeartFound] = field(default_factory=list)
    prnet_real: TrainingSummary | None = None
    localisation_real: LocalisationResult | None = None
    builtin_phantom: LocalisationResult | None = None  # the built-in 2D localiser, phantom slices
    localisation3d_phantom: LocalisationResult | None = None  # the built-in 3D localiser, phantom volumes
    localisation3d_real: LocalisationResult | None = None  # the built-in 3D localiser, the real volumes
    study_slice: list[SliceClassification] | None = None
    segmentation_phantom: list[ScanScore] | None = None
    segmentation_real: list[ScanScore] | None = None
    defects: list[DefectFound] | None = None
    quantified_real: str | None = None
    gated_phantom: list[GatedStudy] | None = None
    gated_real: list[GatedStudy] | None = None


@dataclass
class Demo:
    """Where the demo writes, what it found, and what the report will show."""

    out: Path
    settings: DemoSettings
    device: torch.device
    real_data: Path | None
    results: DemoResults = field(default_factory=DemoResults)
    figures: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def figure(self, name: str) -> Path:
        path = self.out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figures[name] = path
        return path

    def save_json(self, name: str, document: dict[str, Any]) -> None:
        (self.out / name).write_text(json.dumps(document, indent=1, default=float) + "\n")


def stages(demo: Demo) -> list[tuple[str, Callable[[Demo], None]]]:
    """The stages to run, in order: the PhysioNet stages always (the package ships those volumes), the
    other real-data stages only when a real-data folder was found."""
    steps = [
        ("phantom: 12 patients", phantom),
        ("prepare phantom crops", prepare_phantom),
        ("proto fit (patients 1-4, 3 shots)", fit_phantom_bank),
        ("proto evaluate and predict (patients 5-12)", evaluate_phantom),
        ("prnet train (patients 1-8)", train_phantom_prnet),
        ("prnet evaluate and reconstruct (patients 9-12)", evaluate_phantom_prnet),
        ("locate with the built-in 2D and 3D localisers (patients 9-12)", locate_phantom_builtin),
        (f"segment: fit on patient 1, evaluate patients 2-{1 + demo.settings.segment_evaluated}", segment_phantom),
        ("quantify: phantom defects in each wall, with and without labels", quantify_phantom),
        (f"gated: LV ejection fraction of {demo.settings.gated_patients} gated phantoms", gated_phantom),
    ]
    steps += [  # the PhysioNet volumes: from the real-data folder, else the copy inside the package
        ("real NIfTI: prepare and classify", classify_real_nifti),
        ("real DICOM: find the heart", find_real_hearts),
        ("real PRNet: train and locate the LV", locate_real_lv),
        ("real: locate the LV in the 6 volumes with the built-in 3D localiser", locate_real_builtin),
    ]
    if demo.real_data is not None:
        steps += [
            ("real lvseg-mtu: segment with the built-in model, and fine-tuned on 1 scan", segment_real),
            ("study PNG slice: classify", classify_study_slice),
            ("real lvseg-mtu: quantify a stress scan against its rest scan", quantify_real),
            ("real lvseg-mtu-gated: LV ejection fraction against the expert's", gated_real),
        ]
    return steps


def run(demo: Demo, on_stage: Callable[[int, str], None] | None = None) -> None:
    """Run every stage in order; `on_stage(index, name)` is called before each."""
    for index, (name, stage) in enumerate(stages(demo)):
        if on_stage is not None:
            on_stage(index, name)
        start = time.perf_counter()
        stage(demo)
        demo.timings[name] = time.perf_counter() - start


def phantom(demo: Demo) -> None:
    write_phantom(demo.out / "phantom", 12, seed=demo.settings.seed)


def _prepare(demo: Demo, patients: tuple[str, ...], name: str) -> LabelledImages:
    root = demo.out / "phantom"
    prepare(
        [root / p / "spect.dcm" for p in patients],
        demo.out / "data" / name,
        labels=[root / p / "labels.npy" for p in patients],
        classes=PHANTOM_CLASSES,
        settings=PrepareSettings(slices=False),
    )
    return read_dataset(demo.out / "data" / name)


def prepare_phantom(demo: Demo) -> None:
    test_patients = tuple(f"P{i:03d}" for i in range(5, 13))
    train, test = _prepare(demo, TRAIN_PATIENTS, "train"), _prepare(demo, test_patients, "test")
    demo.results.train_images, demo.results.test_images = len(train.labels), len(test.labels)


def fit_phantom_bank(demo: Demo) -> None:
    train = read_dataset(demo.out / "data" / "train")
    fine_tune = FineTuneSettings(demo.settings.proto_episodes, seed=demo.settings.seed)
    settings = FitSettings(weights="auto", shots=3, fine_tune=fine_tune, seed=demo.settings.seed)
    classifier, info, weights = fit_bank(train, settings, demo.device)
    if weights.warning:
        warn(weights.warning)
    save_bank(demo.out / "bank.safetensors", classifier, info, weights)
    support = info.training["support_indices"]  # the images fit_bank took as support
    truth = [train.classes.index(c) for c in train.labels]
    train_accuracy = float((classifier.predict(train.images).predicted.numpy() == truth).mean())
    losses = info.training["losses"]
    demo.results.fit = FitSummary(info.weights, info.transform, demo.settings.proto_episodes, losses, train_accuracy)
    figures.support_query_grid(demo.figure("support_query"), train, support, classifier)
    if losses:
        figures.loss_curve(demo.figure("proto_loss"), losses, "proto fit: episode loss", "episode")


def _evaluate(demo: Demo, dataset: str, query: int, source: dict[str, Any]) -> EvaluationResult:
    """`proto evaluate --bank bank.safetensors --split-by patient --baselines` on a prepared dataset."""
    embedding = bank_embedding(demo.out / "bank.safetensors", demo.device)
    embedding = replace(embedding, source={**embedding.source, **source})
    shape = EpisodeShape(3, 3, query)
    settings = EvaluateSettings(shape, demo.settings.evaluation_episodes, True, True, demo.settings.seed)
    return evaluate_folder(demo.out / "data" / dataset, embedding, settings, demo.device)


def evaluate_phantom(demo: Demo) -> None:
    result = _evaluate(demo, "test", 6, {"bank": "bank.safetensors"})
    demo.results.evaluation = result
    demo.save_json("evaluation.json", result.as_dict())
    classifier, info = load_bank(demo.out / "bank.safetensors", demo.device)
    rows = list(predict_images(classifier, info, [str(demo.out / "data" / "test")]))
    truth = [Path(row["path"]).parent.name for row in rows]
    correct = [row["predicted"] == t for row, t in zip(rows, truth)]
    with row_output(demo.out / "predictions.csv", "csv", prediction_columns(info.classes)) as writer:
        for row in rows:  # paths relative to the demo folder, so they hold once it is renamed into place
            writer.write({**row, "path": Path(row["path"]).relative_to(demo.out).as_posix()})
    ood_rate = float(np.mean([row["ood"] for row in rows]))
    demo.results.predict = PredictSummary(len(rows), float(np.mean(correct)), ood_rate)
    figures.confusion(demo.figure("confusion"), result.methods[0].confusion, result.classes)


def _prnet_settings(demo: Demo, epochs: int, reconstruction_weight: float) -> PRNetSettings:
    return replace(
        default_settings(2),
        epochs=epochs,
        iters=demo.settings.prnet_iters,
        reconstruction_weight=reconstruction_weight,
        seed=demo.settings.seed,
        lr_schedule=demo.settings.prnet_lr_schedule,
    )


def _train_and_save(demo: Demo, grids, settings: PRNetSettings, path: Path, key: str) -> TrainingSummary:
    """Train from the built-in PRNet of the settings' dimensionality where one ships (as `prnet train`
    does), else from random weights; save the model and draw its loss curve."""
    initial, parent = starting_model(None, settings.dims, demo.device)
    model, info = train_model(grids, settings, demo.device, initial=initial, parent=parent)
    save_prnet(path, model, info)
    losses = info.training["epoch_losses"]
    figures.loss_curve(demo.figure(f"{key}_loss"), losses, f"PRNet training loss ({key})", "epoch")
    start = "random weights" if parent is None else f"the built-in model ({parent['name']})"
    return TrainingSummary(len(grids), settings.epochs * settings.iters, losses, start)


def train_phantom_prnet(demo: Demo) -> None:
    root = demo.out / "phantom"
    planes = [normalised(load_image(root / p / "spect.dcm")) for p in PRNET_TRAIN_PATIENTS]
    central = [volume.slice_at(z) for volume in planes for z in range(16, 48)]
    grids = [to_grid(plane, 4.0) for plane in central]
    settings = _prnet_settings(demo, demo.settings.prnet_phantom_epochs, reconstruction_weight=1.0)
    path = demo.out / "prnet.safetensors"
    demo.results.prnet_phantom = _train_and_save(demo, grids, settings, path, "prnet_phantom")


def _localisation(demo: Demo, model_path: Path, rows, key: str) -> LocalisationResult:
    model, info = load_prnet(model_path, demo.device)
    landmarks = load_landmarks(rows, info.pixel_mm)
    result = evaluate_localisation([(model, info)], landmarks, registration_settings=baseline_registration(demo))
    demo.save_json(f"{key}.json", result.as_dict())
    first_name = landmarks[0].name
    cases = [lm for lm in landmarks if lm.name == first_name]
    reference, targets = cases[0], cases[1:]
    found = locate([(model, info)], reference.grid, reference.xy, [t.grid for t in targets])
    overlay = demo.figure(f"{key}_overlay")
    figures.localisation_overlay(overlay, reference, targets, [f.xy for f in found], first_name)
    return result


def evaluate_phantom_prnet(demo: Demo) -> None:
    rows = _phantom_test_rows(demo, "points.csv")
    model_path = demo.out / "prnet.safetensors"
    demo.results.localisation_phantom = _localisation(demo, model_path, rows, "localisation_phantom")
    model, info = load_prnet(model_path, demo.device)
    require_decoder(info, model_path)
    image, _, x, y = rows[0]
    real, decoded = reconstruct(model, info, load_grid(image, info.pixel_mm), (x, y))
    mse, psnr = mse_psnr(real, decoded)
    demo.results.reconstruction = ReconstructionSummary(image, (x, y), mse, psnr)
    title = f"MSE {mse:.4g}, PSNR {psnr:.1f} dB"
    figures.side_by_side(demo.figure("reconstruction"), [("real patch", real), ("reconstructed", decoded)], title)


def _nifti(demo: Demo) -> tuple[list[Path], list[Path]]:
    return physionet_wall_pairs(physionet_folder(demo.real_data) / "nifti")


def classify_real_nifti(demo: Demo) -> None:
    images, masks = _nifti(demo)
    if not images:
        return
    prepare(
        images,
        demo.out / "data" / "real-nifti",
        masks={"myocardium": masks},
        derive_from="myocardium",
        settings=PrepareSettings(min_pixels=10, slices=False),
    )
    result = _evaluate(demo, "real-nifti", 3, {"bank": None, "backbone": "phantom-fine-tuned bank"})
    demo.results.real_nifti = result
    demo.save_json("evaluation_real_nifti.json", result.as_dict())


def find_real_hearts(demo: Demo) -> None:
    paths = sorted((physionet_folder(demo.real_data) / "dicom").glob("*.dcm"))
    volumes = [load_image(path) for path in paths]
    boxes = [find_heart(volume) for volume in volumes]
    demo.results.real_dicom = [HeartFound(p.name, box.centre, box.size) for p, box in zip(paths, boxes)]
    if volumes:
        figures.heart_boxes(demo.figure("real_heart_boxes"), volumes, boxes)


def locate_real_lv(demo: Demo) -> None:
    images, masks = _nifti(demo)
    volumes = sorted((physionet_folder(demo.real_data) / "dicom").glob("*.dcm")) + images
    if not images:
        return
    settings = _prnet_settings(demo, demo.settings.prnet_real_epochs, reconstruction_weight=0.0)
    grids = grid_images((load_image(p) for p in volumes), settings.pixel_mm)
    path = demo.out / "prnet-real.safetensors"
    demo.results.prnet_real = _train_and_save(demo, grids, settings, path, "prnet_real")
    rows = []
    for image, mask in zip(images, masks):
        index, points = wall_landmark_points(load_image(mask))
        rows += [(f"{image}@{index}", name, x, y) for name, (x, y) in points.items()]
    demo.results.localisation_real = _localisation(demo, path, rows, "localisation_real")


def baseline_registration(demo: Demo, deformations: tuple[str, ...] | None = None) -> tuple[RegistrationSettings, ...]:
    """The registration baselines (B-spline and demons, or those of `deformations`) where SimpleITK is
    installed and the settings ask for them, else none: template matching is then the strongest
    classical baseline the demo has."""
    if not (demo.settings.registration and registration.available()):
        return ()
    return tuple(s for s in registration.BASELINES if deformations is None or s.deformation in deformations)


#: The phantom volumes' registration baseline: demons alone. On unseen phantom volumes the B-spline
#: measured weaker on every heart landmark, and slower (`benchmarks/results/registration-settings.jsonl`).
PHANTOM_VOLUME_REGISTRATION = ("demons",)


def _builtin_localisation(
    demo: Demo, rows, dims: int, key: str, deformations: tuple[str, ...] | None = None
) -> LocalisationResult:
    """The built-in localiser of `dims`-D inputs, leave-one-out on `rows`, beside every classical
    baseline (registration with `deformations`, default both)."""
    localiser = open_localiser(BUILTIN, device=demo.device, dims=dims)
    landmarks = load_landmarks(rows, localiser.pixel_mm, dims)
    settings = baseline_registration(demo, deformations)
    result = evaluate_localisation(localiser, landmarks, registration_settings=settings)
    demo.save_json(f"{key}.json", result.as_dict())
    return result


def _phantom_test_rows(demo: Demo, points: str) -> list:
    return [
        row
        for row in read_points(demo.out / "phantom" / points)
        if Path(row[0]).parent.name in PRNET_TEST_PATIENTS and row[1] in ("lv_centre", "lv_apex")
    ]


def locate_phantom_builtin(demo: Demo) -> None:
    """The built-in localisers (no training) on the held-out patients' slices and volumes."""
    demo.results.builtin_phantom = _builtin_localisation(
        demo, _phantom_test_rows(demo, "points.csv"), 2, "builtin2d_phantom"
    )
    rows = _phantom_test_rows(demo, "points3d.csv")
    demo.results.localisation3d_phantom = _builtin_localisation(
        demo, rows, 3, "localisation3d_phantom", PHANTOM_VOLUME_REGISTRATION
    )
    _locate_qc(demo, [row for row in rows if row[1] == "lv_centre"][:2], "locate_phantom3d_qc")


def _locate_qc(demo: Demo, rows, name: str) -> None:
    """The figure `prnet locate --qc` draws: the first row's point located in the second row's volume."""
    if len(rows) < 2:
        return
    localiser = open_localiser(BUILTIN, device=demo.device, dims=3)
    (reference_path, point_name, *point), (target_path, *_) = rows[:2]
    reference, target = (load_grid_volume(path, localiser.pixel_mm) for path in (reference_path, target_path))

    def draw(grid, answers) -> str:
        return figures.point_qc(demo.figure(name), reference, grid, answers, localiser.patch)

    list(locate_rows(localiser, reference, [(point_name, point)], [target], LOCAL_MATCH_MM[3], qc=draw))


def locate_real_builtin(demo: Demo) -> None:
    images, masks = _nifti(demo)
    dicoms = sorted((physionet_folder(demo.real_data) / "dicom").glob("*.dcm"))
    if not images:
        return
    rows = mask_landmark_rows([str(p) for p in images], masks) + heart_landmark_rows([str(p) for p in dicoms], dicoms)
    demo.results.localisation3d_real = _builtin_localisation(demo, rows, 3, "localisation3d_real")


def classify_study_slice(demo: Demo) -> None:
    folder = demo.real_data / "seed-slice"
    image = folder / "Reconstructed_Static_64_Frame.png"
    if not image.exists():
        return
    masks = {
        "myocardium": [folder / "heart_Mask.png"],
        "ventricles": [folder / "blood_Mask.png"],
        "liver": [folder / "liver_Mask.png"],
    }
    prepare(
        [image], demo.out / "data" / "study-slice", masks=masks, settings=PrepareSettings(min_pixels=5, slices=False)
    )
    classifier, info = load_bank(demo.out / "bank.safetensors", demo.device)
    rows = predict_images(classifier, info, [str(demo.out / "data" / "study-slice")])
    demo.results.study_slice = [
        SliceClassification(Path(r["path"]).parent.name, r["predicted"], r["probability"], r["ood"]) for r in rows
    ]


def _fit_from_builtin(demo: Demo, support: list, classes) -> tuple:
    """(the built-in segmentation model, a model fitted from it on `support` as `segment fit` does,
    with the demo's step count)."""
    start = starting_point(BUILTIN, 3, demo.device)
    settings = start.settings(classes, steps=demo.settings.segment_steps, seed=demo.settings.seed)
    fitted = fit_segmenter(support, classes, settings, demo.device, initial=start.model, parent=start.parent)
    return start.model, fitted


def _overlay_panel(title: str, image, reference_ids: np.ndarray, predicted_ids: np.ndarray, classes) -> tuple:
    """The axial slice with the most reference foreground, as class indices for the overlay figure."""
    index = int(np.argmax((reference_ids > 0).reshape(len(reference_ids), -1).sum(axis=1)))
    return (
        title,
        image.pixels[index],
        classes.indices_of(reference_ids[index]),
        classes.indices_of(predicted_ids[index]),
    )


def segment_phantom(demo: Demo) -> None:
    """`segment fit` from the built-in model on one phantom patient (its three classes), `segment
    evaluate` on the others beside the threshold tuned on that patient and, with SimpleITK, that
    patient's labels carried over by registration (single-atlas)."""
    root = demo.out / "phantom"
    patients = sorted(p.name for p in root.iterdir() if p.is_dir())
    scans = [root / p / "spect.dcm" for p in patients]
    labels = [root / p / "labels.npy" for p in patients]
    classes = choose_classes(PHANTOM_CLASSES, labels, [], None)
    labelled = list(load_labelled(scans, labels, classes, {}, None))
    _, segmenter = _fit_from_builtin(demo, labelled[:1], classes)
    evaluated = labelled[1 : 1 + demo.settings.segment_evaluated]
    atlas = labelled[0] if baseline_registration(demo) else None  # the one labelled scan, registered
    demo.results.segmentation_phantom = list(evaluate_scans(segmenter, evaluated, baselines_too=True, atlas=atlas))
    image, indices = labelled[1]
    panel = _overlay_panel(patients[1], image, classes.ids_of(indices), segment_image(segmenter, image), classes)
    figures.label_overlays(demo.figure("segment_phantom_overlay"), [panel], classes.names)


def _lvseg(demo: Demo) -> tuple[list[Path], list[Path]]:
    return lvseg_pairs(demo.real_data / "lvseg-mtu")


def segment_real(demo: Demo) -> None:
    """Real scans with expert contours (lvseg-mtu, never used to train a shipped model): the built-in
    model with no labelled scan, and fine-tuned from it on the first scan, both scored on the others."""
    images, labels = _lvseg(demo)
    if len(images) < 2:
        return
    classes = choose_classes("1=myocardium,2=cavity", labels, [], None)
    labelled = list(load_labelled(images, labels, classes, {}, None))
    builtin, segmenter = _fit_from_builtin(demo, labelled[:1], classes)
    others = [(BUILTIN_NO_LABELS, builtin)]
    atlas = labelled[0] if baseline_registration(demo) else None
    demo.results.segmentation_real = list(evaluate_scans(segmenter, labelled[1:], True, others, atlas=atlas))
    image, indices = labelled[-1]
    reference = classes.ids_of(indices)
    panels = [
        _overlay_panel(f"{Path(image.source).name}: {name}", image, reference, segment_image(model, image), classes)
        for name, model in ((BUILTIN_NO_LABELS, builtin), ("fine-tuned on 1 scan", segmenter))
    ]
    figures.label_overlays(demo.figure("segment_real_overlay"), panels, classes.names)
    label_ids = segment_image(segmenter, image)  # the figure `segment predict --qc` draws, with its checks
    reasons = implausible(image, label_ids, classes, segmenter.info.support_profiles)
    title = f"patient {image.patient} - {Path(image.source).name}"
    figures.tissue_map_qc(demo.figure("segment_real_qc"), image.pixels, label_ids, classes.foreground, title, reasons)


def _lowest_wall(row: dict[str, Any]) -> str:
    return min(DEFECT_WALLS, key=lambda wall: -1.0 if row[wall] is None else row[wall])


def quantify_phantom(demo: Demo) -> None:
    """`phantom --defect WALL` for each wall (two patients each), read out by `quantify` from the true
    labels and from the built-in model's map; the first patient's bullseye."""
    builtin = open_segmenter(BUILTIN, demo.device)
    model_classes = dict(builtin.info.classes.foreground)
    found = []
    for wall in DEFECT_WALLS:
        for index in range(2):
            case = make_patient(index, seed=demo.settings.seed + 100, defect=wall)
            image = SpectImage(case.counts.astype(np.float32), (case.voxel_mm,) * 2, case.voxel_mm, wall, case.patient)
            given = quantify(image, case.lv_labels, LV_CLASS_NAMES)
            predicted = quantify(image, segment_image(builtin, image), model_classes)
            found.append(
                DefectFound(f"{case.patient} ({wall})", wall, _lowest_wall(given.row), _lowest_wall(predicted.row))
            )
            if not demo.figures.get("quantify_phantom"):
                title = f"phantom {case.patient}, {wall} defect at 50% uptake, segmented by the built-in model"
                figures.bullseye(demo.figure("quantify_phantom"), [("uptake", predicted.polar.values,
                                 predicted.polar.segments())], title)  # fmt: skip
    demo.results.defects = found


def quantify_real(demo: Demo) -> None:
    """A real stress scan against its rest scan (lvseg-mtu, expert maps), as `quantify --rest auto
    --labels ...` reads them: the three-panel bullseye."""
    images, labels = _lvseg(demo)
    stress = next((pair for pair in zip(images, labels) if pair[0].name.endswith("_stress.nii.gz")), None)
    if stress is None:
        return
    reader = ScanReader({1: "myocardium", 2: "cavity"}, voxel_mm=LVSEG_VOXEL_MM)  # a placeholder in the files
    _, readout = reader.read(*stress)
    _, rest = reader.read(rest_scan_of(stress[0]), rest_scan_of(stress[1]))
    add_rest(readout, rest)
    figures.readout_bullseye(demo.figure("quantify_real"), readout, rest, f"{stress[0].name} against its rest scan")
    demo.results.quantified_real = stress[0].name


#: The lvseg files' 1 mm voxels are placeholders; the LV fills about 25 voxels, so about 2.5 mm (LVEF
#: does not depend on it).
LVSEG_VOXEL_MM = 2.5


def _gated_lvef(demo: Demo, path: Path, name: str, truth: float, voxel_mm: float | None, figure: str) -> GatedStudy:
    """One gated study read by `quantify` (built-in model) and by the classical edges; its volume curve
    drawn as `figure` the first time."""
    study = load_study(path).with_voxel_mm(voxel_mm)
    _, readout = ScanReader(dict(LV_CLASS_NAMES), device=str(demo.device), voxel_mm=voxel_mm).read(path)
    classical = classical_function(study, readout)
    if figure not in demo.figures:
        title = f"{name}: built-in model (true LVEF {truth:.0f}%)"
        figures.volume_curve(demo.figure(figure), readout.function, title)
    return GatedStudy(name, truth, readout.function.lvef_pct, classical.lvef_pct)


def gated_phantom(demo: Demo) -> None:
    """Gated phantom patients: LVEF from `quantify` and from the classical edges against the truth."""
    root = demo.out / "gated_phantom"
    write_phantom(root, demo.settings.gated_patients, seed=demo.settings.seed + 200, gates=8)
    found = []
    for patient in sorted(p for p in root.iterdir() if p.is_dir()):
        truth = json.loads((patient / "landmarks.json").read_text())["gated"]["lvef_pct"]
        found.append(_gated_lvef(demo, patient / "spect.dcm", patient.name, truth, None, "gated_phantom"))
    demo.results.gated_phantom = found


def gated_real(demo: Demo) -> None:
    """The real gated studies (lvseg-mtu-gated): LVEF from `quantify` (built-in model, no labelled
    study) and from the classical edges against the expert's contours."""
    folder = demo.real_data / "lvseg-mtu-gated"
    if not folder.is_dir():
        return
    expert = json.loads((folder / "expert_volumes.json").read_text())
    studies, _ = lvseg_gated_studies(folder)
    demo.results.gated_real = []
    for path in studies:
        name = path.name.removesuffix(".nii.gz")
        study = _gated_lvef(demo, path, name, expert[name]["lvef_pct"], LVSEG_VOXEL_MM, "gated_real")
        demo.results.gated_real.append(study)
