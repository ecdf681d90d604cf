"""The demo report: one list of blocks rendered as Markdown (report.md) and self-contained HTML (report.html)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.demo.pipeline import STUDY, Demo

CITATION = (
    "Real data: Myocardial perfusion scintigraphy image database (Calixto, Nogueira, Luz & Ortiz de Camargo, "
    "PhysioNet 2025, https://doi.org/10.13026/ce2z-dw74, CC BY 4.0) and PhysioNet (Goldberger et al., 2000); "
    "the 2D slice of the original few-shot/PRNet study (github.com/hafeezkhan909/FSL_Project)."
)


@dataclass(frozen=True)
class Block:
    kind: str  # "h1", "h2", "p", "table", "figure"
    text: str = ""
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def summary_rows(demo: Demo) -> list[list[str]]:
    """The headline table: ours next to the study's numbers."""
    rows = []
    fit, evaluation = demo.sections.get("fit"), demo.sections.get("evaluate")
    if fit:
        rows.append(["proto: training accuracy (fit patients)", _pct(fit["train_accuracy"]), _pct(STUDY["train_accuracy"])])
    if evaluation:
        network = evaluation["methods"][0]
        best_baseline = max(evaluation["methods"][1:], key=lambda m: m["accuracy"], default=None)
        rows.append(["proto: validation accuracy (held-out patients, 95% CI)",
                     f"{_pct(network['accuracy'])} ± {_pct(network['ci95'])}", _pct(STUDY["validation_accuracy"])])
        if best_baseline:
            rows.append([f"best trivial baseline ({best_baseline['name']})", _pct(best_baseline["accuracy"]), ""])
    if "prnet_phantom" in demo.sections:
        rows.append(["PRNet: final training loss (L_dis + L_rec, ours is scaled differently)",
                     f"{demo.sections['prnet_phantom']['final_loss']:.4f}", f"{STUDY['prnet_training_loss']}"])
    for key, label in (("localisation_phantom", "phantom"), ("localisation_real", "real NIfTI")):
        for name, summaries in demo.sections.get(key, {}).items():
            by_method = {s["method"]: s for s in summaries}
            rows.append([f"PRNet {label} {name}: MRE mm (naive, template matching)",
                         f"{_mm(by_method['prnet']['mre_mm'])} ({_mm(by_method['naive']['mre_mm'])}, "
                         f"{_mm(by_method['template matching']['mre_mm'])})", ""])
    return rows


def _evaluation_blocks(document: dict[str, Any], title: str) -> list[Block]:
    classes = document["classes"]
    rows = [[m["name"], _pct(m["accuracy"]), _pct(m["ci95"]), *(_pct(m["recall"][c]) for c in classes)] for m in document["methods"]]
    split = "patient-disjoint " if document.get("split_by") else ""
    return [
        Block("p", f"{title}: {document['way']}-way {document['shot']}-shot {document['query']}-query, {document['episodes']} "
                   f"{split}episodes over {document['images']} images from {document['patients']} patients."),
        Block("table", header=["method", "accuracy", "95% CI ±", *(f"recall {c}" for c in classes)], rows=rows),
    ]


def _localisation_blocks(results: dict[str, Any]) -> list[Block]:
    blocks = []
    for name, summaries in results.items():
        rows = [[s["method"], _mm(s["mre_mm"]), _mm(s["sd_mm"]), _mm(s["median_mm"]), _pct(s["within_5mm"]), _pct(s["within_10mm"])]
                for s in summaries]
        blocks += [Block("p", f"{name}: leave-one-out, {summaries[0]['pairs']} reference-target pairs."),
                   Block("table", header=["method", "MRE mm", "sd mm", "median mm", "<= 5 mm", "<= 10 mm"], rows=rows)]
    return blocks


def build(demo: Demo, elapsed_s: float) -> list[Block]:
    s = demo.sections
    blocks = [
        Block("h1", "spectfsl demo report"),
        Block("p", f"Device {demo.device}; settings {demo.settings}; total time {elapsed_s:.0f} s."),
        Block("h2", "Results next to the study"),
        Block("table", header=["measure", "spectfsl", "study"], rows=summary_rows(demo)),
        Block("h2", "Few-shot tissue classification (phantom)"),
        Block("p", f"Bank fitted on patients P001-P004 with 3 support images per class after {s['fit']['episodes']} "
                   f"fine-tuning episodes; weights {s['fit']['weights']}, feature transform {s['fit']['transform']}."),
        *_evaluation_blocks(s["evaluate"], "Evaluation on patients P005-P012"),
        Block("p", f"proto predict on {s['predict']['images']} held-out crops: accuracy {_pct(s['predict']['accuracy'])}, "
                   f"flagged out-of-distribution {_pct(s['predict']['ood_rate'])}."),
        Block("figure", "support_query", header=["Support and query images (the study's Figure 2)"]),
        Block("figure", "confusion", header=["Confusion matrix over all evaluation episodes"]),
    ]
    if "proto_loss" in demo.figures:
        blocks.append(Block("figure", "proto_loss", header=["Episodic fine-tuning loss"]))
    blocks += [
        Block("h2", "Anatomical localisation (phantom)"),
        Block("p", f"PRNet trained on {s['prnet_phantom']['slices']} central slices of patients P001-P008 "
                   f"({s['prnet_phantom']['steps']} steps); one-shot localisation on patients P009-P012."),
        *_localisation_blocks(s["localisation_phantom"]),
        Block("figure", "localisation_phantom_overlay", header=["Reference point and located points (phantom)"]),
        Block("figure", "reconstruction", header=[f"Reconstruction (the study's Figure 1): MSE {s['reconstruction']['mse']:.4g}, "
                                                  f"PSNR {s['reconstruction']['psnr_db']:.1f} dB"]),
        Block("figure", "prnet_phantom_loss", header=["PRNet training loss"]),
        Block("h2", "Real data"),
    ]
    if demo.real_data is None:
        blocks.append(Block("p", "No real data found (looked for ../shared/data or --real-data): only the phantom was run."))
        return blocks + [Block("p", CITATION)]
    if s.get("real_nifti") and not s["real_nifti"].get("missing"):
        blocks += _evaluation_blocks(s["real_nifti"], "Real NIfTI patients (myocardium from the expert mask; ventricles and "
                                                       "extracardiac derived from it), backbone of the phantom bank")
    if s.get("real_dicom"):
        blocks += [Block("p", "Real DICOM volumes: heart found without labels (`--crop auto`)."),
                   Block("figure", "real_heart_boxes", header=["Heart boxes found in the three DICOM volumes"])]
    if "localisation_real" in s:
        blocks += [Block("p", f"PRNet trained on all {s['prnet_real']['slices']} slices of the real volumes "
                              f"({s['prnet_real']['steps']} steps), evaluated on the NIfTI patients' wall landmarks.")]
        blocks += _localisation_blocks(s["localisation_real"])
        blocks.append(Block("figure", "localisation_real_overlay", header=["Reference point and located points (real)"]))
        blocks.append(Block("figure", "prnet_real_loss", header=["PRNet training loss (real data)"]))
    if s.get("study_slice") and not s["study_slice"].get("missing"):
        rows = [[r["truth"], r["predicted"], f"{r['probability']:.3f}", str(r["ood"]).lower()] for r in s["study_slice"]["rows"]]
        blocks += [Block("p", "The study's PNG slice (pixel size unknown), its three crops classified by the phantom bank:"),
                   Block("table", header=["true class", "predicted", "probability", "ood"], rows=rows)]
    return blocks + [Block("p", CITATION)]


def timing_blocks(demo: Demo) -> list[Block]:
    rows = [[name, f"{seconds:.1f}"] for name, seconds in demo.timings.items()]
    return [Block("h2", "Time per stage"), Block("table", header=["stage", "seconds"], rows=rows)]


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
            lines += ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(row) + " |" for row in block.rows] + [""]
        elif block.kind == "figure" and block.text in figures:
            lines += [f"![{block.header[0]}]({figures[block.text].relative_to(base).as_posix()})", "", f"*{block.header[0]}*", ""]
    return "\n".join(lines)


def to_html(blocks: list[Block], figures: dict[str, Path]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>spectfsl demo report</title><style>",
             "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}figure{margin:1em 0}img{max-width:100%}",
             "</style></head><body>"]
    for block in blocks:
        if block.kind in ("h1", "h2"):
            parts.append(f"<{block.kind}>{html.escape(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif block.kind == "table":
            header = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            parts.append(f"<table><tr>{header}</tr>{rows}</table>")
        elif block.kind == "figure" and block.text in figures:
            data = base64.b64encode(figures[block.text].read_bytes()).decode()
            caption = html.escape(block.header[0])
            parts.append(f"<figure><img alt='{caption}' src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(demo: Demo, elapsed_s: float) -> tuple[Path, Path]:
    blocks = build(demo, elapsed_s) + timing_blocks(demo)
    markdown, page = demo.out / "report.md", demo.out / "report.html"
    write_text_atomic(markdown, to_markdown(blocks, demo.figures, demo.out))
    write_text_atomic(page, to_html(blocks, demo.figures))
    return markdown, page
