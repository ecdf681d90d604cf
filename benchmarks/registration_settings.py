"""Measure the registration baseline's settings: time per registration against its accuracy, so that a
faster setting is only taken where it loses nothing.

Two measurements, each for every setting given:
  landmarks: every ordered pair of the images in POINTS.csv (target registered onto reference, one
    registration carrying every landmark of the pair; with --both-ways one registration per pair of
    images, its inverse serving the reverse order), radial error per landmark;
  atlas: the first labelled scan registered onto each other scan carries its labels (single-atlas
    segmentation), Dice per class.

Usage:
  python benchmarks/registration_settings.py --points benchmarks/points/mps-physionet-all-3d.csv \
      --data-dir ../shared/data/mps-physionet --settings "" "sampling=0.1" "sampling=0.1,iterations=25"
  python benchmarks/registration_settings.py --atlas-scans PHANTOM/P0*/spect.dcm \
      --atlas-labels PHANTOM/P0*/labels.npy --classes 1=myocardium,2=ventricles,3=liver --settings "" ...

A setting is written as RegistrationSettings fields, `name=value` joined by commas ("" = the default).
Appends one line per input and setting to `benchmarks/results/registration-settings.jsonl`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, fields
from itertools import permutations
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.files.points import read_points
from spectfsl.core.prnet.evaluate import PairRegistrations, load_landmarks, radial_error
from spectfsl.core.processing.registration import RegistrationSettings
from spectfsl.core.segment.metrics import dice
from spectfsl.core.segment.support import choose_classes, load_labelled
from spectfsl.core.segment.workflows import atlas_labels

#: The grid the landmarks are loaded on; registration reads the source images, so it changes nothing.
GRID_MM = 4.0


def parse_settings(text: str) -> RegistrationSettings:
    """'sampling=0.1,iterations=25' -> RegistrationSettings(sampling=0.1, iterations=25); '' -> default."""
    types = {f.name: f.type for f in fields(RegistrationSettings)}
    values = {}
    for item in filter(None, text.split(",")):
        name, value = item.split("=")
        kind = types[name]
        if kind == "bool":
            values[name] = value.lower() in ("1", "true", "yes")
        elif kind == "tuple[int, ...]":
            values[name] = tuple(int(v) for v in value.split("/"))
        else:
            values[name] = {"float": float, "int": int, "str": str}[kind](value)
    return RegistrationSettings(**values)


def summary(values: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "mean": float(np.mean(values)),
        "median": float(np.median(values)),
        "sd": float(np.std(values)),
    }


def landmark_line(points: str, data_dir: str | None, settings: RegistrationSettings, both_ways: bool) -> dict:
    landmarks = load_landmarks(read_points(points, data_dir), GRID_MM, 3)
    by_image: dict[int, list] = {}
    for landmark in landmarks:
        by_image.setdefault(id(landmark.grid), []).append(landmark)
    registrations = PairRegistrations([settings], both_ways)
    errors: dict[str, list[float]] = {}
    seconds = 0.0
    for reference_marks, target_marks in permutations(by_image.values(), 2):
        reference, target = reference_marks[0].grid, target_marks[0].grid
        truths = {mark.name: mark.xy for mark in target_marks}
        for mark in reference_marks:
            if mark.name in truths:
                start = time.perf_counter()
                moved = registrations.points(reference, mark.xy, target)[settings.name]
                seconds += time.perf_counter() - start
                errors.setdefault(mark.name, []).append(radial_error(target, moved, truths[mark.name])[0])
    return {
        "input": "/".join(Path(points).parts[-2:]),
        "both_ways": both_ways,
        "registrations": len(registrations.found),
        "seconds_total": seconds,
        "error_mm": {name: summary(values) for name, values in errors.items()},
    }


def atlas_line(scans: list[str], labels: list[str], classes_text: str, settings: RegistrationSettings) -> dict:
    classes = choose_classes(classes_text, [Path(p) for p in labels], [], None)
    labelled = list(load_labelled([Path(p) for p in scans], [Path(p) for p in labels], classes, {}, None))
    atlas, evaluated = labelled[0], labelled[1:]
    scores: dict[str, list[float]] = {name: [] for _, name in classes.foreground}
    seconds = []
    for image, indices in evaluated:
        start = time.perf_counter()
        carried = atlas_labels(atlas, image, settings)
        seconds.append(time.perf_counter() - start)
        for index, (_, name) in enumerate(classes.foreground, start=1):
            scores[name].append(dice(carried == index, indices == index))
    return {
        "input": f"atlas {'/'.join(Path(scans[0]).parts[-2:])} onto {len(evaluated)} scans",
        "registrations": len(seconds),
        "seconds_total": sum(seconds),
        "dice": {name: summary(values) for name, values in scores.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", nargs="*", default=[])
    parser.add_argument("--data-dir")
    parser.add_argument("--atlas-scans", nargs="*", default=[])
    parser.add_argument("--atlas-labels", nargs="*", default=[])
    parser.add_argument("--classes", default="1=myocardium,2=ventricles,3=liver")
    parser.add_argument("--settings", nargs="+", default=[""], help="RegistrationSettings fields, name=value,...")
    parser.add_argument(
        "--both-ways", action="store_true", help="one registration per pair of images, inverted for the reverse order"
    )
    parser.add_argument("--results", default="registration-settings")
    args = parser.parse_args()
    for text in args.settings:
        settings = parse_settings(text)
        lines = [landmark_line(points, args.data_dir, settings, args.both_ways) for points in args.points]
        if args.atlas_scans:
            lines.append(atlas_line(args.atlas_scans, args.atlas_labels, args.classes, settings))
        for line in lines:
            append_result(args.results, {**provenance(), "settings": asdict(settings), "label": text, **line})


if __name__ == "__main__":
    main()
