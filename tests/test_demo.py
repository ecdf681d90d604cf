"""The demo pipeline and its report, with small settings (the full run is `spectfsl demo`)."""

from __future__ import annotations

import pytest
import torch

from spectfsl.demo.pipeline import Demo, DemoSettings, run
from spectfsl.demo.report import write_report
from tests.conftest import SHARED_DATA

SMALL = DemoSettings(proto_episodes=5, evaluation_episodes=10, prnet_phantom_epochs=2, prnet_real_epochs=2, prnet_iters=5)


@pytest.mark.parametrize("with_real_data", [True, False], ids=["real-data-if-present", "phantom-only"])
def test_demo_writes_a_report_with_every_figure(tmp_path, with_real_data):
    real = SHARED_DATA if with_real_data and SHARED_DATA.is_dir() else None
    demo = Demo(tmp_path, SMALL, torch.device("cpu"), real)
    run(demo)
    markdown, page = write_report(demo, 1.0)
    text = markdown.read_text()
    for fragment in ("96.67%", "93.33%", "1.395", "95% CI", "recall myocardium", "MRE mm", "naive", "template matching"):
        assert fragment in text
    expected = {"support_query", "confusion", "reconstruction", "localisation_phantom_overlay", "prnet_phantom_loss", "proto_loss"}
    assert expected <= set(demo.figures)
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in demo.figures.values())
    html = page.read_text()
    assert html.count("data:image/png;base64,") == len(demo.figures)  # every figure is in the report
    assert all(f"figures/{name}.png" in text for name in demo.figures)
    if real is None:
        assert "No real data found" in text
    else:
        assert "Real NIfTI patients" in text and "lv_wall_centroid" in text
    assert (tmp_path / "bank.safetensors").is_file() and (tmp_path / "predictions.csv").is_file()
