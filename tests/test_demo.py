"""The demo pipeline and its report, with small settings (the full run is `spectfsl demo`)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from spectfsl.core.tables import number, percent
from spectfsl.demo.pipeline import BUILTIN_NO_LABELS, Demo, DemoSettings, run
from spectfsl.demo.report import summary_rows, write_report
from tests.conftest import SHARED_DATA, requires_real_data

SMALL = DemoSettings(
    proto_episodes=5,
    evaluation_episodes=10,
    prnet_phantom_epochs=2,
    prnet_real_epochs=2,
    prnet_iters=5,
    segment_steps=3,
    segment_evaluated=2,
    gated_patients=1,
    registration=False,  # seconds per 3D pair; `prnet evaluate --baselines` is tested apart
)

pytestmark = pytest.mark.slow


def _run(tmp_path, real_data) -> tuple[Demo, str, str]:
    demo = Demo(tmp_path, SMALL, torch.device("cpu"), real_data)
    run(demo)
    markdown, page = write_report(demo, 1.0)
    return demo, markdown.read_text(), page.read_text()


@pytest.fixture(scope="module")
def phantom_demo(tmp_path_factory) -> tuple[Demo, str, str]:
    """One small demo run (with the real data when it is there), shared by the tests that read its report."""
    return _run(tmp_path_factory.mktemp("demo"), SHARED_DATA if SHARED_DATA.is_dir() else None)


def test_phantom_demo_reports_its_own_results_and_every_figure(phantom_demo):
    demo, text, html = phantom_demo
    tmp_path = demo.out
    results = demo.results
    network = results.evaluation.methods[0]
    assert f"{percent(network.mean)} ± {percent(network.ci95)}" in text  # the measured accuracy, not a constant
    assert percent(results.fit.train_accuracy) in text
    lv = {s["method"]: s for s in results.localisation_phantom.as_dict()["lv_centre"]}
    strongest = min(lv["template matching"]["mre_mm"], lv.get("registration", {"mre_mm": 1e9})["mre_mm"])
    assert f"{number(lv['prnet + local template matching']['mre_mm'])} ({number(strongest)})" in text
    expected = {"support_query", "confusion", "reconstruction", "localisation_phantom_overlay", "prnet_phantom_loss"}
    assert expected | {"proto_loss"} <= set(demo.figures)
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in demo.figures.values())
    assert html.count("data:image/png;base64,") == len(demo.figures)  # every figure is in the report
    assert all(f"figures/{name}.png" in text for name in demo.figures)
    lv3d = {s["method"]: s for s in results.localisation3d_phantom.as_dict()["lv_centre"]}
    assert "built-in localiser phantom 3D lv_centre: MRE mm" in text and lv3d["prnet"]["pairs"] == 12
    assert results.builtin_phantom.as_dict()["lv_apex"][0]["pairs"] == 12  # the built-in 2D localiser too
    assert "Localisation with the built-in localisers (phantom)" in text and "locate_phantom3d_qc" in demo.figures
    assert (tmp_path / "bank.safetensors").is_file() and (tmp_path / "predictions.csv").is_file()
    phantom_maps = results.segmentation_phantom
    assert {s.path.split("/")[-2] for s in phantom_maps} == {"P002", "P003"}  # never the support, P001
    assert {s.method for s in phantom_maps} == {"finetune", "threshold"}
    threshold_classes = {name for s in phantom_maps if s.method == "threshold" for name in s.dice}
    assert threshold_classes == {"myocardium", "ventricles"}  # never scored on the liver it cannot label
    myocardium = [s.dice["myocardium"] for s in phantom_maps if s.method == "finetune"]
    assert f"| finetune | myocardium | 2 | {number(sum(myocardium) / 2, 3)}" in text
    assert (
        "segment_phantom_overlay" in demo.figures
        and "segment phantom liver: Dice, fitted on 1 scan from the built-in model |" in text
    )


def test_the_report_explains_itself(phantom_demo):
    demo, text, html = phantom_demo
    assert "DemoSettings(" not in text + html and "5 fine-tuning episodes" in text  # settings in words
    assert "`" not in html and "**" not in html  # no Markdown syntax in the HTML
    for term in (
        "MRE: mean radial error",
        "naive: the reference",
        "95% CI: the half-width",
        "ood, out of distribution",
    ):
        assert term in text
    summary = text[text.index("results next to the study") :]
    assert "training loss (L_dis" not in summary and "What differs" in summary  # like with like
    for finding in plain_findings_expected(demo):
        assert finding in text
    rows = list(csv.DictReader(open(demo.out / "predictions.csv")))
    assert rows and all(not Path(row["path"]).is_absolute() and (demo.out / row["path"]).is_file() for row in rows)


def plain_findings_expected(demo) -> list[str]:
    """The weak results this short run must state: any landmark where the strongest classical baseline
    is ahead of what `prnet locate` reports."""
    expected = []
    for name, summaries in demo.results.localisation_phantom.as_dict().items():
        by_method = {s["method"]: s for s in summaries}
        full = by_method["prnet + local template matching"]["mre_mm"]
        strongest = min(by_method[m]["mre_mm"] for m in ("template matching", "registration") if m in by_method)
        if full >= strongest:
            expected.append(f"phantom {name}: ")
            expected.append(
                f"is ahead of PRNet (trained in the demo), prnet + local template matching ({number(full)} mm)"
            )
    return expected


def test_without_a_real_data_folder_the_report_shows_the_shipped_physionet_volumes(phantom_demo):
    demo = phantom_demo[0]
    others = replace(demo.results, segmentation_real=None, study_slice=None, quantified_real=None, gated_real=None)
    markdown, _ = write_report(replace(demo, real_data=None, results=others), 1.0)
    text = markdown.read_text()
    assert "PhysioNet volumes shipped inside the package (CC BY 4.0) only" in text
    assert "Real NIfTI patients" in text and "built-in localiser real 3D lv_centre" in text
    assert "Tissue maps of real scans" not in text


def test_the_physionet_rows_run_with_or_without_a_real_data_folder(phantom_demo):
    """The package ships the six PhysioNet volumes: their rows are in every demo."""
    demo, text, _ = phantom_demo
    results = demo.results
    assert results.real_nifti.classes == ["extracardiac", "myocardium", "ventricles"]
    assert results.real_nifti.patients == 3 and len(results.real_dicom) == 3
    assert set(results.localisation_real.as_dict()) == {"lv_wall_centroid", "lateral_wall"}
    assert "Real NIfTI patients" in text and "lv_wall_centroid" in text and "No real data found" not in text
    assert {"real_heart_boxes", "localisation_real_overlay", "prnet_real_loss"} <= set(demo.figures)
    real3d = results.localisation3d_real.as_dict()
    assert set(real3d) == {"lv_centre", "apex", "lateral_wall"}
    assert real3d["lv_centre"][0]["pairs"] == 30 and real3d["apex"][0]["pairs"] == 6  # 6 volumes; 3 with masks
    assert "not expert-made" in text and "built-in localiser real 3D lv_centre" in text


@requires_real_data
def test_a_real_data_folder_adds_the_lvseg_patients(phantom_demo):
    demo, text, _ = phantom_demo
    results = demo.results
    methods = [s.method for s in results.segmentation_real]
    assert methods.count("finetune") == methods.count(BUILTIN_NO_LABELS) == methods.count("threshold") == 7
    assert set(results.segmentation_real[0].dice) == {"myocardium", "cavity"}
    assert "P005024_rest" not in {Path(s.path).name.removesuffix(".nii.gz") for s in results.segmentation_real}
    assert "segment_real_overlay" in demo.figures and "segment real lvseg-mtu myocardium: Dice" in text


def test_summary_json_sets_each_result_beside_its_baseline(phantom_demo):
    import json

    demo = phantom_demo[0]
    rows = json.loads((demo.out / "summary.json").read_text())["rows"]
    assert rows and all(
        set(row) == {"measure", "value", "baseline", "baseline_value", "lower_is_better"} for row in rows
    )
    measures = {row["measure"]: row for row in rows}
    lv = {s["method"]: s for s in demo.results.localisation_phantom.as_dict()["lv_centre"]}
    row = measures["PRNet (trained in the demo) phantom lv_centre: MRE mm (prnet + local template matching)"]
    located = lv["prnet + local template matching"]["mre_mm"]
    classical = {m: lv[m]["mre_mm"] for m in ("template matching", "registration") if m in lv}
    strongest = min(classical, key=classical.get)  # never the naive copy: the strongest classical baseline
    assert row["value"] == round(located, 4) and row["baseline_value"] == round(classical[strongest], 4)
    assert row["baseline"].startswith(strongest) and row["lower_is_better"] is True
    builtin = measures["built-in localiser phantom 3D lv_centre: MRE mm (prnet + local template matching)"]
    assert builtin["baseline"].split(" (")[0] in ("template matching", "registration")
    wall = measures["segment phantom myocardium: Dice (finetune)"]
    assert wall["lower_is_better"] is False and wall["baseline"] == "tuned intensity threshold"
    if demo.real_data is not None:  # summary.json may have been rewritten by a phantom-only report since
        real = {row["measure"] for row in summary_rows(demo)}
        assert f"segment real lvseg-mtu cavity: Dice ({BUILTIN_NO_LABELS})" in real


def test_the_gated_stage_sets_quantifys_lvef_beside_the_count_based_edges(phantom_demo):
    import json

    demo, text, _ = phantom_demo
    studies = demo.results.gated_phantom
    assert len(studies) == 1 and all(0 < s.learned < 100 and 0 < s.truth < 100 for s in studies)
    assert "LV function (gated studies)" in text and "gated_phantom" in demo.figures
    rows = {row["measure"]: row for row in json.loads((demo.out / "summary.json").read_text())["rows"]}
    phantom = rows["quantify gated phantom: LVEF mean absolute error, EF points (built-in model, no labels)"]
    assert phantom["baseline"].startswith("count-based endocardial edges") and phantom["lower_is_better"]
    errors = [abs(s.learned - s.truth) for s in studies]
    assert phantom["value"] == pytest.approx(sum(errors) / len(errors), abs=1e-3)
    if demo.real_data is not None and (demo.real_data / "lvseg-mtu-gated").is_dir():
        assert len(demo.results.gated_real) == 8 and "gated_real" in demo.figures
