"""`spectfsl bench` reports each workload next to the backbone, with device and versions."""

from __future__ import annotations

import pytest
import torch


@pytest.mark.slow
def test_bench_json_reports_every_workload_with_its_ratio_device_and_versions(cli_json):
    report = cli_json("bench", "--seconds", 0.05, "--batch-size", 4, "--size", 32, "--device", "cpu")
    reference, *workloads = report["workloads"]
    assert reference["name"] == "backbone forward (reference)"
    assert [w["name"] for w in workloads] == ["proto predict (files, end to end)", "prnet train", "prnet locate"]
    for workload in report["workloads"]:
        assert workload["calls"] >= 3 and workload["median_call_s"] > 0 and workload["rate"] > 0
        assert workload["ratio_to_backbone"] == pytest.approx(workload["rate"] / reference["rate"])
    assert report["settings"] == {"batch_size": 4, "size": 32, "precision": "fp32", "compile": False, "seconds": 0.05}
    assert report["device"].startswith("cpu") and {"torch", "spectfsl"} <= set(report["versions"])


def test_a_rate_is_items_per_median_call_and_ignores_one_slow_call(monkeypatch):
    from spectfsl.bench import workloads

    clock = {"now": 0.0, "calls": 0}
    monkeypatch.setattr(workloads.time, "perf_counter", lambda: clock["now"])

    def step() -> int:
        clock["calls"] += 1
        clock["now"] += 5.0 if clock["calls"] == 4 else 0.25  # one slow call among 0.25 s calls
        return 10

    measured = workloads.measure("fake", "items/s", step, seconds=2.0, device=torch.device("cpu"))
    assert measured.median_call_s == 0.25 and measured.rate == 40.0
    assert measured.calls >= 3


def test_bench_refuses_unknown_precision(cli):
    result = cli("bench", "--precision", "int3")
    assert result.exit_code == 2 and "--precision" in result.stderr
