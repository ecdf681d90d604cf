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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spectfsl.core.fewshot.bank import save_bank
from spectfsl.core.data.datasets import LabelledImages, PrepareSettings, read_dataset
from spectfsl.core.fewshot.episodes import EpisodeShape, FineTuneSettings
from spectfsl.core.fewshot.workflows import (
    EvaluateSettings,
    FitSettings,
    choose_support,
    evaluate_dataset,
    fit_bank,
    predict_images,
    results_document,
)
from spectfsl.core.imaging.heart import find_heart
from spectfsl.core.files.loader import load_image
from spectfsl.core.data.labelled import prepare
from spectfsl.core.localisation.locate import evaluate_localisation, load_landmarks, locate, mse_psnr, reconstruct_patch
from spectfsl.core.imaging.masks import wall_landmarks
from spectfsl.core.files.points import read_points, write_points
from spectfsl.core.data.phantom import landmark_rows, make_patient, write_case
from spectfsl.core.imaging.preprocess import normalised
from spectfsl.core.localisation.training import PRNetInfo, PRNetSettings, grid_images, save_prnet, to_grid, train_prnet
from spectfsl import figures

PHANTOM_CLASSES = "1=myocardium,2=ventricles,3=liver"
TRAIN_PATIENTS = ("P001", "P002", "P003", "P004")
PRNET_TRAIN_PATIENTS = tuple(f"P{i:03d}" for i in range(1, 9))
PRNET_TEST_PATIENTS = tuple(f"P{i:03d}" for i in range(9, 13))
STUDY = {"train_accuracy": 0.9667, "validation_accuracy": 0.9333, "prnet_training_loss": 1.395}


@dataclass(frozen=True)
class DemoSettings:
    """Default: sized to finish in under 5 minutes on 2 cores. PRNet trains longer than the study's
    500 steps because localisation needed it (phantom LV centre: 9.8 mm at 500 steps, 2.8 mm at
    3000); the phantom model keeps the reconstruction loss (lambda 1) for Figure 1, the real-data
    model drops it (faster, better localisation)."""

    proto_episodes: int = 100
    evaluation_episodes: int = 300
    prnet_phantom_epochs: int = 100
    prnet_real_epochs: int = 200
    prnet_iters: int = 10
    seed: int = 0

    @classmethod
    def full(cls) -> DemoSettings:
        """The study's protocol: 10 fine-tuning episodes, PRNet 50 epochs x 10 iterations; 600 evaluation episodes."""
        return cls(proto_episodes=10, evaluation_episodes=600, prnet_phantom_epochs=50, prnet_real_epochs=50)


@dataclass
class Demo:
    """Where the demo writes, what it found, and what the report will show."""

    out: Path
    settings: DemoSettings
    device: torch.device
    real_data: Path | None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
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
    """The stages to run, in order (real-data stages only when real data was found)."""
    steps = [
        ("phantom: 12 patients", phantom),
        ("prepare phantom crops", prepare_phantom),
        ("proto fit (patients 1-4, 3 shots)", fit_phantom_bank),
        ("proto evaluate and predict (patients 5-12)", evaluate_phantom),
        ("prnet train (patients 1-8)", train_phantom_prnet),
        ("prnet evaluate and reconstruct (patients 9-12)", evaluate_phantom_prnet),
    ]
    if demo.real_data is not None:
        steps += [
            ("real NIfTI: prepare and classify", classify_real_nifti),
            ("real DICOM: find the heart", find_real_hearts),
            ("real PRNet: train and locate the LV", locate_real_lv),
            ("study PNG slice: classify", classify_study_slice),
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
    root = demo.out / "phantom"
    rows = []
    for index in range(12):
        case = make_patient(index, seed=demo.settings.seed)
        write_case(case, root / case.patient)
        rows += landmark_rows(case, case.patient)
    write_points(root / "points.csv", rows)


def _prepare(demo: Demo, patients: tuple[str, ...], name: str) -> LabelledImages:
    root = demo.out / "phantom"
    prepare([root / p / "spect.dcm" for p in patients], demo.out / "data" / name,
            labels=[root / p / "labels.npy" for p in patients], classes=PHANTOM_CLASSES, settings=PrepareSettings(slices=False))
    return read_dataset(demo.out / "data" / name)


def prepare_phantom(demo: Demo) -> None:
    test_patients = tuple(f"P{i:03d}" for i in range(5, 13))
    train, test = _prepare(demo, TRAIN_PATIENTS, "train"), _prepare(demo, test_patients, "test")
    demo.sections["data"] = {"train_images": len(train.labels), "test_images": len(test.labels), "classes": train.classes}


def fit_phantom_bank(demo: Demo) -> None:
    train = read_dataset(demo.out / "data" / "train")
    settings = FitSettings(weights="auto", shots=3, fine_tune=FineTuneSettings(demo.settings.proto_episodes, seed=demo.settings.seed), seed=demo.settings.seed)
    classifier, info, weights = fit_bank(train, settings, demo.device)
    save_bank(demo.out / "bank.safetensors", classifier, info, weights)
    support_paths = set(choose_support(train, settings.shots, settings.seed).paths)
    support = [i for i, path in enumerate(train.paths) if path in support_paths]
    demo.sections["fit"] = {"weights": info.weights, "episodes": demo.settings.proto_episodes,
                            "losses": info.training["losses"], "transform": info.transform}
    train_accuracy = float((classifier.predict(train.images).predicted.numpy() == [train.classes.index(c) for c in train.labels]).mean())
    demo.sections["fit"]["train_accuracy"] = train_accuracy
    figures.support_query_grid(demo.figure("support_query"), train, support, classifier)
    if info.training["losses"]:
        figures.loss_curve(demo.figure("proto_loss"), info.training["losses"], "proto fit: episode loss", "episode")


def evaluate_phantom(demo: Demo) -> None:
    from spectfsl.core.fewshot.bank import load_bank

    classifier, info = load_bank(demo.out / "bank.safetensors", demo.device)
    test = read_dataset(demo.out / "data" / "test", info.size, info.spacing_mm)
    settings = EvaluateSettings(EpisodeShape(3, 3, 6), demo.settings.evaluation_episodes, True, True, demo.settings.seed)
    results = evaluate_dataset(test, classifier.backbone, info.transform, settings, demo.device, info.input_size)
    document = results_document(results, test, settings, {"bank": "bank.safetensors"})
    demo.save_json("evaluation.json", document)
    rows = list(predict_images(classifier, info, [str(demo.out / "data" / "test")]))
    truth = [Path(row["path"]).parent.name for row in rows]
    correct = [row["predicted"] == t for row, t in zip(rows, truth)]
    _write_predictions(demo.out / "predictions.csv", rows, info.classes)
    demo.sections["evaluate"] = document
    demo.sections["predict"] = {"images": len(rows), "accuracy": float(np.mean(correct)),
                                "ood_rate": float(np.mean([row["ood"] for row in rows]))}
    figures.confusion(demo.figure("confusion"), np.array(document["methods"][0]["confusion"]), document["classes"])


def _write_predictions(path: Path, rows: list[dict[str, Any]], classes: list[str]) -> None:
    from spectfsl.core.fewshot.workflows import prediction_columns
    from spectfsl.render import row_output

    with row_output(path, "csv", prediction_columns(classes)) as writer:
        for row in rows:
            writer.write(row)


def _prnet_settings(demo: Demo, epochs: int, reconstruction_weight: float) -> PRNetSettings:
    return PRNetSettings(pixel_mm=4.0, epochs=epochs, iters=demo.settings.prnet_iters,
                         reconstruction_weight=reconstruction_weight, seed=demo.settings.seed)


def _train_and_save(demo: Demo, grids, settings: PRNetSettings, path: Path, key: str) -> None:
    model, losses = train_prnet(grids, settings, demo.device)
    record = {"epoch_losses": losses, "final_loss": losses[-1], "slices": len(grids)}
    save_prnet(path, model, PRNetInfo(settings.patch, settings.channels, model.hidden, settings.pixel_mm,
                                      settings.offset_scale_mm, settings.reconstruction_weight, training=record))
    demo.sections[key] = {"slices": len(grids), "final_loss": losses[-1], "losses": losses,
                          "steps": settings.epochs * settings.iters}
    figures.loss_curve(demo.figure(f"{key}_loss"), losses, f"PRNet training loss ({key})", "epoch")


def train_phantom_prnet(demo: Demo) -> None:
    root = demo.out / "phantom"
    planes = [normalised(load_image(root / p / "spect.dcm")) for p in PRNET_TRAIN_PATIENTS]
    central = [volume.slice_at(z) for volume in planes for z in range(16, 48)]
    grids = [to_grid(plane, 4.0) for plane in central]
    settings = _prnet_settings(demo, demo.settings.prnet_phantom_epochs, reconstruction_weight=1.0)
    _train_and_save(demo, grids, settings, demo.out / "prnet.safetensors", "prnet_phantom")


def _localisation(demo: Demo, model_path: Path, rows, key: str) -> None:
    from spectfsl.core.localisation.training import load_prnet

    model, info = load_prnet(model_path, demo.device)
    landmarks = load_landmarks(rows, info.pixel_mm)
    results = evaluate_localisation([(model, info)], landmarks)
    demo.sections[key] = {name: [s.as_dict() for s in summaries] for name, summaries in results.items()}
    demo.save_json(f"{key}.json", demo.sections[key])
    first_name = landmarks[0].name
    cases = [lm for lm in landmarks if lm.name == first_name]
    reference, targets = cases[0], cases[1:]
    found = locate([(model, info)], reference.grid, reference.xy, [t.grid for t in targets])
    figures.localisation_overlay(demo.figure(f"{key}_overlay"), reference, targets, [f.xy for f in found], first_name)


def evaluate_phantom_prnet(demo: Demo) -> None:
    rows = [
        row for row in read_points(demo.out / "phantom" / "points.csv")
        if Path(row[0]).parent.name in PRNET_TEST_PATIENTS and row[1] in ("lv_centre", "lv_apex")
    ]
    _localisation(demo, demo.out / "prnet.safetensors", rows, "localisation_phantom")
    from spectfsl.core.localisation.training import load_prnet

    model, info = load_prnet(demo.out / "prnet.safetensors", demo.device)
    image, _, x, y = rows[0]
    real, decoded = reconstruct_patch(model, info, to_grid(normalised(load_image(image)), info.pixel_mm), (x, y))
    mse, psnr = mse_psnr(real, decoded)
    demo.sections["reconstruction"] = {"image": image, "point": [x, y], "mse": mse, "psnr_db": psnr}
    figures.side_by_side(demo.figure("reconstruction"), [("real patch", real), ("reconstructed", decoded)], f"MSE {mse:.4g}, PSNR {psnr:.1f} dB")


def _nifti(demo: Demo) -> tuple[list[Path], list[Path]]:
    folder = demo.real_data / "mps-physionet" / "nifti"
    masks = sorted(p for p in folder.glob("*.nii.gz") if "_" not in p.name)
    return [m.with_name(m.name.replace(".nii.gz", "_0000.nii.gz")) for m in masks], masks


def classify_real_nifti(demo: Demo) -> None:
    images, masks = _nifti(demo)
    if not images:
        demo.sections["real_nifti"] = {"missing": True}
        return
    prepare(images, demo.out / "data" / "real-nifti", masks={"myocardium": masks}, derive_from="myocardium",
            settings=PrepareSettings(min_pixels=10, slices=False))
    from spectfsl.core.fewshot.bank import load_bank

    classifier, info = load_bank(demo.out / "bank.safetensors", demo.device)
    data = read_dataset(demo.out / "data" / "real-nifti", info.size, info.spacing_mm)
    settings = EvaluateSettings(EpisodeShape(3, 3, 3), demo.settings.evaluation_episodes, True, True, demo.settings.seed)
    results = evaluate_dataset(data, classifier.backbone, info.transform, settings, demo.device, info.input_size)
    demo.sections["real_nifti"] = results_document(results, data, settings, {"backbone": "phantom-fine-tuned bank"})
    demo.save_json("evaluation_real_nifti.json", demo.sections["real_nifti"])


def find_real_hearts(demo: Demo) -> None:
    volumes = sorted((demo.real_data / "mps-physionet" / "dicom").glob("*.dcm"))
    found = []
    for path in volumes:
        volume = load_image(path)
        box = find_heart(volume)
        found.append({"file": path.name, "centre_slice_row_col": list(box.centre), "box_voxels": list(box.size)})
    demo.sections["real_dicom"] = {"volumes": found}
    if volumes:
        figures.heart_boxes(demo.figure("real_heart_boxes"), [load_image(p) for p in volumes], [find_heart(load_image(p)) for p in volumes])


def locate_real_lv(demo: Demo) -> None:
    images, masks = _nifti(demo)
    volumes = sorted((demo.real_data / "mps-physionet" / "dicom").glob("*.dcm")) + images
    if not images:
        return
    grids = grid_images((load_image(p) for p in volumes), 4.0)
    settings = _prnet_settings(demo, demo.settings.prnet_real_epochs, reconstruction_weight=0.0)
    _train_and_save(demo, grids, settings, demo.out / "prnet-real.safetensors", "prnet_real")
    rows = []
    for image, mask in zip(images, masks):
        index, points = wall_landmarks(load_image(mask).pixels > 0)
        rows += [(f"{image}@{index}", name, x, y) for name, (x, y) in points.items()]
    _localisation(demo, demo.out / "prnet-real.safetensors", rows, "localisation_real")


def classify_study_slice(demo: Demo) -> None:
    folder = demo.real_data / "seed-slice"
    image = folder / "Reconstructed_Static_64_Frame.png"
    if not image.exists():
        demo.sections["study_slice"] = {"missing": True}
        return
    masks = {"myocardium": [folder / "heart_Mask.png"], "ventricles": [folder / "blood_Mask.png"], "liver": [folder / "liver_Mask.png"]}
    prepare([image], demo.out / "data" / "study-slice", masks=masks, settings=PrepareSettings(min_pixels=5, slices=False))
    from spectfsl.core.fewshot.bank import load_bank

    classifier, info = load_bank(demo.out / "bank.safetensors", demo.device)
    rows = list(predict_images(classifier, info, [str(demo.out / "data" / "study-slice")]))
    demo.sections["study_slice"] = {"rows": [{"truth": Path(r["path"]).parent.name, "predicted": r["predicted"],
                                              "probability": r["probability"], "ood": r["ood"]} for r in rows]}
