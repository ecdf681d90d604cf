"""How right `spectfsl quantify` is, against known answers.

Phantom (`spectfsl phantom --defect WALL`): for each wall, defect uptake and phantom seed, which wall
has the lowest mean segment uptake, given the true labels (`lv_labels.npy`) and with the built-in
segmentation model (no labels); the LV cavity volume against the truth; and the defect extent of
normal patients (a defect uptake of 0.99) beside that of patients with a defect, for choosing
`--defect-threshold`. Real scans (lvseg-mtu, when found): the 17 segment values and the cavity
volume from predicted maps (the built-in model, and `segment fit` from it on one scan) against
those from the expert maps of the same scans.

Usage:
  python benchmarks/quantify_accuracy.py [--patients 6] [--seeds 0 1] [--uptakes 0.5 0.65] [--data-dir DIR]

Appends one line per part to `benchmarks/results/quantify.jsonl`, with provenance.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.data.phantom import DEFECT_WALLS, write_phantom
from spectfsl.core.data.shared import find_data, lvseg_pairs
from spectfsl.core.files.loader import load_image
from spectfsl.core.quantify.workflow import SEGMENTS, quantify
from spectfsl.core.segment.model_file import open_segmenter
from spectfsl.core.segment.support import choose_classes, load_labelled
from spectfsl.core.segment.workflows import fit_segmenter, segment_image, starting_point

LV_CLASSES = {1: "myocardium", 2: "cavity"}
WITH_RV = {**LV_CLASSES, 4: "rv"}
THRESHOLDS = (50.0, 55.0, 60.0, 65.0, 70.0)


def lowest_wall(row: dict) -> str:
    """The wall of lowest mean uptake; a wall no ray reached (a map that missed it) counts as lowest."""
    return min(DEFECT_WALLS, key=lambda wall: -1.0 if row[wall] is None else row[wall])


def phantom_walls(work: Path, patients: int, seeds: list[int], uptakes: list[float]) -> None:
    builtin = open_segmenter("builtin")
    model_classes = dict(builtin.info.classes.foreground)
    for uptake in uptakes:
        kinds = ("true", "true with rv", "builtin")
        confusion = {kind: {wall: dict.fromkeys(DEFECT_WALLS, 0) for wall in DEFECT_WALLS} for kind in kinds}
        volume_errors, extents, seconds = [], [], []
        for seed in seeds:
            for wall in DEFECT_WALLS:
                folder = work / f"ph-{wall}-{uptake}-{seed}"
                write_phantom(folder, patients, seed=seed, defect=wall, defect_uptake=uptake)
                for patient in sorted(p for p in folder.iterdir() if p.is_dir()):
                    image = load_image(patient / "spect.dcm")
                    truth = load_image(patient / "lv_labels.npy").pixels.astype(int)
                    start = time.perf_counter()
                    given = quantify(image, truth, LV_CLASSES).row
                    seconds.append(time.perf_counter() - start)
                    confusion["true"][wall][lowest_wall(given)] += 1
                    with_rv = quantify(image, truth, WITH_RV).row  # the septum placed from the RV label
                    confusion["true with rv"][wall][lowest_wall(with_rv)] += 1
                    predicted = quantify(image, segment_image(builtin, image), model_classes).row
                    confusion["builtin"][wall][lowest_wall(predicted)] += 1
                    volume_errors.append(abs(given["lv_cavity_ml"] - _true_ml(patient)) / _true_ml(patient) * 100)
                    extents.append(given["defect_extent_pct"])
        found = {
            k: sum(c[w][w] for w in DEFECT_WALLS) / sum(sum(c[w].values()) for w in DEFECT_WALLS)
            for k, c in confusion.items()
        }
        append_result("quantify", {
            **provenance(), "part": "phantom defect walls", "defect_uptake": uptake, "patients": patients,
            "seeds": seeds, "defect_wall_found": found, "confusion": confusion,
            "cavity_volume_error_pct_max": round(max(volume_errors), 3),
            "defect_extent_pct_at_default": _summary(extents), "quantify_seconds_median": float(np.median(seconds)),
        })  # fmt: skip


def phantom_threshold(work: Path, patients: int, seeds: list[int], defect_uptake: float) -> None:
    """Defect extent of normal patients and of patients with a defect, per threshold."""
    extents = {"normal": {t: [] for t in THRESHOLDS}, "defect": {t: [] for t in THRESHOLDS}}
    for seed in seeds:
        for kind, uptake in (("normal", 0.99), ("defect", defect_uptake)):
            folder = work / f"th-{kind}-{seed}"
            write_phantom(folder, patients, seed=seed, defect="random", defect_uptake=uptake)
            for patient in sorted(p for p in folder.iterdir() if p.is_dir()):
                image = load_image(patient / "spect.dcm")
                readout = quantify(image, load_image(patient / "lv_labels.npy").pixels.astype(int), LV_CLASSES)
                for threshold in THRESHOLDS:
                    extents[kind][threshold].append(readout.polar.extent_below(threshold))
    append_result("quantify", {
        **provenance(), "part": "phantom defect extent per threshold", "defect_uptake": defect_uptake,
        "patients": patients, "seeds": seeds,
        "extent_pct": {kind: {str(t): _summary(v) for t, v in by.items()} for kind, by in extents.items()},
    })  # fmt: skip


def real_segments(data_dir: Path, support_name: str, steps: int) -> None:
    scans, labels = lvseg_pairs(data_dir / "lvseg-mtu")
    if not scans:
        return
    classes = choose_classes("1=myocardium,2=cavity", labels, [], None)
    labelled = list(load_labelled(scans, labels, classes, {}, None))
    support = [pair for pair in labelled if Path(pair[0].source).name == support_name]
    start = starting_point("builtin", 3)
    fitted = fit_segmenter(support, classes, start.settings(classes, steps=steps), initial=start.model,
                           parent=start.parent)  # fmt: skip
    models = {"builtin (no labelled scan)": start.model, f"fitted on {support_name}": fitted}
    for name, model in models.items():
        differences, volume_errors = [], []
        for image, indices in labelled:
            if name.startswith("fitted") and Path(image.source).name == support_name:
                continue
            expert = quantify(image, classes.ids_of(indices), LV_CLASSES).row
            predicted = quantify(image, segment_image(model, image), LV_CLASSES).row
            differences.append([abs(predicted[f"seg{s}"] - expert[f"seg{s}"]) for s in SEGMENTS])
            volume_errors.append(abs(predicted["lv_cavity_ml"] - expert["lv_cavity_ml"]) / expert["lv_cavity_ml"] * 100)
        per_segment = np.mean(differences, axis=0)
        append_result("quantify", {
            **provenance(), "part": "lvseg-mtu segments against expert maps", "model": name, "scans": len(differences),
            "mean_abs_diff_points": round(float(per_segment.mean()), 2),
            "mean_abs_diff_points_per_segment": [round(float(v), 2) for v in per_segment],
            "worst_scan_mean_abs_diff_points": round(float(np.max(np.mean(differences, axis=1))), 2),
            "cavity_volume_error_pct": _summary(volume_errors),
            "note": "voxel units (the files' 1 mm is a placeholder); volumes compared in the same units",
        })  # fmt: skip


def _true_ml(patient: Path) -> float:
    import json

    return json.loads((patient / "landmarks.json").read_text())["lv_cavity_ml"]


def _summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {
        "mean": round(float(array.mean()), 2),
        "min": round(float(array.min()), 2),
        "max": round(float(array.max()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--uptakes", type=float, nargs="+", default=[0.5, 0.65])
    parser.add_argument("--data-dir", type=Path, default=find_data())
    parser.add_argument("--support", default="P005024_rest.nii.gz", help="the lvseg-mtu scan `segment fit` learns from")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        phantom_walls(work, args.patients, args.seeds, args.uptakes)
        phantom_threshold(work, args.patients, args.seeds, max(args.uptakes))
        if args.data_dir is not None:
            real_segments(args.data_dir, args.support, args.steps)


if __name__ == "__main__":
    main()
