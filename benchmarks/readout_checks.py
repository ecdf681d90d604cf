"""Can a physicist read and trust `spectfsl quantify`'s read-out? Three checks, appended to
`benchmarks/results/readout-checks.jsonl`:

- complete polar maps: the share of every `<stem>_polar.npy` that holds a value, and the share filled
  in by the max-count search, on the three PhysioNet DICOMs, the lvseg-mtu scans (built-in model)
  and phantom patients;
- label maps in the file's own order: phantom studies stored as real NM files often are (frames top
  to bottom, negative Spacing Between Slices) with their true label maps saved in that file order
  (`--defect random`): the defect wall found and the cavity volume against the truth; the same maps
  reversed along the slices: how many are refused or named in a warning;
- the terminal table of three scans: its widest line off a terminal.

Usage:
  python benchmarks/readout_checks.py [--patients 12] [--seed 0] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pydicom
from provenance import append_result, provenance

from spectfsl.core.data.phantom import DEFECT_WALLS, write_phantom
from spectfsl.core.data.shared import find_data, lvseg_pairs
from spectfsl.core.quantify.workflow import ScanReader
from spectfsl.errors import SpectfslError, SpectfslWarning

LV = {1: "myocardium", 2: "cavity"}


def filled(scans: list[Path]) -> dict:
    """Per scan: the share of the polar map holding a value (%) and the share filled in (%)."""
    reader = ScanReader(LV, device="cpu")
    shares = {}
    for scan in scans:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, readout = reader.read(scan)
        with_value = float(np.isfinite(readout.polar.values).mean() * 100)
        shares[f"{scan.parent.name}/{scan.name}"] = [round(with_value, 2), round(readout.polar.filled_pct, 2)]
    return shares


def store_reversed(source: Path, target: Path) -> None:
    """The study as real NM files often store it: frames top to bottom, negative slice spacing."""
    dataset = pydicom.dcmread(source)
    frames = dataset.pixel_array
    dataset.PixelData = np.ascontiguousarray(frames[::-1]).tobytes()
    dataset.SpacingBetweenSlices = f"{-float(dataset.SpacingBetweenSlices):.4f}"
    detector = dataset.DetectorInformationSequence[0]
    position = [float(v) for v in detector.ImagePositionPatient]
    position[2] += (len(frames) - 1) * float(dataset.SliceThickness)
    detector.ImagePositionPatient = [f"{v:.3f}" for v in position]
    dataset.save_as(target)


def lowest_wall(row: dict) -> str:
    return min(DEFECT_WALLS, key=lambda wall: -1.0 if row[wall] is None else row[wall])


def file_order(work: Path, patients: int, seed: int) -> dict:
    write_phantom(work / "ph", patients, seed=seed, defect="random")
    reader = ScanReader(LV, device="cpu")
    found, volume_errors, flagged = 0, [], 0
    for patient in sorted(p for p in (work / "ph").iterdir() if p.is_dir()):
        truth = json.loads((patient / "landmarks.json").read_text())
        scan = patient / "stored.dcm"
        store_reversed(patient / "spect.dcm", scan)
        labels = np.load(patient / "lv_labels.npy")
        np.save(patient / "file_order.npy", labels[::-1])  # as the file stores its frames
        np.save(patient / "reversed.npy", labels)  # the same map against the file's frame order
        _, readout = reader.read(scan, patient / "file_order.npy")
        found += lowest_wall(readout.row) == truth["defect"]["wall"]
        volume_errors.append(abs(readout.row["lv_cavity_ml"] / truth["lv_cavity_ml"] - 1) * 100)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                reader.read(scan, patient / "reversed.npy")
                flagged += any(issubclass(w.category, SpectfslWarning) and "fits the scan far better" in str(w.message)
                               for w in caught)  # fmt: skip
            except SpectfslError:
                flagged += 1
    return {
        "patients": patients, "defect_wall_found": found, "cavity_volume_error_pct_max": round(max(volume_errors), 2),
        "reversed_maps_flagged": flagged,
    }  # fmt: skip


def table_width(scans: list[Path]) -> int:
    result = subprocess.run([sys.executable, "-m", "spectfsl", "quantify", *map(str, scans)],
                            capture_output=True, text=True, check=True)  # fmt: skip
    return max(len(line) for line in result.stdout.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=find_data())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        write_phantom(work / "normal", 4, seed=args.seed + 1)
        scans = {"phantom": sorted((work / "normal").glob("P*/spect.dcm"))}
        if args.data_dir is not None:
            scans["physionet dicom"] = sorted((args.data_dir / "mps-physionet" / "dicom").glob("*.dcm"))
            scans["lvseg-mtu"] = lvseg_pairs(args.data_dir / "lvseg-mtu")[0]
        completeness = {name: filled(paths) for name, paths in scans.items() if paths}
        order = file_order(work, args.patients, args.seed)
        width = table_width(scans.get("physionet dicom") or scans["phantom"][:3])
    append_result("readout-checks", {
        **provenance(), "polar_map_pct_with_value_and_filled": completeness,
        "polar_map_least_complete_pct": min(v[0] for shares in completeness.values() for v in shares.values()),
        "file_order_label_maps": order, "terminal_table_widest_line": width,
    })  # fmt: skip


if __name__ == "__main__":
    main()
