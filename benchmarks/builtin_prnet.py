"""Measure a PRNet model (a built-in one by default) with no training: leave-one-out one-shot
localisation on POINTS.csv files, next to naive and template matching (and, with --baselines,
registration: it needs SimpleITK).

Usage:
  python benchmarks/builtin_prnet.py --model builtin --dims 3 --data-dir ../shared/data/mps-physionet \
      --points benchmarks/points/mps-physionet-all-3d.csv
  python benchmarks/builtin_prnet.py --model builtin --dims 3 --points PHANTOM/points3d.csv

Appends one line per POINTS.csv to `benchmarks/results/builtin-prnet.jsonl` with provenance, the
model's parent and SHA-256, and every landmark's summary per method. Note whether the evaluated
images were in the model's (unlabelled) training data: the card of each built-in model lists them.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from provenance import append_result, provenance

from spectfsl.core.files.points import read_points
from spectfsl.core.prnet.evaluate import evaluate_localisation, load_landmarks
from spectfsl.core.prnet.model_file import open_prnet, parent_of
from spectfsl.core.processing.registration import RegistrationSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="builtin")
    parser.add_argument("--dims", type=int, default=3, choices=(2, 3))
    parser.add_argument("--points", nargs="+", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--note", default="", help="what the evaluated images are to the model (e.g. unseen)")
    parser.add_argument("--baselines", action="store_true", help="also the registration baseline")
    parser.add_argument("--registration-seed", type=int, default=1, help="the registration metric's sample seed")
    parser.add_argument("--results", default="builtin-prnet")
    args = parser.parse_args()
    stage = open_prnet(args.model, "cpu", args.dims)
    settings = RegistrationSettings(seed=args.registration_seed) if args.baselines else None
    for points in args.points:
        landmarks = load_landmarks(read_points(points, args.data_dir), stage[1].pixel_mm, args.dims)
        result = evaluate_localisation([stage], landmarks, registration_settings=settings)
        line = {
            **provenance(),
            "model": args.model,
            "parent": parent_of(args.model, args.dims),
            "dims": args.dims,
            "points": Path(points).name,
            "note": args.note,
            "match_radius_mm": result.match_radius_mm,
            "registration": asdict(settings) if settings else None,
            "landmarks": result.as_dict(),
            "score_check": result.score_check(),
        }
        append_result(args.results, line)


if __name__ == "__main__":
    main()
