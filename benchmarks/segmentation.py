"""Choose `segment fit` defaults by measurement: every choice of support scan(s), the other scans evaluated.

Usage:
  python benchmarks/segmentation.py --supports 4 \
      --images ../shared/data/lvseg-mtu/P*_rest.nii.gz ../shared/data/lvseg-mtu/P*_stress.nii.gz \
      --labels-suffix _labels --classes 1=myocardium,2=cavity --methods finetune prototype --steps 300 --seeds 0
  python benchmarks/segmentation.py --images ../shared/data/mps-physionet/nifti/*_0000.nii.gz \
      --mask-suffix '' --strip _0000 --derive-from myocardium --methods finetune prototype

Each image's label map (or wall mask) is found beside it by name. One JSON line per (method,
setting, seed, support) with the Dice and HD95 per class of each evaluated scan, the threshold
baseline's on the same scans, and a last line per method with the mean, median and range of the
per-support mean Dice over supports and seeds: appended, with provenance, to
`benchmarks/results/segmentation.jsonl`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from provenance import append_result, provenance

from spectfsl.core.segment.settings import SegmentSettings
from spectfsl.core.segment.support import choose_classes, load_labelled
from spectfsl.core.segment.workflows import evaluate_scans, fit_segmenter, starting_point


def short(path: str) -> str:
    """A scan's folder and file name (the phantom's scans are all `P<id>/spect.dcm`)."""
    return "/".join(Path(path).parts[-2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", required=True)
    parser.add_argument("--labels-suffix", help="label map = image stem + this (e.g. _labels)")
    parser.add_argument("--labels-name", help="label map = this file beside the image (e.g. labels.npy)")
    parser.add_argument("--mask-suffix", help="wall mask = image stem (minus --strip) + this")
    parser.add_argument("--strip", default="", help="removed from the image stem to name its mask")
    parser.add_argument("--classes")
    parser.add_argument("--derive-from")
    parser.add_argument("--methods", nargs="+", default=["finetune"])
    defaults = SegmentSettings()
    parser.add_argument("--steps", type=int, nargs="+", help="default: the starting point's (segment fit's)")
    parser.add_argument("--init", default="random", help="builtin, random (default) or a model file to start from")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--supports", type=int, help="only the first N choices of support")
    parser.add_argument("--crop", type=int, help="default: the starting point's")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--channels", type=int, help="default: the starting point's")
    parser.add_argument("--max-gain", type=float, default=defaults.gain, help="intensity gain augmentation")
    parser.add_argument(
        "--resolution",
        type=float,
        default=SegmentSettings.resolution,
        help="resolution augmentation: largest blur sigma (voxels) and sharpening amount (0: off)",
    )
    parser.add_argument("--drop-stray", action="store_true", help="score the label maps with `--drop-stray`")
    args = parser.parse_args()

    images = [Path(p) for p in args.images]

    def companion(image: Path, suffix: str) -> Path:
        stem = image.name.removesuffix(".nii.gz").removesuffix(args.strip)
        return image.with_name(stem + suffix + ".nii.gz")

    labels = [companion(p, args.labels_suffix) for p in images] if args.labels_suffix is not None else []
    if args.labels_name:
        labels = [p.with_name(args.labels_name) for p in images]
    masks = {"myocardium": [companion(p, args.mask_suffix) for p in images]} if args.mask_suffix is not None else {}
    classes = choose_classes(args.classes, labels, list(masks), args.derive_from)
    scans = list(load_labelled(images, labels, classes, masks, args.derive_from))
    supports = [scans[i : i + args.shots] for i in range(0, len(scans) - args.shots + 1, args.shots)]
    supports = supports[: args.supports] if args.supports else supports
    summary: dict[str, list[dict[str, float]]] = {}
    start_point = starting_point(args.init, scans[0][0].pixels.ndim)
    for method in args.methods:
        for steps in args.steps or [start_point.settings(classes).steps]:
            for seed in args.seeds:
                given = {"crop": args.crop, "batch_size": args.batch_size, "channels": args.channels}
                given = {key: value for key, value in given.items() if value is not None}
                settings = start_point.settings(
                    classes,
                    method=method,
                    steps=steps,
                    seed=seed,
                    gain=args.max_gain,
                    resolution=args.resolution,
                    **given,
                )
                for support in supports:
                    start = time.perf_counter()
                    segmenter = fit_segmenter(support, classes, settings, initial=start_point.model)
                    fit_s = time.perf_counter() - start
                    held_out = [s for s in scans if all(s is not t for t in support)]
                    scores = list(evaluate_scans(segmenter, held_out, baselines_too=True, drop_stray=args.drop_stray))
                    line = {
                        "method": method,
                        "steps": steps,
                        "seed": seed,
                        "crop": settings.crop,
                        "init": args.init,
                        "lr": settings.lr,
                        "batch_size": segmenter.info.training["batch_size"],
                        "max_gain": args.max_gain,
                        "resolution": args.resolution,
                        "drop_stray": args.drop_stray,
                        "support": [short(image.source) for image, _ in support],
                        "fit_s": round(fit_s, 1),
                        "scores": [
                            {"method": s.method, "path": short(s.path), "dice": s.dice, "hd95_mm": s.hd95_mm}
                            for s in scores
                        ],
                    }
                    append_result("segmentation", {**provenance(), **line})
                    for who in (method, "threshold"):
                        mine = [s for s in scores if s.method == who]
                        means = {c: statistics.mean(s.dice[c] for s in mine) for c in mine[0].dice} if mine else {}
                        summary.setdefault(f"{who}/{steps}" if who != "threshold" else who, []).append(means)
    result = {}
    for key, rows in summary.items():
        result[key] = {
            c: {
                "mean": round(statistics.mean(r[c] for r in rows), 4),
                "median": round(statistics.median(r[c] for r in rows), 4),
                "min": round(min(r[c] for r in rows), 4),
                "max": round(max(r[c] for r in rows), 4),
            }
            for c in rows[0]
        }
    append_result("segmentation", {**provenance(), "summary": result})


if __name__ == "__main__":
    main()
