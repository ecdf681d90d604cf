"""How close `spectfsl quantify`'s LV function of gated studies comes to the truth.

Real (lvseg-mtu-gated, when found): the 8 gated studies' LVEF, EDV and cavity Dice per gate against
the expert's contours, with the built-in model (no labelled study), and fitted on one labelled gated
study of one patient and measured on the other patients' studies (rest and stress of a patient always
on one side), beside the classical count-based edges (`quantify.edges`). The lvseg files' 1 mm
voxels are placeholders; `--lvseg-voxel-mm` (2.5 mm: the LV fills about 25 voxels) gives ml, while
LVEF does not depend on it. Phantom (`phantom --gates`): LVEF against the truth, the same study read
from its DICOM and from a 4D NIfTI copy, and the time of `spectfsl quantify` on one 8-gate study.

Usage:
  python benchmarks/gated_lvef.py [--parts real one-shot phantom time] [--patients 8] [--seeds 0 1]

Appends one line per part to `benchmarks/results/gated-lvef.jsonl`, with provenance.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.data.phantom import write_phantom
from spectfsl.core.data.shared import find_data, lvseg_gated_studies
from spectfsl.core.files.loader import load_study
from spectfsl.core.files.nifti_writer import write_nifti_on_grid
from spectfsl.core.quantify.workflow import ScanReader, classical_function
from spectfsl.core.segment.gated import segment_gates
from spectfsl.core.segment.metrics import dice
from spectfsl.core.segment.model_file import open_segmenter, save_segmenter
from spectfsl.core.segment.support import SegmentClasses, load_labelled
from spectfsl.core.segment.workflows import fit_segmenter, starting_point

LV_CLASSES = {1: "myocardium", 2: "cavity"}


def agreement(found: list[float], truth: list[float]) -> dict:
    """LVEF agreement in EF points: n, MAE, bias (found - truth), 95% limits of agreement, Pearson r, worst."""
    found_values, truth_values = np.asarray(found, dtype=float), np.asarray(truth, dtype=float)
    errors = found_values - truth_values
    spread = float(errors.std(ddof=1)) if len(errors) > 1 else 0.0
    bias = float(errors.mean())
    r = float(np.corrcoef(found_values, truth_values)[0, 1]) if len(errors) > 2 else None
    return {
        "n": len(errors),
        "mae": round(float(np.abs(errors).mean()), 2),
        "bias": round(bias, 2),
        "limits_of_agreement": [round(bias - 1.96 * spread, 2), round(bias + 1.96 * spread, 2)],
        "r": None if r is None else round(r, 3),
        "worst": round(float(np.abs(errors).max()), 2),
    }


def read_study(reader: ScanReader, path: Path, voxel_mm: float | None) -> dict:
    """quantify's LV function of one study, and the classical baseline's on the same rays."""
    start = time.perf_counter()
    _, readout = reader.read(path)
    seconds = time.perf_counter() - start
    study = load_study(path).with_voxel_mm(voxel_mm)
    classical = classical_function(study, readout)
    return {"function": readout.function, "classical": classical, "seconds": seconds}


def real_studies(folder: Path, voxel_mm: float, model: str = "builtin", only: list[Path] | None = None) -> list[dict]:
    """Each lvseg-mtu-gated study (or those in `only`) read by `model`, with its expert truth."""
    studies, labels = lvseg_gated_studies(folder)
    expert = json.loads((folder / "expert_volumes.json").read_text())
    reader = ScanReader(LV_CLASSES, model=model, device="cpu", voxel_mm=voxel_mm)
    segmenter = open_segmenter(model)
    rows = []
    for path, label_path in zip(studies, labels):
        if only is not None and path not in only:
            continue
        truth = expert[path.name.removesuffix(".nii.gz")]
        result = read_study(reader, path, voxel_mm)
        predicted = segment_gates(segmenter, load_study(path))
        reference = np.stack([gate.pixels for gate in load_study(label_path).gates]).astype(int)
        cavity_dice = [dice(p == 2, r == 2) for p, r in zip(predicted, reference)]
        myocardium = (predicted == 1).sum(axis=(1, 2, 3))
        voxel_ml = voxel_mm**3 / 1000.0
        rows.append({
            "study": path.name, "expert_lvef": truth["lvef_pct"], "lvef": result["function"].lvef_pct,
            "lvef_fit": result["function"].lvef_fit_pct, "classical_lvef": result["classical"].lvef_pct,
            "edv_ratio": result["function"].edv_ml / (max(truth["cavity_voxels"]) * voxel_ml),
            "classical_edv_ratio": result["classical"].edv_ml / (max(truth["cavity_voxels"]) * voxel_ml),
            "cavity_dice_min": min(cavity_dice), "cavity_dice_mean": float(np.mean(cavity_dice)),
            "myocardium_cv": float(myocardium.std() / myocardium.mean()),
            "expert_myocardium_cv": float(np.std(truth["myocardium_voxels"]) / np.mean(truth["myocardium_voxels"])),
            "seconds": result["seconds"],
        })  # fmt: skip
    return rows


def summary(rows: list[dict], truth_key: str) -> dict:
    """Agreement of the learned LVEF, its fitted-curve LVEF and the classical one with the truth."""
    truth = [row[truth_key] for row in rows]
    return {
        "learned": agreement([row["lvef"] for row in rows], truth),
        "learned_fit": agreement([row["lvef_fit"] for row in rows], truth),
        "classical": agreement([row["classical_lvef"] for row in rows], truth),
    }


def part_real(data: Path, voxel_mm: float) -> None:
    rows = real_studies(data, voxel_mm)
    append_result("gated-lvef", {
        **provenance(), "part": "real zero-shot", "model": "builtin", "voxel_mm": voxel_mm, "studies": len(rows),
        "lvef": summary(rows, "expert_lvef"),
        "edv_ratio_mean": round(float(np.mean([r["edv_ratio"] for r in rows])), 3),
        "classical_edv_ratio_mean": round(float(np.mean([r["classical_edv_ratio"] for r in rows])), 3),
        "cavity_dice_min": round(min(r["cavity_dice_min"] for r in rows), 3),
        "cavity_dice_mean": round(float(np.mean([r["cavity_dice_mean"] for r in rows])), 3),
        "myocardium_cv_max": round(max(r["myocardium_cv"] for r in rows), 3),
        "expert_myocardium_cv_max": round(max(r["expert_myocardium_cv"] for r in rows), 3),
        "per_study": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    })  # fmt: skip


def part_one_shot(data: Path, voxel_mm: float, state: str, seed: int) -> None:
    """Fit on one patient's `state` study (all its gates), measure on the other patients' studies."""
    studies, labels = lvseg_gated_studies(data)
    patients = sorted({path.name.split("_")[0] for path in studies})
    classes = SegmentClasses((0, 1, 2), ("background", "myocardium", "cavity"))
    rows, fit_seconds = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for patient in patients:
            support = next(p for p in studies if p.name.startswith(f"{patient}_{state}"))
            support_labels = labels[studies.index(support)]
            pairs = [
                (image.with_voxel_mm(voxel_mm), indices)
                for image, indices in load_labelled([support], [support_labels], classes, {}, None)
            ]
            start = starting_point("builtin", 3)
            began = time.perf_counter()
            model = fit_segmenter(pairs, classes, start.settings(classes, seed=seed), initial=start.model,
                                  parent=start.parent)  # fmt: skip
            fit_seconds.append(time.perf_counter() - began)
            path = Path(scratch) / f"{patient}.safetensors"
            save_segmenter(path, model)
            others = [p for p in studies if not p.name.startswith(f"{patient}_")]
            for row in real_studies(data, voxel_mm, str(path), others):
                rows.append({**row, "support": support.name})
    append_result("gated-lvef", {
        **provenance(), "part": "real one labelled study", "support_state": state, "seed": seed,
        "voxel_mm": voxel_mm, "folds": len(patients), "measurements": len(rows),
        "lvef": summary(rows, "expert_lvef"),
        "cavity_dice_min": round(min(r["cavity_dice_min"] for r in rows), 3),
        "fit_seconds_median": round(statistics.median(fit_seconds), 1),
        "per_study": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    })  # fmt: skip


def part_phantom(patients: int, seeds: list[int]) -> None:
    reader = ScanReader(LV_CLASSES, model="builtin", device="cpu")
    rows, nifti_differences = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            folder = Path(scratch) / f"seed{seed}"
            write_phantom(folder, patients, seed=seed, gates=8)
            for patient in sorted(p for p in folder.iterdir() if p.is_dir()):
                truth = json.loads((patient / "landmarks.json").read_text())["gated"]
                result = read_study(reader, patient / "spect.dcm", None)
                study = load_study(patient / "spect.dcm")
                copy = patient / "spect.nii.gz"
                write_nifti_on_grid(copy, study, np.stack([gate.pixels for gate in study.gates]))
                _, from_nifti = reader.read(copy)
                nifti_differences.append(abs(from_nifti.function.lvef_pct - result["function"].lvef_pct))
                rows.append({
                    "patient": f"{seed}/{patient.name}", "true_lvef": truth["lvef_pct"],
                    "lvef": result["function"].lvef_pct, "lvef_fit": result["function"].lvef_fit_pct,
                    "classical_lvef": result["classical"].lvef_pct,
                    "edv_ratio": result["function"].edv_ml / truth["edv_ml"],
                    "classical_edv_ratio": result["classical"].edv_ml / truth["edv_ml"],
                })  # fmt: skip
    append_result("gated-lvef", {
        **provenance(), "part": "phantom", "patients": patients, "seeds": seeds, "model": "builtin",
        "lvef": summary(rows, "true_lvef"),
        "edv_ratio_mean": round(float(np.mean([r["edv_ratio"] for r in rows])), 3),
        "classical_edv_ratio_mean": round(float(np.mean([r["classical_edv_ratio"] for r in rows])), 3),
        "dicom_vs_nifti_lvef_max_difference": round(max(nifti_differences), 3),
        "per_study": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    })  # fmt: skip


def part_time(runs: int) -> None:
    """`spectfsl quantify` of one 8-gate phantom study (64^3), start-up included: median of `runs`."""
    with tempfile.TemporaryDirectory() as scratch:
        write_phantom(Path(scratch) / "ph", 1, seed=0, gates=8)
        study = Path(scratch) / "ph" / "P001" / "spect.dcm"
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "spectfsl", "quantify", str(study), "--format", "json", "--quiet"],
                           check=True, capture_output=True)  # fmt: skip
            seconds.append(time.perf_counter() - start)
    append_result("gated-lvef", {
        **provenance(), "part": "time", "study": "phantom 8 gates x 64^3, 6.4 mm", "runs": runs,
        "quantify_seconds_median": round(statistics.median(seconds), 2),
        "quantify_seconds": [round(s, 2) for s in seconds],
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["real", "one-shot", "phantom", "time"])
    parser.add_argument("--data-dir", type=Path, default=None, help="the lvseg-mtu-gated folder")
    parser.add_argument("--lvseg-voxel-mm", type=float, default=2.5)
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--support-state", default="rest", choices=["rest", "stress"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    data = args.data_dir
    if data is None and find_data() is not None:
        data = find_data() / "lvseg-mtu-gated"
    real = data is not None and data.is_dir()
    if "real" in args.parts and real:
        part_real(data, args.lvseg_voxel_mm)
    if "one-shot" in args.parts and real:
        part_one_shot(data, args.lvseg_voxel_mm, args.support_state, args.seeds[0])
    if "phantom" in args.parts:
        part_phantom(args.patients, args.seeds)
    if "time" in args.parts:
        part_time(args.runs)


if __name__ == "__main__":
    main()
