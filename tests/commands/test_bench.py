"""`spectfsl bench` reports each workload next to the backbone, with device and versions."""

from __future__ import annotations

import pytest
import torch

STABLE_IDS = [
    "proto_predict",
    "prnet_offset",
    "prnet_locate",
    "prnet_train",
    "prnet3d_locate",
    "prnet3d_train",
    "segment_predict",
    "quantify",
]


def test_bench_json_has_the_spec_schema_with_stable_ids(cli_json):
    from spectfsl.bench.workloads import WORKLOADS

    assert list(WORKLOADS) == STABLE_IDS  # the order `bench` runs and reports them in
    cheap = ["proto_predict", "prnet_offset"]  # every workload runs in the next test, untimed
    only = [word for workload_id in cheap for word in ("--only", workload_id)]
    report = cli_json("bench", *only, "--seconds", 0.3, "--batch-size", 4, "--size", 32, "--device", "cpu")
    assert set(report) >= {"device", "versions", "settings", "workloads"}
    assert [w["id"] for w in report["workloads"]] == cheap
    for workload in report["workloads"]:
        assert {"id", "name", "unit", "throughput", "reference_throughput", "ratio", "peak_memory_mb"} <= set(workload)
        assert workload["throughput"] > 0 and workload["reference_throughput"] > 0 and workload["calls"] >= 3
        assert workload["ratio"] == pytest.approx(workload["throughput"] / workload["reference_throughput"])
        assert workload["peak_memory_mb"] > 0
    assert report["settings"] == {
        "batch_size": 4,
        "size": 32,
        "precision": "fp32",
        "compile": False,
        "channels_last": False,
        "seconds": 0.3,
    }
    assert report["device"].startswith("cpu") and {"torch", "spectfsl"} <= set(report["versions"])


@pytest.mark.slow
def test_every_workload_and_its_reference_run_and_count_their_items(tmp_path):
    from spectfsl.bench.harness import BenchSettings
    from spectfsl.bench.workloads import build_workload

    settings = BenchSettings(batch_size=4, size=32, seconds=0.1)
    for workload_id in STABLE_IDS:
        workload = build_workload(workload_id, settings, torch.device("cpu"), tmp_path)
        assert workload.id == workload_id and workload.unit.endswith("/s") and workload.reference_name
        assert workload.step() > 0 and workload.reference() > 0, workload_id


def test_a_throughput_is_items_per_median_call_and_ignores_one_slow_call(monkeypatch):
    from spectfsl.bench import harness as workloads

    clock = {"now": 0.0, "calls": 0}
    monkeypatch.setattr(workloads.time, "perf_counter", lambda: clock["now"])

    def step() -> int:
        clock["calls"] += 1
        clock["now"] += 5.0 if clock["calls"] == 4 else 0.25  # one slow call among 0.25 s calls
        return 10

    timing = workloads.time_calls(step, 2.0, torch.device("cpu"))
    assert timing.median_call_s == 0.25 and timing.throughput == 40.0


def test_workload_and_reference_are_timed_in_alternating_windows(monkeypatch):
    from spectfsl.bench import harness as workloads

    order = []
    workload = workloads.Workload(
        "fake", "fake", "items/s", lambda: order.append("w") or 4, lambda: order.append("r") or 8, "fake reference"
    )
    measured = workloads.measure(workload, 0.03, torch.device("cpu"))
    timed = "".join(order[2 * workloads.WARMUP_CALLS :])
    assert timed.count("wr") + timed.count("rw") >= 2 * workloads.ROUNDS - 1  # switches between them
    assert measured.timing.items == 4 and measured.reference.items == 8


def test_inference_references_replay_the_patch_batches_of_a_call():
    from spectfsl.bench import prnet_workloads as workloads
    from spectfsl.bench.harness import BenchSettings

    settings = BenchSettings(batch_size=8, seconds=0.1)
    workload = workloads.prnet_locate(settings, torch.device("cpu"), dims=2)
    model, _ = workloads.untrained_prnet(torch.device("cpu"), settings)
    shapes = workloads.recorded_position_batches(model, lambda: model.position(torch.rand(5, 1, 32, 32)))
    assert shapes == [torch.Size([5, 1, 32, 32])] and "position" not in vars(model)
    assert workload.reference() == workload.step() == 16  # 16 targets per call


def test_bench_refuses_unknown_precision(cli):
    result = cli("bench", "--precision", "int3")
    assert result.exit_code == 2 and "--precision" in result.stderr


def test_only_measures_the_chosen_workloads_and_refuses_unknown_ids(cli, cli_json):
    report = cli_json("bench", "--only", "prnet_offset", "--seconds", 0.2, "--batch-size", 4, "--size", 32)
    assert [w["id"] for w in report["workloads"]] == ["prnet_offset"]
    refused = cli("bench", "--only", "prnet_offsets", "--seconds", 0.2)
    assert refused.exit_code == 2 and "no workload prnet_offsets" in refused.stderr
