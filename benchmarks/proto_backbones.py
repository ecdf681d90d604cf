"""Which backbone classifies the real PhysioNet patients' crops best: `proto evaluate` on the three
NIfTI patients (myocardium from the expert wall, ventricles and extracardiac derived from it),
support and query always of different patients, beside the hand-feature and raw-pixel baselines on
the same episodes, over several seeds.

Usage:
  python benchmarks/proto_backbones.py --data-dir ../shared/data/mps-physionet \
      --backbones "resnet18 random=resnet18:random" "prnet-2d phantom only=prnet:PRNET2D_PHANTOM.safetensors" \
      --seeds 0 1 2 --note "..."

Each `--backbones` entry is LABEL=BACKBONE:WEIGHTS (`proto evaluate --backbone --weights`), or
LABEL=bank:BANK.safetensors (a bank's backbone, as `proto evaluate --bank`); say in the
label or `--note` whether the backbone saw these patients (unlabelled) in training. Appends one line
to `benchmarks/results/proto-backbones.jsonl`: per backbone and seed, every method's accuracy.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from tempfile import TemporaryDirectory

from provenance import append_result, provenance

import spectfsl
from spectfsl.core.data.shared import physionet_wall_pairs
from spectfsl.core.proto.episodes import EpisodeShape
from spectfsl.core.proto.evaluation import EvaluateSettings, bank_embedding, evaluate_folder, weights_embedding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="the PhysioNet folder (mps-physionet/)")
    parser.add_argument("--backbones", nargs="+", required=True, help="LABEL=BACKBONE:WEIGHTS")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    images, masks = physionet_wall_pairs(args.data_dir / "nifti")
    with TemporaryDirectory() as folder:
        crops = Path(folder) / "crops"
        spectfsl.prepare(
            images,
            crops,
            masks={"myocardium": masks},
            derive_from="myocardium",
            settings=spectfsl.PrepareSettings(min_pixels=10, slices=False),
        )
        data = spectfsl.read_dataset(crops)
        results = {}
        for entry in args.backbones:
            label, _, spec = entry.partition("=")
            backbone, _, weights = spec.partition(":")
            runs = []
            for seed in args.seeds:
                if backbone == "bank":
                    embedding = bank_embedding(weights)
                else:
                    embedding = weights_embedding(weights, backbone, seed=seed)
                settings = EvaluateSettings(EpisodeShape(3, 3, 3), args.episodes, True, True, seed)
                result = evaluate_folder(crops, embedding, settings)
                runs.append({method.name: method.mean for method in result.methods})
            network = next(iter(runs[0]))  # the first method is the backbone's network
            results[label] = {
                "backbone": backbone,
                "weights": weights,
                "runs": runs,
                "network_mean": statistics.mean(run[network] for run in runs),
                "network_sd": statistics.stdev(run[network] for run in runs) if len(runs) > 1 else 0.0,
            }
            print(label, {m: round(statistics.mean(r[m] for r in runs), 3) for m in runs[0]}, flush=True)
    line = {
        **provenance(),
        "crops": len(data.labels),
        "patients": len(set(data.patients)),
        "classes": data.classes,
        "episodes": args.episodes,
        "seeds": args.seeds,
        "note": args.note,
        "backbones": results,
    }
    append_result("proto-backbones", line)


if __name__ == "__main__":
    main()
