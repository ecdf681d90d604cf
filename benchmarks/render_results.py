"""Render `benchmarks/results/*.jsonl` as Markdown tables: the docs quote these, never hand-copied
numbers (the docs build calls `render` through `docs/hooks/generated.py`).

Usage:
  python benchmarks/render_results.py [NAME ...]     # print the tables (default: every results file)

Each table row is one results line (or one landmark of it) with its date and commit; the full
settings and versions are in the line itself.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def lines(name: str) -> list[dict[str, Any]]:
    """The results lines of `benchmarks/results/<name>.jsonl`."""
    path = RESULTS / f"{name}.jsonl"
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]


def table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value).replace("|", "\\|")

    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def when(line: dict[str, Any]) -> list[str]:
    return [line["date"][:10], line["commit"][:7] + ("+" if line["commit"].endswith("+dirty") else "")]


def localisation(name: str) -> str:
    """Leave-one-out one-shot localisation: mean radial error (mm) per method, per landmark."""
    methods = ["prnet + local template matching", "prnet", "naive", "template matching", "registration"]
    rows = []
    for line in lines(name):
        for landmark, summaries in line["landmarks"].items():
            by_method = {s["method"]: s for s in summaries}
            score = line.get("score_check") or {}
            rows.append(
                [*when(line), f"{line['dims']}D", line["points"], landmark, summaries[0]["pairs"]]
                + [by_method[m]["mre_mm"] if m in by_method else None for m in methods]
                + [score.get("auc"), line.get("note", "")]
            )
    header = ["date", "commit", "model", "points", "landmark", "pairs", *methods, "score AUC", "note"]
    return table(header, rows)


def ablation(name: str) -> str:
    """The localisation ablation: per data set and landmark, each method's mean radial error (mm) on
    the same pairs, the strongest classical one and each full method's score AUC."""
    rows = []
    for line in lines(name):
        for landmark, summaries in line["landmarks"].items():
            by_method = {s["method"]: s["mre_mm"] for s in summaries}
            classical = {m: v for m, v in by_method.items() if m.startswith("template matching") or m == "registration"}
            strongest = min(classical, key=classical.get) if classical else None
            templates = "; ".join(f"{m.removeprefix('template matching ')} {v:.1f}" for m, v in by_method.items()
                                  if m.startswith("template matching"))  # fmt: skip
            auc = "; ".join(f"{m} {c['auc']:.2f}" for m, c in line["score_check"].items() if c.get("auc") is not None)
            rows.append(
                [*when(line), f"{line['dims']}D", line["points"], landmark, summaries[0]["pairs"]]
                + [by_method.get(m) for m in ABLATION_METHODS]
                + [templates, f"{strongest} {classical[strongest]:.1f}" if strongest else None, auc, line["note"]]
            )
    header = ["date", "commit", "dims", "points", "landmark", "pairs", *ABLATION_METHODS]
    return table(header + ["template matching", "strongest classical", "score AUC", "note"], rows)


#: The ablation's columns: the learned methods alone and full, then the naive copy and registration.
ABLATION_METHODS = [
    "anatomy + local template matching",
    "anatomy",
    "prnet + local template matching",
    "prnet",
    "naive",
    "registration",
]


def holdout(name: str) -> str:
    """Real volumes with the target held out of training: per recipe and landmark, the network alone
    and the full method (mean and median radial error, mm), the folds and their training time."""
    rows = []
    for line in lines(name):
        folds = f"{len(line['folds'])} folds of {len(line['folds'][0]['held_out'])} volumes"
        minutes = sum(fold["train_s"] for fold in line["folds"]) / 60
        for landmark, summaries in line["landmarks"].items():
            alone, full = summaries
            rows.append(
                [*when(line), line["recipe"], landmark, full["pairs"], alone["mre_mm"], full["mre_mm"],
                 full["median_mm"], full["within_10mm"], folds, round(minutes)]
            )  # fmt: skip
    header = ["date", "commit", "recipe", "landmark", "pairs", "network alone", "full method", "full median"]
    return table(header + ["full within 10 mm", "held out", "training min"], rows)


def proto_backbones(name: str) -> str:
    """Backbones for `proto` on the real patients' crops: the network's mean accuracy over seeds (sd)
    beside the hand-feature and raw-pixel baselines on the same episodes."""
    rows = []
    for line in lines(name):
        for label, result in line["backbones"].items():
            hand = [run["hand features (nearest centroid)"] for run in result["runs"]]
            pixels = [run["raw pixels (nearest centroid)"] for run in result["runs"]]
            rows.append(
                [*when(line), label, len(result["runs"]), result["network_mean"], result["network_sd"],
                 sum(hand) / len(hand), sum(pixels) / len(pixels), line["note"]]
            )  # fmt: skip
    header = ["date", "commit", "backbone", "seeds", "network", "sd", "hand features", "raw pixels", "note"]
    return table(header, rows)


def locate_time(name: str) -> str:
    """`prnet locate` on many volumes: each model's median wall time over runs of the same session."""
    rows = [
        [*when(line), line["model"], line["sha256"][:12], line["volumes"], line["median_s"],
         ", ".join(f"{s:.1f}" for s in line["seconds"])]
        for line in lines(name)
    ]  # fmt: skip
    return table(["date", "commit", "model", "sha256", "volumes", "median s", "runs s"], rows)


def segmentation(name: str) -> str:
    """Tissue maps: mean Dice per class over the evaluated scans, per run."""
    rows = []
    for line in lines(name):
        if "summary" in line:
            continue
        dice = line.get("mean_dice") or _mean_dice(line)
        settings = line.get("settings") or {}
        steps = settings.get("steps", line.get("steps"))
        support = line.get("support")
        support = ", ".join(support) if isinstance(support, list) else support
        seconds = line.get("fit_seconds", line.get("seconds", line.get("fit_s")))
        what = line.get("mode") or line.get("method")
        if what == "single-atlas registration":  # the deformable model (lines before demons: the B-spline)
            what += f" ({settings.get('deformation', 'bspline')})"
        classes = "; ".join(f"{name} {value:.3f}" for name, value in dice.items())
        rows.append([*when(line), what, Path(str(line.get("model", line.get("init", "")))).name, support, steps,
                     classes, seconds])  # fmt: skip
    return table(["date", "commit", "mode", "model", "support", "steps", "mean Dice", "fit s"], rows)


def _mean_dice(line: dict[str, Any]) -> dict[str, float]:
    scores = [s for s in line.get("scores", []) if s["method"] == line.get("method")]
    if not scores:
        return {}
    return {c: statistics.mean(s["dice"][c] for s in scores) for c in scores[0]["dice"]}


def proto_ood(name: str) -> str:
    """`proto predict`'s ood: share flagged per kind of image, per fold."""
    rows = []
    for line in lines(name):
        flagged = line["flagged"]
        rows.append(
            [*when(line), line["data"], line["seed"], len(line["fit_patients"]), line["held_out_accuracy"]]
            + [f"{round(v['fraction'] * v['images'])}/{v['images']}" for v in flagged.values()]
        )
    header = ["date", "commit", "data", "fold", "fit patients", "held-out accuracy", *line["flagged"]]
    return table(header, rows)


def bench(name: str) -> str:
    """`spectfsl bench` runs: per workload, the median throughput and ratio to its bare network."""
    runs = lines(name)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for workload in run["bench"]["workloads"]:
            by_id.setdefault(workload["id"], []).append(workload)
    rows = [
        [
            workload_id,
            len(found),
            statistics.median(w["throughput"] for w in found),
            found[0]["unit"],
            statistics.median(w["ratio"] for w in found),
            ", ".join(f"{w['ratio']:.2f}" for w in found),
            statistics.median(w.get("peak_memory_mb") or 0 for w in found),
        ]
        for workload_id, found in by_id.items()
    ]
    first = runs[0]
    note = (
        f"{len(runs)} runs, {when(first)[0]}, commit {when(first)[1]}, torch {first['versions']['torch']}, "
        f"{first['machine']['cores']} cores, device {first['bench']['device']}, settings {first['bench']['settings']}"
    )
    header = ["workload", "runs", "median throughput", "unit", "median ratio", "ratios", "peak memory MB"]
    return table(header, rows) + f"\n\n{note}"


def quantify(name: str) -> str:
    """`quantify` against known answers: the phantom's defect wall, and real segments against experts."""
    rows = []
    for line in lines(name):
        if line["part"] == "phantom defect walls":
            found = line["defect_wall_found"]
            with_rv = f", with the RV {found['true with rv']:.0%}" if "true with rv" in found else ""
            result = (
                f"defect wall found: true labels {found['true']:.0%}{with_rv}, built-in model {found['builtin']:.0%}"
            )
            detail = (
                f"uptake {line['defect_uptake']}, {line['patients']} patients x 4 walls x seeds {line['seeds']}; "
                f"cavity volume error (true labels) max {line['cavity_volume_error_pct_max']}%; "
                f"{line['quantify_seconds_median'] * 1000:.0f} ms per scan"
            )
        elif line["part"] == "phantom defect extent per threshold":
            extent = line["extent_pct"]
            result = "; ".join(
                f"{t}%: normal {extent['normal'][t]['mean']} (max {extent['normal'][t]['max']}), "
                f"defect {extent['defect'][t]['mean']} (min {extent['defect'][t]['min']})"
                for t in extent["normal"]
            )
            detail = f"defect extent %, defect uptake {line['defect_uptake']}, seeds {line['seeds']}"
        else:
            volume = line["cavity_volume_error_pct"]
            result = (
                f"segments: mean |difference| {line['mean_abs_diff_points']} points (worst scan "
                f"{line['worst_scan_mean_abs_diff_points']}); cavity volume error {volume['mean']}% "
                f"({volume['min']}-{volume['max']})"
            )
            detail = f"{line['model']}, {line['scans']} scans"
        rows.append([*when(line), line["part"], result, detail])
    return table(["date", "commit", "what", "result", "settings"], rows)


def gated_lvef(name: str) -> str:
    """LV function of gated studies: LVEF agreement (EF points) of quantify and the classical edges."""
    rows = []
    for line in lines(name):
        if "lvef" not in line:
            rows.append([*when(line), line["part"], line.get("study", ""), "", "", "", "", "", "", "", "",
                         line["quantify_seconds_median"]])  # fmt: skip
            continue
        for method, label in (("learned", "quantify"), ("learned_fit", "quantify, fitted curve"), ("classical",
                              "count-based edges")):  # fmt: skip
            found = line["lvef"][method]
            low, high = found["limits_of_agreement"]
            ratio = line.get("classical_edv_ratio_mean" if method == "classical" else "edv_ratio_mean")
            dice = line.get("cavity_dice_min") if method != "classical" else None
            fold = f" ({line['support_state']}, seed {line['seed']})" if "support_state" in line else ""
            part = line["part"] + fold
            rows.append([*when(line), part, label, found["n"], found["mae"], found["bias"],
                         f"{low:+.1f} to {high:+.1f}", found["r"], found["worst"], ratio, dice, None])  # fmt: skip
    header = ["date", "commit", "data", "method", "studies", "MAE", "bias", "limits of agreement", "r", "worst",
              "EDV ratio", "cavity Dice min", "s per study"]  # fmt: skip
    return table(header, rows)


def readout_checks(name: str) -> str:
    """quantify's read-out checks: polar map completeness, file-order label maps, terminal width."""
    rows = []
    for line in lines(name):
        order = line["file_order_label_maps"]
        for data, shares in line["polar_map_pct_with_value_and_filled"].items():
            least = min(value for value, _ in shares.values())
            most_filled = max(filled for _, filled in shares.values())
            rows.append([*when(line), data, len(shares), least, most_filled, order["patients"],
                         order["defect_wall_found"], order["cavity_volume_error_pct_max"],
                         order["reversed_maps_flagged"], line["terminal_table_widest_line"]])  # fmt: skip
    header = ["date", "commit", "scans", "n", "map with a value, least %", "filled in, most %", "phantom patients",
              "defect wall found", "cavity error max %", "reversed maps flagged", "table width"]  # fmt: skip
    return table(header, rows)


def _points_input(line: dict[str, Any]) -> str:
    """A points file with its folder (`ph1/points3d.csv`), taken from the command where the line names
    the file alone, so that phantoms of different seeds are told apart."""
    if "/" in line["input"] or not line["input"].endswith(".csv"):
        return line["input"]
    paths = [word for word in line["command"].split() if word.endswith("/" + line["input"])]
    return "/".join(Path(paths[0]).parts[-2:]) if paths else line["input"]


def registration_settings(name: str) -> str:
    """The registration baseline per setting: mean seconds per registration, mean (median) landmark
    error in mm or mean atlas Dice per class."""
    rows = []
    for line in lines(name):
        settings = line["label"] or "default"
        for kind, unit in (("error_mm", "mm"), ("dice", "Dice")):
            for measure, values in line.get(kind, {}).items():
                shown = f"{values['mean']:.2f} ({values['median']:.2f})" if unit == "mm" else f"{values['mean']:.3f}"
                seconds = line.get("seconds_total", line.get("seconds_median", 0.0) * line["registrations"])
                rows.append(
                    [*when(line), _points_input(line), settings, "yes" if line.get("both_ways") else "no"]
                    + [line["registrations"], seconds / line["registrations"], f"{measure} ({unit})"]
                    + [values["n"], shown]
                )
    header = ["date", "commit", "input", "settings", "both ways", "registrations", "s each", "measure", "n", "mean"]
    return table(header, rows)


RENDERERS: dict[str, Callable[[str], str]] = {
    "localisation-ablation": ablation,
    "localisation-holdout": holdout,
    "proto-backbones": proto_backbones,
    "locate-time": locate_time,
    "builtin-prnet": localisation,
    "builtin-prnet-registration": localisation,
    "builtin-segment": segmentation,
    "builtin-segment-seeds": segmentation,
    "builtin-segment-defaults": segmentation,
    "builtin-segment-phantom": segmentation,
    "builtin-segment-registration": segmentation,
    "proto-ood": proto_ood,
    "bench": bench,
    "quantify": quantify,
    "gated-lvef": gated_lvef,
    "readout-checks": readout_checks,
    "registration-settings": registration_settings,
}


def render(name: str) -> str:
    """The Markdown table of one results file."""
    if name not in RENDERERS:
        raise KeyError(f"no renderer for benchmarks/results/{name}.jsonl (known: {', '.join(RENDERERS)})")
    return RENDERERS[name](name)


def main() -> None:
    names = sys.argv[1:] or [path.stem for path in sorted(RESULTS.glob("*.jsonl")) if path.stem in RENDERERS]
    for name in names:
        print(f"## {name}\n\n{render(name)}\n")


if __name__ == "__main__":
    main()
