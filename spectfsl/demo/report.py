"""The demo report: one list of blocks rendered as Markdown (report.md) and self-contained HTML (report.html)."""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.core.processing import registration
from spectfsl.core.segment.workflows import ATLAS_REGISTRATION, evaluation_tables, summarise
from spectfsl.core.tables import Table, number, percent
from spectfsl.demo.pipeline import STUDY, Demo

CITATION = (
    "Real data: Myocardial perfusion scintigraphy image database (Calixto, Nogueira, Luz & Ortiz de Camargo, "
    "PhysioNet 2025, https://doi.org/10.13026/ce2z-dw74, CC BY 4.0) and PhysioNet (Goldberger et al., 2000); "
    "the 2D slice of the original few-shot/PRNet study (github.com/hafeezkhan909/FSL_Project)."
)


@dataclass(frozen=True)
class Block:
    """One piece of the report: a heading or paragraph (`text`), a `table`, or a figure by name."""

    kind: str  # "h1", "h2", "p", "table", "figure"
    text: str = ""
    table: Table | None = None


def _figure(name: str, caption: str) -> Block:
    return Block("figure", name, Table(caption, (), ()))


SUMMARY_NOTE = (
    "What differs: spectfsl's numbers are on the synthetic phantom (fit on patients P001-P004, evaluated on "
    "P005-P012, never sharing a patient between support and query), the study's on crops of its own real SPECT "
    f"slices. The study's PRNet training loss ({STUDY['prnet_training_loss']}) is not shown beside ours: the two "
    "losses are on different scales (ours divides offsets by 100 mm) and say nothing about each other."
)


def summary_table(demo: Demo) -> Table:
    """The headline table: ours next to the study's numbers, like with like, and what differs."""
    results, rows = demo.results, []
    if results.fit:
        rows.append(
            (
                "proto: accuracy on the crops the bank was fitted on",
                percent(results.fit.train_accuracy),
                percent(STUDY["train_accuracy"]),
            )
        )
    if results.evaluation:
        network, *baselines = results.evaluation.methods
        rows.append(
            (
                "proto: accuracy on held-out patients (95% CI)",
                f"{percent(network.mean)} ± {percent(network.ci95)}",
                percent(STUDY["validation_accuracy"]),
            )
        )
        best = max(baselines, key=lambda m: m.mean, default=None)
        if best:
            rows.append((f"the same episodes, best trivial baseline ({best.name})", percent(best.mean), "not reported"))
    for result, label, who in _localisation_results(results):
        for name, summaries in (result.as_dict() if result else {}).items():
            full, strongest = located_and_strongest(result.method, summaries)
            rows.append(
                (
                    f"{who} {label} {name}: MRE mm ({strongest['method']})",
                    f"{number(full['mre_mm'])} ({number(strongest['mre_mm'])})",
                    "not reported",
                )
            )
    for scores, label in _segmentation_results(results):
        summary = summarise(scores or [])
        for row in summary:
            if row["method"] in SEGMENT_BASELINES:
                continue
            strongest = strongest_segment_baseline(summary, row["class"])
            named = f" ({SEGMENT_BASELINES[strongest['method']]})" if strongest else ""
            shown = f" ({number(strongest['dice'], 3)})" if strongest else ""
            rows.append(
                (
                    f"segment {label} {row['class']}: Dice, {_segment_method(row['method'])}{named}",
                    f"{number(row['dice'], 3)}{shown}",
                    "not reported",
                )
            )
    title = "spectfsl demo: results next to the study"
    return Table(
        title, ("measure", "spectfsl (phantom unless said)", "study (its real slices)"), tuple(rows), SUMMARY_NOTE
    )


#: The classical localisation baselines a summary row is set beside (the strongest of them on the same pairs).
CLASSICAL = ("template matching", *(settings.name for settings in registration.BASELINES))


def located_and_strongest(method: str, summaries: list[dict]) -> tuple[dict, dict]:
    """The summary of what `prnet locate` reports by default (the localiser refined by the reference
    patch) and of the strongest classical baseline on the same pairs (lowest mean radial error)."""
    by_method = {s["method"]: s for s in summaries}
    full = by_method.get(f"{method} + local template matching", by_method[method])
    classical = [by_method[m] for m in CLASSICAL if m in by_method and by_method[m]["mre_mm"] is not None]
    return full, min(classical, key=lambda s: s["mre_mm"])


def _segment_method(method: str) -> str:
    """How the summary names a tissue-map model: fitted on one scan, or the built-in one alone."""
    return "fitted on 1 scan from the built-in model" if method == "finetune" else method


def summary_rows(demo: Demo) -> list[dict]:
    """`summary.json`'s rows: every result the demo sets beside a baseline, with which is better."""
    results, rows = demo.results, []

    def add(measure: str, value, baseline: str, baseline_value, lower_is_better: bool) -> None:
        if value is not None and baseline_value is not None:
            rows.append(
                {
                    "measure": measure,
                    "value": round(float(value), 4),
                    "baseline": baseline,
                    "baseline_value": round(float(baseline_value), 4),
                    "lower_is_better": lower_is_better,
                }
            )

    for evaluation, label in ((results.evaluation, "phantom"), (results.real_nifti, "real NIfTI")):
        if evaluation:
            network, *baselines = evaluation.methods
            best = max(baselines, key=lambda m: m.mean, default=None)
            if best is not None:
                add(f"proto {label}: accuracy on held-out patients", network.mean, best.name, best.mean, False)
    for result, label, who in _localisation_results(results):
        for name, summaries in (result.as_dict() if result else {}).items():
            full, strongest = located_and_strongest(result.method, summaries)
            measure = f"{who} {label} {name}: MRE mm ({full['method']})"
            add(measure, full["mre_mm"], f"{strongest['method']} (the strongest classical)", strongest["mre_mm"], True)
    for scores, label in _segmentation_results(results):
        summary = summarise(scores or [])
        for row in summary:
            if row["method"] in SEGMENT_BASELINES:
                continue
            strongest = strongest_segment_baseline(summary, row["class"])
            if strongest:
                measure = f"segment {label} {row['class']}: Dice ({row['method']})"
                add(measure, row["dice"], SEGMENT_BASELINES[strongest["method"]], strongest["dice"], False)
    for studies, label in ((results.gated_phantom, "phantom"), (results.gated_real, "real lvseg-mtu-gated")):
        if studies:
            learned, classical = (mean_absolute([getattr(s, kind) - s.truth for s in studies]) for kind in GATED_KINDS)
            measure = f"quantify gated {label}: LVEF mean absolute error, EF points (built-in model, no labels)"
            add(measure, learned, "count-based endocardial edges (the clinical packages' method)", classical, True)
    if results.defects:
        found = sum(d.with_builtin == d.truth for d in results.defects) / len(results.defects)
        add(
            "quantify phantom: defect wall found (built-in model, no labels)",
            found,
            "chance (1 of 4 walls)",
            0.25,
            False,
        )
    return rows


GATED_KINDS = ("learned", "classical")


def mean_absolute(errors: list[float]) -> float:
    return float(np.mean(np.abs(errors)))


def _gated_blocks(results) -> list[Block]:
    """Per gated study: the truth and the two LVEFs; the first study's volume curve."""
    blocks = []
    for studies, label, figure in (
        (results.gated_phantom, "gated phantom (truth from its labels)", "gated_phantom"),
        (results.gated_real, "real gated studies, lvseg-mtu-gated (truth: the expert's contours)", "gated_real"),
    ):
        if not studies:
            continue
        rows = tuple((s.study, number(s.truth, 1), number(s.learned, 1), number(s.classical, 1)) for s in studies)
        header = ("study", "true LVEF %", "quantify (built-in) %", "count-based edges %")
        blocks.append(Block("table", table=Table(f"LV ejection fraction: {label}", header, rows)))
        blocks.append(_figure(figure, f"Cavity volume per gate, {label.split(' (')[0]} (built-in model)"))
    return blocks


#: The classical baselines of a tissue map, by method name: the strongest of them sits beside each row.
SEGMENT_BASELINES = {"threshold": "tuned intensity threshold", ATLAS_REGISTRATION: "single-atlas registration"}


def strongest_segment_baseline(summary: list[dict], name: str) -> dict | None:
    """The classical baseline with the highest Dice for class `name` in a `summarise` table, or None."""
    classical = [row for row in summary if row["method"] in SEGMENT_BASELINES and row["class"] == name]
    return max(classical, key=lambda row: row["dice"], default=None)


def _segmentation_results(results) -> list[tuple]:
    """Every tissue-map result with its label."""
    return [(results.segmentation_phantom, "phantom"), (results.segmentation_real, "real lvseg-mtu")]


#: How the summary names who located: PRNet trained in the demo (the study's method), or the built-in
#: localiser `prnet locate --model builtin` uses (no training).
TRAINED, BUILTIN_LOCALISER = "PRNet (trained in the demo)", "built-in localiser"


def _localisation_results(results) -> list[tuple]:
    """Every localisation result with its label and who located, 2D then 3D."""
    return [
        (results.localisation_phantom, "phantom", TRAINED),
        (results.localisation_real, "real NIfTI", TRAINED),
        (results.builtin_phantom, "phantom", BUILTIN_LOCALISER),
        (results.localisation3d_phantom, "phantom 3D", BUILTIN_LOCALISER),
        (results.localisation3d_real, "real 3D", BUILTIN_LOCALISER),
    ]


def settings_text(demo: Demo) -> str:
    """The run's settings in words (not a Python repr)."""
    s = demo.settings
    return (
        f"{s.proto_episodes} fine-tuning episodes, {s.evaluation_episodes} evaluation episodes, PRNet "
        f"{s.prnet_phantom_epochs * s.prnet_iters} training steps on the phantom and "
        f"{s.prnet_real_epochs * s.prnet_iters} on the real volumes, segment fit {s.segment_steps} steps, seed {s.seed}"
    )


def plain_findings(demo: Demo) -> list[str]:
    """Weak results, said plainly: where a method is no better than a trivial baseline, or wrong."""
    results, findings = demo.results, []
    for result, label, who in _localisation_results(results):
        for name, summaries in (result.as_dict() if result else {}).items():
            full, strongest = located_and_strongest(result.method, summaries)
            if full["mre_mm"] is not None and full["mre_mm"] >= strongest["mre_mm"]:
                findings.append(
                    f"{label} {name}: {strongest['method']} ({number(strongest['mre_mm'])} mm) is ahead of "
                    f"{who}, {full['method']} ({number(full['mre_mm'])} mm)."
                )
    if results.real_nifti:
        network, *baselines = results.real_nifti.methods
        best = max(baselines, key=lambda m: m.mean, default=None)
        if best is not None and best.mean > network.mean:
            findings.append(
                f"Real NIfTI patients: the {best.name} baseline ({percent(best.mean)}) is ahead of the network "
                f"({percent(network.mean)}); three patients and a phantom-trained backbone are too little."
            )
    if results.study_slice:
        correct = sum(c.truth == c.predicted for c in results.study_slice)
        flagged = sum(c.ood for c in results.study_slice)
        findings.append(
            f"The study's own slice: {correct} of {len(results.study_slice)} crops classified correctly by the "
            f"phantom bank ({flagged} flagged ood); its pixel size is unknown and its reconstruction differs."
        )
    return findings


def _findings_blocks(findings: list[str]) -> list[Block]:
    """A "Weak results, plainly" section, or nothing when there is none to state."""
    if not findings:
        return []
    return [Block("h2", "Weak results, plainly"), *(Block("p", text) for text in findings)]


def _tables(tables: list[Table]) -> list[Block]:
    return [Block("table", table=table) for table in tables]


def build(demo: Demo, elapsed_s: float) -> list[Block]:
    r = demo.results
    blocks = [
        Block("h1", "spectfsl demo report"),
        Block("p", f"Device {demo.device}; {settings_text(demo)}; total time {elapsed_s:.0f} s."),
        Block("h2", "Results next to the study"),
        Block(
            "p",
            "MRE: mean radial error, the mean distance in mm between a located landmark and the true one. "
            "naive: the reference's landmark position copied into the target. template matching: normalised "
            "cross-correlation of the reference patch over the target. 95% CI: the half-width of the 95% "
            "confidence interval of the mean accuracy over episodes.",
        ),
        Block("table", table=summary_table(demo)),
        *_findings_blocks(plain_findings(demo)),
        Block("h2", "Few-shot tissue classification (phantom)"),
        Block(
            "p",
            f"Bank fitted on patients P001-P004 with 3 support images per class after {r.fit.episodes} "
            f"fine-tuning episodes; weights {r.fit.weights}, feature transform {r.fit.transform}.",
        ),
        Block(
            "p",
            f"Evaluation on patients P005-P012: {r.evaluation.images} images from {r.evaluation.patients} patients.",
        ),
        *_tables(r.evaluation.tables()),
        Block(
            "p",
            f"proto predict on {r.predict.images} held-out crops: accuracy {percent(r.predict.accuracy)}, "
            f"flagged ood {percent(r.predict.ood_rate)} (ood, out of distribution: the crop lies farther from "
            "every prototype than the support images do, or does not look like the bank's crops).",
        ),
        _figure("support_query", "Support and query images (the study's Figure 2)"),
        _figure("confusion", "Confusion matrix over all evaluation episodes"),
    ]
    if "proto_loss" in demo.figures:
        blocks.append(_figure("proto_loss", "Episodic fine-tuning loss"))
    blocks += [
        Block("h2", "Anatomical localisation (phantom)"),
        Block(
            "p",
            f"PRNet trained on {r.prnet_phantom.images} central slices of patients P001-P008 "
            f"({r.prnet_phantom.steps} steps from {r.prnet_phantom.start}); one-shot localisation on patients "
            "P009-P012.",
        ),
        *_tables(r.localisation_phantom.tables()),
        _figure("localisation_phantom_overlay", "Reference point and located points (phantom)"),
        _figure(
            "reconstruction",
            f"Reconstruction (the study's Figure 1): MSE {r.reconstruction.mse:.4g}, "
            f"PSNR {r.reconstruction.psnr_db:.1f} dB",
        ),
        _figure("prnet_phantom_loss", "PRNet training loss"),
    ]
    if r.localisation3d_phantom:
        blocks += [
            Block("h2", "Localisation with the built-in localisers (phantom)"),
            Block(
                "p",
                "`prnet locate --model builtin` (the built-in PRNet models, trained without labels on other "
                "phantom patients and the PhysioNet volumes; no training here), refined by the reference patch; "
                "one-shot localisation in the slices and the volumes of P009-P012, beside naive, template "
                "matching and registration (B-spline and demons, each image pair registered once; demons alone in "
                "the volumes, where the B-spline measured weaker and slower on unseen phantoms) on the same pairs.",
            ),
            *_tables(r.builtin_phantom.tables() if r.builtin_phantom else []),
            *_tables(r.localisation3d_phantom.tables()),
            _figure(
                "locate_phantom3d_qc",
                "The check that prnet locate --qc draws: the reference's LV centre (gold) and where it was found in a "
                "held-out volume (red), with the match score",
            ),
        ]
    if r.segmentation_phantom:
        blocks += [
            Block("h2", "Tissue maps (phantom)"),
            Block(
                "p",
                "`segment fit` on patient P001 alone (myocardium, ventricles, liver), starting from the built-in "
                f"model as `segment fit` does ({demo.settings.segment_steps} steps; its last layer starts afresh "
                "for the phantom's three classes), `segment evaluate --baselines` on the next "
                f"{demo.settings.segment_evaluated} patients. threshold: "
                "the largest region above a fraction of the 99.5th percentile tuned on the support scan "
                "(myocardium), the convex hull of that region slice by slice minus it (ventricles); it has no liver. "
                f"{ATLAS_REGISTRATION}: P001's labels carried onto each patient by registering P001's scan to it "
                "(rigid, affine, then demons).",
            ),
            Block("table", table=evaluation_tables(r.segmentation_phantom)[0]),
            _figure("segment_phantom_overlay", "Expert (solid) and spectfsl (dashed) labels, a held-out patient"),
        ]
    if r.defects:
        rows = tuple((d.patient, d.truth, d.with_labels, d.with_builtin) for d in r.defects)
        found = sum(d.with_builtin == d.truth for d in r.defects)
        blocks += [
            Block("h2", "Polar maps (phantom)"),
            Block(
                "p",
                "`spectfsl phantom --defect WALL` (50% uptake, two patients per wall, a seed of their own) read out "
                "by `spectfsl quantify`: the wall of lowest mean uptake, from the true labels and from the built-in "
                f"model's map with no labels ({found} of {len(r.defects)} found).",
            ),
            Block(
                "table",
                table=Table(
                    "defect wall: truth and found", ("patient", "defect", "found (labels)", "found (no labels)"), rows
                ),
            ),
            _figure("quantify_phantom", "Bullseye of a phantom patient with a named defect (built-in model's map)"),
        ]
    if r.gated_phantom or r.gated_real:
        blocks += [
            Block("h2", "LV function (gated studies)"),
            Block(
                "p",
                "`spectfsl quantify` on ECG-gated studies: every gate labelled by the built-in model (no labelled "
                "study), LVEF from the largest and smallest cavity of the gates; beside it, the clinical packages' "
                "way: count-based endocardial edges along the polar rays, gate by gate (`quantify.edges`).",
            ),
            *_gated_blocks(r),
        ]
    blocks.append(Block("h2", "Real data"))
    if demo.real_data is None:
        blocks.append(
            Block(
                "p",
                "The six PhysioNet volumes shipped inside the package (CC BY 4.0) only: no other real data found "
                "(looked for --real-data, $SPECTFSL_DATA and ../shared/data).",
            )
        )
    if r.real_nifti:
        blocks += [
            Block(
                "p",
                "Real NIfTI patients (myocardium from the expert mask; ventricles and extracardiac "
                "derived from it), backbone of the phantom bank:",
            ),
            *_tables(r.real_nifti.tables()),
        ]
    if r.real_dicom:
        blocks += [
            Block("p", "Real DICOM volumes: heart found without labels (prepare --crop auto), not by an expert."),
            _figure("real_heart_boxes", "Heart boxes found in the three DICOM volumes"),
        ]
    if r.localisation_real:
        blocks += [
            Block(
                "p",
                f"PRNet trained on all {r.prnet_real.images} slices of the real volumes "
                f"({r.prnet_real.steps} steps from {r.prnet_real.start}), evaluated on the NIfTI patients' wall "
                "landmarks.",
            )
        ]
        blocks += _tables(r.localisation_real.tables())
        blocks.append(_figure("localisation_real_overlay", "Reference point and located points (real)"))
        blocks.append(_figure("prnet_real_loss", "PRNet training loss (real data)"))
    if r.localisation3d_real:
        blocks += [
            Block(
                "p",
                "The built-in 3D localiser on the six real volumes (they were in its unlabelled training data; "
                "the docs' Accuracy page gives the figure of a model that never saw them). "
                "Landmarks: LV centre, apex and lateral wall from the NIfTI patients' expert wall masks; the "
                "DICOM volumes' LV centre from the heart finder (automatic, not expert-made). Three patients "
                "with masks and three without are little data: read these as an indication, not a result.",
            ),
            *_tables(r.localisation3d_real.tables()),
        ]
    if r.segmentation_real:
        blocks += [
            Block(
                "p",
                "Tissue maps of real scans with expert contours (lvseg-mtu: 4 patients, rest and stress, cropped "
                "around the LV; never used to train a shipped model): the built-in model with no labelled scan, "
                f"and `segment fit` from it on one scan ({demo.settings.segment_steps} steps), both scored on the "
                "other seven, beside the intensity threshold tuned on that scan and that scan's labels carried over by "
                "registration (single-atlas: rigid, affine, then demons). The built-in model was trained on "
                "the PhysioNet NIfTI patients, so they are not used here. The files' 1 mm voxel size is a "
                "placeholder: HD95 is in those voxels, not mm.",
            ),
            Block("table", table=evaluation_tables(r.segmentation_real)[0]),
            _figure("segment_real_overlay", "Expert (solid) and spectfsl (dashed) labels on a held-out scan"),
            _figure(
                "segment_real_qc",
                "The check that segment predict --qc draws for that scan (fine-tuned model), with its plausibility "
                "flags: here the placeholder 1 mm voxels",
            ),
        ]
    if r.quantified_real:
        blocks += [
            Block(
                "p",
                f"`spectfsl quantify` on a real stress scan against its rest scan ({r.quantified_real}, lvseg-mtu, "
                "from the expert maps): stress, rest, and stress - rest per segment (percentage points).",
            ),
            _figure("quantify_real", "Stress, rest and their difference (lvseg-mtu, expert maps)"),
        ]
    if r.study_slice:
        rows = tuple((c.truth, c.predicted, f"{c.probability:.3f}", str(c.ood).lower()) for c in r.study_slice)
        title = "The study's PNG slice (pixel size unknown), its three crops classified by the phantom bank"
        blocks.append(Block("table", table=Table(title, ("true class", "predicted", "probability", "ood"), rows)))
    return blocks + [Block("p", CITATION)]


def timing_blocks(demo: Demo) -> list[Block]:
    rows = tuple((name, f"{seconds:.1f}") for name, seconds in demo.timings.items())
    return [Block("h2", "Time per stage"), Block("table", table=Table("", ("stage", "seconds"), rows))]


def to_markdown(blocks: list[Block], figures: dict[str, Path], base: Path) -> str:
    lines = []
    for block in blocks:
        if block.kind == "h1":
            lines += [f"# {block.text}", ""]
        elif block.kind == "h2":
            lines += [f"## {block.text}", ""]
        elif block.kind == "p":
            lines += [block.text, ""]
        elif block.kind == "table":
            table = block.table
            if table.title:
                lines += [f"**{table.title}**", ""]
            lines += ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
            lines += ["| " + " | ".join(row) + " |" for row in table.rows] + [""]
            if table.note:
                lines += [table.note, ""]
        elif block.kind == "figure" and block.text in figures:
            caption, relative = block.table.title, figures[block.text].relative_to(base).as_posix()
            lines += [f"![{caption}]({relative})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _inline_html(text: str) -> str:
    """Escaped text with `code` spans as <code> (no Markdown syntax reaches the HTML)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def to_html(blocks: list[Block], figures: dict[str, Path]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>spectfsl demo report</title><style>",
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}figure{margin:1em 0}img{max-width:100%}",
        "</style></head><body>",
    ]
    for block in blocks:
        if block.kind in ("h1", "h2"):
            parts.append(f"<{block.kind}>{html.escape(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f"<p>{_inline_html(block.text)}</p>")
        elif block.kind == "table":
            table = block.table
            header = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table.rows)
            caption = f"<caption>{html.escape(table.title)}</caption>" if table.title else ""
            parts.append(f"<table>{caption}<tr>{header}</tr>{rows}</table>")
            if table.note:
                parts.append(f"<p>{html.escape(table.note)}</p>")
        elif block.kind == "figure" and block.text in figures:
            data = base64.b64encode(figures[block.text].read_bytes()).decode()
            caption = html.escape(block.table.title)
            parts.append(
                f"<figure><img alt='{caption}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(demo: Demo, elapsed_s: float) -> tuple[Path, Path]:
    blocks = build(demo, elapsed_s) + timing_blocks(demo)
    markdown, page = demo.out / "report.md", demo.out / "report.html"
    write_text_atomic(markdown, to_markdown(blocks, demo.figures, demo.out))
    write_text_atomic(page, to_html(blocks, demo.figures))
    write_text_atomic(demo.out / "summary.json", json.dumps({"rows": summary_rows(demo)}, indent=1) + "\n")
    return markdown, page
