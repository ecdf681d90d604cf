"""The localisation ablation: on the same reference-target pairs, the naive copy, whole-image
template matching (at each localiser's template), registration, each network alone (no match
radius) and each full method (`prnet locate`'s default match radius), with no training.

Usage:
  python benchmarks/localisation_ablation.py --dims 3 --points PHANTOM/points3d.csv \
      --models builtin:anatomy-3d builtin:prnet-3d --baselines --note "phantom seed 7, unseen"
  python benchmarks/localisation_ablation.py --dims 3 --data-dir ../shared/data/mps-physionet \
      --points benchmarks/points/mps-physionet-all-3d.csv --models builtin:anatomy-3d OTHER.safetensors \
      --baselines --note "..."

`--models` takes model files or `builtin:<name>` (a built-in model by name). Appends one line per
POINTS.csv to `benchmarks/results/localisation-ablation.jsonl` with provenance, each model's SHA-256,
the methods' summaries per landmark (template matching once per template size) and the AUC of each
full method's `score` for answers within 10 mm against those beyond 20 mm. Say in `--note` whether
the evaluated images were in a model's (unlabelled) training data.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from provenance import append_result, provenance

from spectfsl.core.files.catalogue import named, verified_path
from spectfsl.core.files.points import read_points
from spectfsl.core.files.store import sha256_of
from spectfsl.core.prnet.evaluate import evaluate_localisation, load_landmarks, template_matching_errors
from spectfsl.core.prnet.localisers import open_localiser
from spectfsl.core.processing.registration import RegistrationSettings


def model_file(spec: str) -> Path:
    """A model file, or `builtin:<name>` as the built-in model's file (its SHA-256 checked)."""
    return verified_path(named(spec.removeprefix("builtin:"))) if spec.startswith("builtin:") else Path(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--dims", type=int, default=3, choices=(2, 3))
    parser.add_argument("--points", nargs="+", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--names", nargs="+", help="only these landmarks (default: every one)")
    parser.add_argument("--note", default="", help="what the evaluated images are to each model (e.g. unseen)")
    parser.add_argument("--baselines", action="store_true", help="also the registration baseline (SimpleITK)")
    parser.add_argument(
        "--templates", type=int, nargs="*", default=[], help="template matching at these sides too (model pixels)"
    )
    parser.add_argument("--results", default="localisation-ablation")
    args = parser.parse_args()
    files = [model_file(spec) for spec in args.models]
    localisers = [open_localiser(path, dims=args.dims) for path in files]
    for points in args.points:
        rows = [row for row in read_points(points, args.data_dir) if not args.names or row[1] in args.names]
        landmarks: dict[str, dict[str, dict]] = {}
        models, score_checks = [], {}
        for index, (path, localiser) in enumerate(zip(files, localisers)):
            started = time.perf_counter()
            registration = RegistrationSettings() if args.baselines and index == 0 else None
            result = evaluate_localisation(
                localiser, load_landmarks(rows, localiser.pixel_mm, args.dims), registration_settings=registration
            )
            seconds = time.perf_counter() - started
            for name, summaries in result.as_dict().items():
                for summary in summaries:
                    method = summary["method"]
                    if method == "template matching":
                        method = f"template matching ({result.template_px} px at {localiser.pixel_mm:g} mm)"
                    if method not in landmarks.setdefault(name, {}):
                        landmarks[name][method] = summary | {"method": method}
            score_checks[localiser.method] = result.score_check()
            if index == 0:
                grids = load_landmarks(rows, localiser.pixel_mm, args.dims)
                for side in args.templates:
                    for name, summary in template_matching_errors(grids, side).items():
                        method = f"template matching ({side | 1} px at {localiser.pixel_mm:g} mm)"
                        landmarks[name].setdefault(method, summary.as_dict() | {"method": method})
            models.append(
                {"file": path.name, "method": localiser.method, "sha256": sha256_of(path), "seconds": round(seconds, 1)}
            )
        line = {
            **provenance(),
            "dims": args.dims,
            "points": Path(points).name,
            "note": args.note,
            "models": models,
            "registration": args.baselines,
            "landmarks": {name: list(methods.values()) for name, methods in landmarks.items()},
            "score_check": score_checks,
        }
        append_result(args.results, line)
        for name, methods in landmarks.items():
            print(name, {m: round(s["mre_mm"], 2) for m, s in methods.items()})


if __name__ == "__main__":
    main()
