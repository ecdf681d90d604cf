"""Write each built-in model's measured scores into its card, from `benchmarks/results/builtin-*.jsonl`.

Usage: python benchmarks/card_scores.py

Only result lines measured on the very file the card describes (their `parent.sha256` is the card's
`sha256`) count; the newest such line of each kind is quoted, with its commit, date and command.
"""

from __future__ import annotations

import json
import re
import statistics

from provenance import RESULTS

from spectfsl.core.files.catalogue import CATALOGUE, card, card_path_for, models_folder


def lines(name: str, sha256: str) -> list[dict]:
    path = RESULTS / f"{name}.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(text) for text in path.read_text().splitlines() if text.strip()]
    return [row for row in rows if row.get("parent", {}).get("sha256") == sha256]


#: Where the real data lie on the machine that measured (any path below a `data/` folder of the shared
#: data): a card names them relative to SPECTFSL_DATA, as a user's machine knows them.
SHARED_DATA = re.compile(r"\S*?/shared/data/")
#: A scratch folder (a phantom written for the run, a model made for it): only its file's name means
#: anything on another machine.
SCRATCH = re.compile(r"/tmp/\S*/([^/\s]+)")


def portable(command: str) -> str:
    """The benchmark command with machine-specific paths replaced: real data as `$SPECTFSL_DATA/...`,
    scratch files as `SCRATCH/<name>`."""
    return SCRATCH.sub(r"SCRATCH/\1", SHARED_DATA.sub("$SPECTFSL_DATA/", command))


def source(row: dict, name: str) -> dict:
    return {"results": f"benchmarks/results/{name}.jsonl", "commit": row["commit"], "date": row["date"],
            "command": portable(row["command"])}  # fmt: skip


def segment_scores(sha256: str) -> list[dict]:
    rows = lines("builtin-segment", sha256)
    scores = []
    zero = [row for row in rows if row["mode"] == "zero-shot"]
    if zero:
        row = zero[-1]
        scores.append(
            {
                "measure": "Dice myocardium / cavity, no labelled scan, mean over scans",
                "value": [row["mean_dice"]["myocardium"], row["mean_dice"]["cavity"]],
                "data": f"lvseg-mtu, {len(row['scans'])} scans (never trained on)",
                **source(row, "builtin-segment"),
            }
        )
    seeds = [json.loads(text) for text in (RESULTS / "builtin-segment-seeds.jsonl").read_text().splitlines()]
    if seeds:  # the recipe's other seeds: how much a remade model may differ (files of their own)
        scores.append(
            {
                "measure": "Dice myocardium / cavity, no labelled scan, of this recipe's seeds "
                + " / ".join(str(row["recipe_seed"]) for row in seeds),
                "value": [[row["mean_dice"]["myocardium"], row["mean_dice"]["cavity"]] for row in seeds],
                "data": "lvseg-mtu, 8 scans (never trained on)",
                **source(seeds[-1], "builtin-segment-seeds"),
            }
        )
    one = [row for row in rows if row["mode"] == "one-shot"]
    if one:
        means = {k: round(statistics.mean(r["mean_dice"][k] for r in one), 4) for k in ("myocardium", "cavity")}
        seconds = [r["fit_seconds"] for r in one]
        scores.append(
            {
                "measure": "Dice myocardium / cavity, `segment fit` from this model on 1 scan (defaults), "
                f"mean of {len(one)} runs (supports x seeds), the other scans; fit {min(seconds)}-{max(seconds)} s",
                "value": [means["myocardium"], means["cavity"]],
                "data": "lvseg-mtu (never trained on)",
                **source(one[-1], "builtin-segment"),
            }
        )
    return scores


def prnet_scores(sha256: str) -> list[dict]:
    scores = []
    for row in lines("builtin-prnet", sha256):
        for name, summaries in row["landmarks"].items():
            by_method = {s["method"]: s for s in summaries}
            located = by_method.get("prnet + local template matching", by_method["prnet"])
            scores.append(
                {
                    "measure": f"{name} MRE mm, leave-one-out ({located['pairs']} pairs): prnet locate "
                    f"{round(located['mre_mm'], 1)}, PRNet alone {round(by_method['prnet']['mre_mm'], 1)}, "
                    f"naive {round(by_method['naive']['mre_mm'], 1)}",
                    "value": round(located["mre_mm"], 2),
                    "data": f"{row['points']}: {row['note']}",
                    **source(row, "builtin-prnet"),
                }
            )
    return scores


def anatomy_scores(sha256: str) -> list[dict]:
    """From `localisation-ablation.jsonl`: the lines where this file was a localiser evaluated."""
    path = RESULTS / "localisation-ablation.jsonl"
    rows = [json.loads(text) for text in path.read_text().splitlines() if text.strip()] if path.is_file() else []
    scores = []
    for row in rows:
        if sha256 not in {model["sha256"] for model in row["models"]}:
            continue
        for name, summaries in row["landmarks"].items():
            by_method = {s["method"]: s for s in summaries}
            located, alone = by_method["anatomy + local template matching"], by_method["anatomy"]
            classical = {
                m: s["mre_mm"] for m, s in by_method.items() if m.startswith("template") or m == "registration"
            }
            strongest = min(classical, key=classical.get)
            scores.append(
                {
                    "measure": f"{name} MRE mm, leave-one-out ({located['pairs']} pairs): prnet locate "
                    f"{round(located['mre_mm'], 1)}, the network alone {round(alone['mre_mm'], 1)}, the strongest "
                    f"classical ({strongest}) {round(classical[strongest], 1)}",
                    "value": round(located["mre_mm"], 2),
                    "data": f"{row['points']}: {row['note']}",
                    "results": "benchmarks/results/localisation-ablation.jsonl",
                    "commit": row["commit"],
                    "date": row["date"],
                    "command": portable(row["command"]),
                }
            )
    return scores


SCORES = {"segment": segment_scores, "prnet": prnet_scores, "anatomy": anatomy_scores}


def main() -> None:
    for model in CATALOGUE:
        document = card(model)
        scores = SCORES[model.kind](document["sha256"])
        document["scores"] = scores
        path = card_path_for(models_folder() / model.file_name)
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        print(f"{model.name}: {len(scores)} scores")


if __name__ == "__main__":
    main()
