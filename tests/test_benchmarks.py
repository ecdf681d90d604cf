"""The scripts under benchmarks/ run: the easyfsl peer comparison, the segmentation benchmark and timing,
the GPU script's smoke mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # seconds each: the fast suite (-m 'not slow') leaves them to CI

REPO = Path(__file__).resolve().parents[1]


def test_easyfsl_peer_agrees_with_spectfsl_on_a_tiny_input():
    pytest.importorskip("easyfsl")
    done = subprocess.run(
        [sys.executable, "benchmarks/peer_easyfsl.py", "--size", "32", "--queries", "12", "--shots", "2"]
        + ["--repeats", "1", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["agreement"] == 1.0
    assert result["spectfsl_queries_per_s"] > 0 and result["easyfsl_queries_per_s"] > 0


@pytest.mark.slow
def test_gpu_script_runs_in_its_cpu_smoke_mode(tmp_path):
    environment = {
        **os.environ,
        "OUT": str(tmp_path),
        "DEVICE": "cpu",
        "BATCH": "8",
        "SIZES": "32",
        "PRECISIONS": "fp32",
        "VARIANTS": "channels-last",
        "DEMO": "0",
        "ONLY": "proto_predict",  # every workload runs in tests/commands/test_bench.py
    }
    done = subprocess.run(
        ["bash", "benchmarks/gpu.sh", "0.1"], cwd=REPO, env=environment, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "gpu-bench.json").read_text())
    assert len(document["bench"]) == 1
    table = (tmp_path / "gpu-bench.md").read_text()
    assert "| 32 | fp32 | channels-last | proto_predict |" in table


def _results_elsewhere(tmp_path) -> dict[str, str]:
    """The environment of a benchmark run whose results go to `tmp_path`, not the repository's."""
    return {**os.environ, "SPECTFSL_RESULTS_DIR": str(tmp_path)}


def _run_benchmark(script: str, arguments: list[str], tmp_path) -> list[dict]:
    """Run benchmarks/SCRIPT with its results in `tmp_path`; the lines of the results file it wrote."""
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=_results_elsewhere(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    [written] = tmp_path.glob("*.jsonl")
    return [json.loads(line) for line in written.read_text().splitlines()]


def test_segmentation_benchmark_names_each_phantom_scan_and_the_batch_it_used(phantom_dir, tmp_path):
    scans = [str(phantom_dir / p / "spect.dcm") for p in ("P001", "P002")]
    arguments = ["--images", *scans, "--labels-name", "labels.npy", "--supports", "1", "--steps", "2"]
    run, summary = _run_benchmark("segmentation.py", arguments + ["--crop", "48", "--channels", "4"], tmp_path)
    assert {"commit", "date", "versions", "machine"} <= set(run)
    assert run["support"] == ["P001/spect.dcm"] and run["batch_size"] == 1  # 4 x 32^3 / 48^3 voxels, rounded
    assert {s["path"] for s in run["scores"]} == {"P002/spect.dcm"} and "finetune/2" in summary["summary"]


def test_segment_predict_timing_records_a_median_per_window_size(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/segment_predict_time.py", "--crops", "40", "--runs", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=_results_elsewhere(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in (tmp_path / "segment-predict-time.jsonl").read_text().splitlines()]
    assert line["crop"] == 40 and len(line["seconds"]) == 2 and line["median_s"] > 0 and "commit" in line


def test_registration_settings_records_time_and_accuracy_per_setting(phantom_dir, tmp_path):
    pytest.importorskip("SimpleITK")
    points = tmp_path / "points.csv"  # two patients' landmarks, paths relative to the phantom folder
    rows = (phantom_dir / "points3d.csv").read_text().splitlines()
    points.write_text("\n".join([rows[0], *(r for r in rows[1:] if r.startswith(("P001/", "P002/")))]) + "\n")
    scans = [str(phantom_dir / p / "spect.dcm") for p in ("P001", "P002")]
    labels = [str(phantom_dir / p / "labels.npy") for p in ("P001", "P002")]
    arguments = ["--points", str(points), "--data-dir", str(phantom_dir), "--atlas-scans", *scans]
    settings = ["deformation=demons,iterations=3", "deformable=0,shrink=4"]  # seconds, not tens
    arguments += ["--atlas-labels", *labels, "--settings", *settings]
    results = _run_benchmark("registration_settings.py", arguments, tmp_path)
    assert [(r["label"], "dice" in r) for r in results] == [(s, a) for s in settings for a in (False, True)]
    landmarks, atlas = results[2:]
    assert landmarks["settings"]["shrink"] == [4] and landmarks["settings"]["deformable"] is False
    assert landmarks["registrations"] == 2 and set(landmarks["error_mm"]) >= {"lv_centre", "lv_apex"}
    assert atlas["registrations"] == 1 and 0 <= atlas["dice"]["myocardium"]["mean"] <= 1
