"""`spectfsl bench` reports each workload next to the backbone, with device and versions."""

from __future__ import annotations

import json


def test_bench_json_reports_ratios_device_and_versions(cli):
    result = cli("bench", "--seconds", 0.05, "--batch-size", 4, "--size", 32, "--format", "json", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    workloads = {w["name"]: w for w in report["workloads"]}
    assert workloads["backbone forward (reference)"]["ratio_to_backbone"] == 1.0
    assert workloads["proto predict (files, end to end)"]["rate"] > 0
    assert report["device"].startswith("cpu") and {"torch", "spectfsl"} <= set(report["versions"])


def test_bench_refuses_unknown_precision(cli):
    result = cli("bench", "--precision", "int3")
    assert result.exit_code == 2 and "--precision" in result.stderr
