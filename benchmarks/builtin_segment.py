"""Measure a built-in segmentation model: zero-shot (no labelled scan) and 1-shot fine-tuned from it.

Usage:
  python benchmarks/builtin_segment.py --model builtin \
      --images ../shared/data/lvseg-mtu/P*_rest.nii.gz ../shared/data/lvseg-mtu/P*_stress.nii.gz \
      --labels-suffix _labels --one-shot-supports 4 --seeds 0 1

Each image's label map (1 = LV myocardium, 2 = LV cavity) is the image's stem + `--labels-suffix`.
Zero-shot: the model labels every scan. 1-shot: for each of the first N scans as the support, a model
is fitted from the built-in one (`segment fit --init`) with the default settings and scored on every
other scan. Single-atlas registration (`--atlas-supports N`, needs SimpleITK): each of the first N
scans as the atlas, registered onto every other scan to carry its labels (`segment evaluate
--atlas`; `--deformation`, demons by default as there), the classical answer to the same 1-shot
question. Appends one line per run to
`benchmarks/results/builtin-segment.jsonl` (or `--results`) with provenance, the Dice and HD95 per
class of each scan, and the fit's time.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from provenance import append_result, provenance

from spectfsl.core.models.segment_recipe import BUILTIN_CLASSES
from spectfsl.core.processing import registration
from spectfsl.core.segment.model_file import open_segmenter, parent_of
from spectfsl.core.segment.support import load_labelled
from spectfsl.core.segment.workflows import (
    StartingPoint,
    atlas_labels,
    fit_segmenter,
    score,
    segment_image,
    voxel_spacing,
)

RESULTS = "builtin-segment"


def label_path(image: Path, suffix: str) -> Path:
    name = image.name
    stem, ext = (name[: -len(".nii.gz")], ".nii.gz") if name.endswith(".nii.gz") else (image.stem, image.suffix)
    return image.with_name(stem + suffix + ext)


def scores_of(label, pairs) -> list[dict]:
    """Dice and HD95 per scan of `label(image)` (class ids) against the scan's labels."""
    names = dict(BUILTIN_CLASSES.foreground)
    rows = []
    for image, indices in pairs:
        predicted = label(image)
        result = score("", image.source, predicted, BUILTIN_CLASSES.ids_of(indices), names, voxel_spacing(image))
        rows.append({"scan": Path(image.source).name, "dice": result.dice, "hd95": result.hd95_mm})
    return rows


def summary(rows: list[dict]) -> dict:
    return {name: round(statistics.mean(r["dice"][name] for r in rows), 4) for name in rows[0]["dice"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--images", nargs="+", type=Path, required=True)
    parser.add_argument("--labels-suffix", default="_labels")
    parser.add_argument("--one-shot-supports", type=int, default=0, help="fit 1-shot from the first N scans")
    parser.add_argument("--atlas-supports", type=int, default=0, help="single-atlas registration from the first N")
    parser.add_argument("--registration-seeds", type=int, nargs="+", default=[1], help="the metric's sample seeds")
    parser.add_argument(
        "--deformation", default="demons", help="the atlas registration's deformable model (demons, bspline)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, help="1-shot training steps (default: segment fit's from a model)")
    parser.add_argument("--lr", type=float, help="1-shot learning rate (default: segment fit's from a model)")
    parser.add_argument("--no-zero-shot", action="store_true", help="only the 1-shot runs")
    parser.add_argument("--results", default=RESULTS, help="results file name under benchmarks/results/")
    args = parser.parse_args()

    base = open_segmenter(args.model)
    labels = [label_path(image, args.labels_suffix) for image in args.images]
    pairs = list(load_labelled(args.images, labels, BUILTIN_CLASSES, {}, None))
    common = {**provenance(), "model": args.model, "parent": parent_of(args.model)}
    if not args.no_zero_shot:
        rows = scores_of(lambda image: segment_image(base, image), pairs)
        append_result(args.results, {**common, "mode": "zero-shot", "mean_dice": summary(rows), "scans": rows})

    for support in range(args.one_shot_supports):
        for seed in args.seeds:
            changes = {key: getattr(args, key) for key in ("steps", "lr") if getattr(args, key) is not None}
            settings = StartingPoint(base, common["parent"]).settings(BUILTIN_CLASSES, seed=seed, **changes)
            start = time.perf_counter()
            fitted = fit_segmenter([pairs[support]], BUILTIN_CLASSES, settings, initial=base, parent=common["parent"])
            seconds = time.perf_counter() - start
            others = [pair for index, pair in enumerate(pairs) if index != support]
            rows = scores_of(lambda image, fitted=fitted: segment_image(fitted, image), others)
            line = {
                **common,
                "mode": "one-shot",
                "support": Path(pairs[support][0].source).name,
                "settings": asdict(settings),
                "fit_seconds": round(seconds, 1),
                "mean_dice": summary(rows),
                "scans": rows,
            }
            append_result(args.results, line)

    for support, seed in itertools.product(range(args.atlas_supports), args.registration_seeds):
        atlas = pairs[support]
        settings = registration.RegistrationSettings(seed=seed, deformation=args.deformation)
        start = time.perf_counter()
        others = [pair for index, pair in enumerate(pairs) if index != support]
        rows = scores_of(lambda image: BUILTIN_CLASSES.ids_of(atlas_labels(atlas, image, settings)), others)  # noqa: B023
        line = {
            **provenance(),
            "mode": "single-atlas registration",
            "method": settings.description,
            "settings": asdict(settings),
            "support": Path(atlas[0].source).name,
            "seconds": round(time.perf_counter() - start, 1),
            "mean_dice": summary(rows),
            "scans": rows,
        }
        append_result(args.results, line)


if __name__ == "__main__":
    main()
