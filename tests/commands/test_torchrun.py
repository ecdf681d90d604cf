"""Real `torchrun --standalone --nproc_per_node=2` launches on the CPU (gloo): DDP training writes
one valid file, sharded prediction prints exactly the one-process rows, a bad input stops every rank
without a hang, and an interrupted DDP run resumes to the weights of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from tests.commands.test_resume import TOLERANCE, max_difference

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs Linux CPU affinity"),
]

#: No launch may take longer than this: a rank waiting for a peer that gave up would hang.
LAUNCH_TIMEOUT_S = 240
PRNET = ["--epochs", "8", "--iters", "10", "--batch-size", "4", "--patch", "16", "--init", "random", "--device", "cpu"]
PRNET += ["--seed", "3"]


def _environment() -> dict[str, str]:
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "SPECTFSL_PROGRESS_INTERVAL": "0.1"}


def _command(args: list[object]) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    return [*launcher, "-m", "spectfsl", *map(str, args)]


def torchrun(*args: object) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=2 -m spectfsl ARGS` (fails the test if it hangs)."""
    return subprocess.run(
        _command(list(args)), capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S, env=_environment()
    )


@pytest.fixture
def one_process(cli):
    """`spectfsl ARGS` in this process with the threads one of the two ranks gets (torchrun gives each
    rank one thread; on the CPU a kernel splits its sums by thread, so only runs with the same threads
    per process agree digit for digit). Returns (exit code, stdout)."""
    import torch

    def run(*args: object) -> tuple[int, str]:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = cli(*args)
        finally:
            torch.set_num_threads(threads)
        return result.exit_code, result.stdout

    return run


def separate_process(*args: object) -> tuple[int, str]:
    """`spectfsl ARGS` in a new process on the cores one of the two ranks gets: for commands whose
    numbers also go through NumPy's own thread pool (template matching), which `torch.set_num_threads`
    does not reach."""
    cores = sorted(os.sched_getaffinity(0))
    share = set(cores[: max(1, len(cores) // 2)])
    result = subprocess.run(
        [sys.executable, "-m", "spectfsl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S,
        env={**_environment(), "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: os.sched_setaffinity(0, share),
    )
    return result.returncode, result.stdout


def training_record(path: Path) -> dict:
    import json

    with safe_open(str(path), "pt") as handle:
        return json.loads(handle.metadata()["training"])


@pytest.fixture(scope="module")
def prnet_model(phantom_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp") / "prnet.safetensors"
    result = torchrun("-q", "prnet", "train", f"{phantom_dir / 'P001' / 'spect.dcm'}@28-36", *PRNET, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_ddp_prnet_train_writes_one_model_that_records_two_processes(prnet_model):
    record = training_record(prnet_model)
    assert record["world_size"] == 2 and len(record["epoch_losses"]) == 8
    assert np.isfinite(record["final_loss"])
    assert not Path(str(prnet_model) + ".ckpt").exists()
    assert [p.name for p in prnet_model.parent.iterdir()] == [prnet_model.name]  # no stray temporary files


@pytest.fixture(scope="module")
def ddp_bank(phantom_dataset, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    bank = tmp_path_factory.mktemp("ddp") / "bank.safetensors"
    args = ["--episodes", 4, "--weights", "random", "--device", "cpu", "--out", bank]
    return bank, torchrun("proto", "fit", phantom_dataset, *args)


def test_ddp_proto_fit_writes_one_bank_that_records_two_processes(ddp_bank):
    bank, result = ddp_bank
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("wrote ") == 1  # rank 0 speaks for both
    assert training_record(bank)["world_size"] == 2 and training_record(bank)["episodes"] == 4


def test_sharded_proto_predict_prints_the_one_process_rows_skipping_the_same_bad_input(
    ddp_bank, phantom_dataset, phantom_dir, tmp_path, one_process
):
    bank = ddp_bank[0]
    bad = tmp_path / "bad.npy"
    bad.write_text("not an image")
    inputs = [
        phantom_dataset / "myocardium",
        bad,
        f"{phantom_dir / 'P002' / 'spect.dcm'}@20-23",
        phantom_dataset / "liver",
    ]
    args = ["-q", "proto", "predict", *inputs, "--bank", bank, "--format", "csv", "--skip-bad", "--device", "cpu"]
    args += ["--batch-size", 16]  # groups of 16 inputs: rank 0 takes the first half of the groups
    code, expected = one_process(*args)
    assert code == 2 and "bad.npy" in expected
    sharded = torchrun(*args)
    assert sharded.returncode != 0  # a skipped input fails the run at the end, as in one process
    assert sharded.stdout == expected
    assert sharded.stderr.count("warning: skipped: ") == 1


def test_a_bad_input_on_one_rank_stops_every_rank_without_output_or_hang(ddp_bank, phantom_dataset, tmp_path):
    bank = ddp_bank[0]
    bad = tmp_path / "bad.npy"
    bad.write_text("not an image")
    crops = sorted((phantom_dataset / "liver").glob("*.npy"))[:4]
    started = time.monotonic()
    result = torchrun("-q", "proto", "predict", *crops, bad, "--bank", bank, "--format", "csv", "--device", "cpu")
    assert result.returncode != 0 and result.stdout == ""
    assert "error: " in result.stderr and "bad.npy" in result.stderr
    assert time.monotonic() - started < LAUNCH_TIMEOUT_S


def test_sharded_prnet_locate_prints_the_one_process_rows(prnet_model, phantom_dir):
    targets = [f"{phantom_dir / p / 'spect.dcm'}@{k}" for p in ("P002", "P003", "P004") for k in (30, 33)]
    args = ["prnet", "locate", *targets, "--model", prnet_model, "--ref", f"{phantom_dir / 'P001' / 'spect.dcm'}@32"]
    args += ["--point", "lv=30,30", "--format", "csv", "--device", "cpu", "--batch-size", 2]
    code, expected = separate_process(*args)
    assert code == 0
    sharded = torchrun(*args)
    assert sharded.returncode == 0, sharded.stderr
    assert sharded.stdout == expected and expected.count("\n") == 7


def test_ddp_segment_fit_then_sharded_predict_writes_the_one_process_label_maps(tmp_path, one_process):
    from tests.commands.test_segment import FAST, _shell_scan

    scans = [_shell_scan(tmp_path, f"s{i}", seed=i) for i in range(4)]
    model = tmp_path / "model.safetensors"
    fitted = torchrun("segment", "fit", scans[0][0], "--labels", scans[0][1], "--out", model, *FAST)
    assert fitted.returncode == 0, fitted.stderr
    assert training_record(model)["world_size"] == 2
    targets = [scan for scan, _ in scans[1:]]
    predict = ("segment", "predict", *targets, "--model", model, "--format", "csv", "--device", "cpu")
    code, expected = one_process(*predict, "--out", tmp_path / "one")
    assert code == 0
    sharded = torchrun(*predict, "--out", tmp_path / "two")
    assert sharded.returncode == 0, sharded.stderr
    assert sharded.stdout == expected.replace(str(tmp_path / "one"), str(tmp_path / "two"))
    for scan in targets:
        name = scan.name.replace(".nii.gz", "_labels.nii.gz")
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_interrupted_ddp_training_resumes_to_the_uninterrupted_weights(prnet_model, phantom_dir, tmp_path, cli):
    common = ["prnet", "train", f"{phantom_dir / 'P001' / 'spect.dcm'}@28-36", *PRNET]
    out = tmp_path / "resumed.safetensors"
    process = subprocess.Popen(
        _command([*common, "--out", out]),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_environment(),
    )
    lines = []
    for line in process.stderr:  # rank 0's first progress line: training has started
        lines.append(line)
        if "/s," in line:
            break
    process.send_signal(signal.SIGINT)  # as Ctrl-C: torchrun passes it to both ranks
    lines.append(process.stderr.read())
    process.wait(timeout=LAUNCH_TIMEOUT_S)
    checkpoint = Path(str(out) + ".ckpt")
    assert checkpoint.is_file() and not out.exists(), "".join(lines)
    one_rank = cli(*common, "--out", out, "--resume")  # in this process: one rank
    assert one_rank.exit_code == 2 and "world_size" in one_rank.stderr  # trained by 2 processes: refused
    resumed = torchrun("-q", *common, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert max_difference(prnet_model, out) < TOLERANCE
    assert not checkpoint.exists()
