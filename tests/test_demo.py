"""The demo pipeline and its report, with small settings (the full run is `spectfsl demo`)."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.tables import number, percent
from spectfsl.demo.pipeline import Demo, DemoSettings, run
from spectfsl.demo.report import write_report
from tests.conftest import SHARED_DATA, requires_real_data

SMALL = DemoSettings(
    proto_episodes=5, evaluation_episodes=10, prnet_phantom_epochs=2, prnet_real_epochs=2, prnet_iters=5
)

pytestmark = pytest.mark.slow


def _run(tmp_path, real_data) -> tuple[Demo, str, str]:
    demo = Demo(tmp_path, SMALL, torch.device("cpu"), real_data)
    run(demo)
    markdown, page = write_report(demo, 1.0)
    return demo, markdown.read_text(), page.read_text()


def test_phantom_demo_reports_its_own_results_and_every_figure(tmp_path):
    demo, text, html = _run(tmp_path, None)
    results = demo.results
    network = results.evaluation.methods[0]
    assert f"{percent(network.mean)} ± {percent(network.ci95)}" in text  # the measured accuracy, not a constant
    assert percent(results.fit.train_accuracy) in text
    lv = {s["method"]: s for s in results.localisation_phantom.as_dict()["lv_centre"]}
    assert f"{number(lv['prnet']['mre_mm'])} ({number(lv['naive']['mre_mm'])}," in text
    expected = {"support_query", "confusion", "reconstruction", "localisation_phantom_overlay", "prnet_phantom_loss"}
    assert expected | {"proto_loss"} <= set(demo.figures)
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in demo.figures.values())
    assert html.count("data:image/png;base64,") == len(demo.figures)  # every figure is in the report
    assert all(f"figures/{name}.png" in text for name in demo.figures)
    assert "No real data found" in text and results.real_nifti is None
    assert (tmp_path / "bank.safetensors").is_file() and (tmp_path / "predictions.csv").is_file()


@requires_real_data
def test_real_data_demo_adds_the_real_patients(tmp_path):
    demo, text, _ = _run(tmp_path, SHARED_DATA)
    results = demo.results
    assert results.real_nifti.classes == ["extracardiac", "myocardium", "ventricles"]
    assert results.real_nifti.patients == 3 and len(results.real_dicom) == 3
    assert set(results.localisation_real.as_dict()) == {"lv_wall_centroid", "lateral_wall"}
    assert "Real NIfTI patients" in text and "lv_wall_centroid" in text and "No real data found" not in text
    assert {"real_heart_boxes", "localisation_real_overlay", "prnet_real_loss"} <= set(demo.figures)
