"""Real-volume localisation with the target volumes held out of training: a built-in recipe re-made
once per fold without that fold's real volumes, then every landmark found in each held-out volume
from every other volume as reference.

Usage:
  python benchmarks/localisation_holdout.py --recipe anatomy-3d --data-dir ../shared/data/mps-physionet \
      --points benchmarks/points/mps-physionet-all-3d.csv \
      --folds "dicom/mps-1.dcm nifti/patient001_0000.nii.gz" "dicom/mps-2.dcm nifti/patient002_0000.nii.gz" ...

Each fold is a space-separated list of volumes (relative to `--data-dir`) left out of that re-make;
the pairs pooled over the folds are those whose target was held out, so with every volume in one fold
they are the same ordered pairs as `localisation_ablation.py`'s (whose classical baselines need no
training and are not repeated here). The reference volume may have been in the re-make's training data:
it is the one the user marks. Appends one line to `benchmarks/results/localisation-holdout.jsonl` with
provenance, the recipe, the folds, each fold's training time and the pooled summaries per landmark.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from provenance import append_result, provenance

from spectfsl.core.files.points import read_points
from spectfsl.core.models.anatomy_recipe import AnatomyRecipe, train_anatomy
from spectfsl.core.models.prnet_recipe import PRNetRecipe, recipe_volumes, train_prnet
from spectfsl.core.prnet.embedding import AnatomyLocaliser
from spectfsl.core.prnet.evaluate import ErrorSummary, load_landmarks, methods_of, radial_error
from spectfsl.core.prnet.locate import LOCAL_MATCH_MM, Localiser, PRNetLocaliser

#: The built-in recipes this script re-makes, by model name.
RECIPES = {"anatomy-3d": AnatomyRecipe(dims=3), "prnet-3d": PRNetRecipe(dims=3)}


def make_without(name: str, physionet: Path, held_out: set[Path]) -> tuple[Localiser, int]:
    """The named recipe's localiser re-made without the `held_out` real volumes, and its volume count."""
    recipe = RECIPES[name]
    volumes = [v for v in recipe_volumes(physionet, recipe) if Path(v.source).resolve() not in held_out]
    if isinstance(recipe, AnatomyRecipe):
        return AnatomyLocaliser(*train_anatomy(volumes, recipe)), len(volumes)
    return PRNetLocaliser([train_prnet(volumes, recipe)]), len(volumes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    parser.add_argument("--data-dir", type=Path, required=True, help="the PhysioNet folder (mps-physionet/)")
    parser.add_argument("--points", required=True)
    parser.add_argument("--folds", nargs="+", required=True, help="each: the volumes one re-make leaves out")
    parser.add_argument("--results", default="localisation-holdout")
    args = parser.parse_args()
    rows = read_points(args.points, args.data_dir)
    summaries: dict[str, dict[str, ErrorSummary]] = {}
    folds = []
    for fold in args.folds:
        held_out = {(args.data_dir / name).resolve() for name in fold.split()}
        started = time.perf_counter()
        localiser, volumes = make_without(args.recipe, args.data_dir, held_out)
        trained = time.perf_counter() - started
        alone, _, _, full = methods_of(localiser.method)
        landmarks = load_landmarks(rows, localiser.pixel_mm, dims=3)
        pairs = 0
        for name in sorted({landmark.name for landmark in landmarks}):
            cases = [landmark for landmark in landmarks if landmark.name == name]
            methods = summaries.setdefault(name, {m: ErrorSummary(m, [], []) for m in (alone, full)})
            for target in cases:
                if Path(target.grid.source.source).resolve() not in held_out:
                    continue
                for reference in cases:
                    if reference is target:
                        continue
                    for method, radius in ((alone, 0.0), (full, LOCAL_MATCH_MM[3])):
                        found = localiser.locate(reference.grid, reference.xy, [target.grid], radius)[0]
                        millimetres, pixels = radial_error(target.grid, found.xy, target.xy)
                        methods[method].errors_mm.append(millimetres)
                        methods[method].errors_px.append(pixels)
                    pairs += 1
        folds.append({"held_out": fold.split(), "volumes": volumes, "train_s": round(trained, 1), "pairs": pairs})
        print(f"fold {fold}: {volumes} training volumes, {trained:.0f} s, {pairs} pairs", flush=True)
    line = {
        **provenance(),
        "recipe": args.recipe,
        "settings": vars(RECIPES[args.recipe]),
        "points": Path(args.points).name,
        "folds": folds,
        "landmarks": {name: [s.as_dict() for s in methods.values()] for name, methods in summaries.items()},
    }
    append_result(args.results, line)
    for name, methods in summaries.items():
        print(name, {m: round(float(np.mean(s.errors_mm)), 2) for m, s in methods.items()})


if __name__ == "__main__":
    main()
