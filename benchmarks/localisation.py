"""Choose PRNet defaults by measurement: train (2D on every slice of the volumes, or 3D on the
volumes) with given settings and seeds, then leave-one-out one-shot localisation on a POINTS.csv,
next to the naive baseline and template matching.

Usage:
  python benchmarks/localisation.py --dims 3 --points benchmarks/points/mps-physionet-all-3d.csv \
      --data-dir ../shared/data/mps-physionet --steps 500 --seeds 0 1 2 [--pixel-mm 8 --patch 16 ...] \
      VOLUME...

Appends to `benchmarks/results/localisation.jsonl`, with provenance, one line per seed (settings,
training seconds, the final training loss, the offset error
and correlation per axis on random pairs within the evaluated images, every landmark's summary per method)
and a last line with the median and range of each method's MRE per landmark over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from provenance import append_result, provenance

from spectfsl.core.device import setup_device
from spectfsl.core.files.loader import iter_images
from spectfsl.core.files.points import read_points
from spectfsl.core.prnet.evaluate import evaluate_localisation, load_landmarks, pair_offset_check
from spectfsl.core.prnet.grid import grid_images, grid_volumes
from spectfsl.core.prnet.locate import LOCAL_MATCH_MM
from spectfsl.core.prnet.training import PRNetSettings, default_settings, train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("volumes", nargs="+")
    parser.add_argument("--points", required=True, nargs="+", help="one or more POINTS.csv, each evaluated")
    parser.add_argument("--data-dir")
    parser.add_argument("--dims", type=int, default=3, choices=(2, 3))
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pixel-mm", type=float, help="default: the model's (2D 4, 3D 8)")
    parser.add_argument("--patch", type=int, help="default: the model's (2D 32, 3D 16)")
    parser.add_argument("--channels", type=int, help="default: the model's (2D 16, 3D 8)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-schedule", default="constant")
    parser.add_argument("--head-activation", help="default: the model's (2D relu, 3D leaky_relu)")
    parser.add_argument(
        "--match-radii",
        type=float,
        nargs="+",
        help="local matching radii (mm) to report (default: the model's, LOCAL_MATCH_MM)",
    )
    args = parser.parse_args()
    defaults = default_settings(args.dims)
    args.pixel_mm = args.pixel_mm or defaults.pixel_mm
    args.patch = args.patch or defaults.patch
    args.channels = args.channels or defaults.channels
    args.head_activation = args.head_activation or defaults.head_activation
    args.match_radii = args.match_radii or [LOCAL_MATCH_MM[args.dims]]
    device = setup_device("cpu")
    grids = (grid_volumes if args.dims == 3 else grid_images)(iter_images(args.volumes), args.pixel_mm)
    landmark_sets = {
        path: load_landmarks(read_points(path, args.data_dir), args.pixel_mm, args.dims) for path in args.points
    }
    results = []
    for seed in args.seeds:
        settings = PRNetSettings(
            patch=args.patch,
            pixel_mm=args.pixel_mm,
            epochs=args.steps // 10,
            iters=10,
            batch_size=args.batch_size,
            lr=args.lr,
            channels=args.channels,
            seed=seed,
            dims=args.dims,
            lr_schedule=args.lr_schedule,
            head_activation=args.head_activation,
        )
        start = time.perf_counter()
        model, info = train_model(grids, settings, device)
        seconds = time.perf_counter() - start
        summary = {}
        evaluated = {id(landmark.grid): landmark.grid for rows in landmark_sets.values() for landmark in rows}
        check = pair_offset_check(model, info, list(evaluated.values()))
        for path, landmarks in landmark_sets.items():
            for radius in args.match_radii:
                result = evaluate_localisation([(model, info)], landmarks, match_radius_mm=radius).as_dict()
                for name, rows in result.items():
                    local = dict(rows[-1], method=f"{rows[-1]['method']} {radius:g} mm")
                    # the other methods do not depend on the radius: reported once
                    rows = [*rows[:-1], local] if radius == args.match_radii[0] else [local]
                    summary.setdefault(f"{Path(path).stem}/{name}", []).extend(rows)
        results.append(summary)
        training = {"final_loss": round(info.training["final_loss"], 5), "pair_offsets": check}
        line = {"seed": seed, "train_s": round(seconds, 1), **training, **vars(args), "landmarks": summary}
        append_result("localisation", {**provenance(), **line})
    spread = {}
    for name in results[0]:
        for index, method in enumerate(row["method"] for row in results[0][name]):
            values = [result[name][index]["mre_mm"] for result in results]
            spread[f"{name}/{method}"] = [
                round(statistics.median(values), 1),
                round(min(values), 1),
                round(max(values), 1),
            ]
    append_result("localisation", {**provenance(), "median_min_max_mre_mm": spread, **vars(args)})


if __name__ == "__main__":
    main()
