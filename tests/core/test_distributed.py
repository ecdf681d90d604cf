"""The torchrun environment, sharding of batch inputs, and per-rank seeds (single-process unit tests;
the launches themselves are in tests/commands/test_torchrun.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from spectfsl.cli import DISTRIBUTED_COMMANDS
from spectfsl.core import distributed
from spectfsl.errors import SpectfslError


@pytest.fixture
def rank_of(monkeypatch):
    """Pretend this process joined rank `rank` of `world` (no process group is made)."""

    def pretend(rank: int, world: int) -> None:
        monkeypatch.setattr(distributed, "_joined", distributed.Launch(rank, world, rank, world))

    return pretend


def test_without_torchrun_the_process_is_rank_0_of_1(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched() == distributed.SINGLE and not distributed.launched().active
    assert distributed.current().is_main
    distributed.check_command(["phantom"], DISTRIBUTED_COMMANDS)  # anything runs in one process


def test_torchrun_environment_is_read(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert distributed.launched() == distributed.Launch(3, 4, 1, 2)
    assert distributed.cores_per_process(16) == 8 and distributed.cores_per_process(1) == 1


def test_inconsistent_environment_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(SpectfslError, match="do not fit together"):
        distributed.launched()


def test_commands_that_would_repeat_their_job_are_refused_under_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    distributed.check_command(["prnet", "train"], DISTRIBUTED_COMMANDS)
    distributed.check_command(["segment", "predict"], DISTRIBUTED_COMMANDS)
    with pytest.raises(SpectfslError, match="'spectfsl demo' does not run under torchrun"):
        distributed.check_command(["demo"], DISTRIBUTED_COMMANDS)
    with pytest.raises(SpectfslError, match="proto evaluate"):
        distributed.check_command(["proto", "evaluate"], DISTRIBUTED_COMMANDS)


def test_cli_refuses_an_unsupported_command_under_torchrun(monkeypatch, cli, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    result = cli("-q", "phantom", "--out", tmp_path / "ph")
    assert result.exit_code == 2 and "does not run under torchrun" in result.stderr
    assert not (tmp_path / "ph").exists()


@pytest.mark.parametrize("count", [0, 1, 5, 6, 7])
def test_shares_are_consecutive_blocks_that_cover_the_inputs_in_order(rank_of, count):
    units = list(range(count))
    blocks = []
    for rank in range(3):
        rank_of(rank, 3)
        blocks.append(distributed.share(units))
    assert [unit for block in blocks for unit in block] == units
    assert max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_shares_are_made_of_whole_groups(rank_of):
    units = list(range(10))
    blocks = []
    for rank in range(2):
        rank_of(rank, 2)
        blocks.append(distributed.share(units, group=3))
    assert blocks == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]  # groups [0-2] [3-5] | [6-8] [9]


def test_input_units_expand_folders_to_their_files_in_reading_order(tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for name in ("b.npy", "a.npy", "c.npy"):
        np.save(folder / name, np.ones((4, 4), dtype=np.float32))
    single = tmp_path / "one.npy"
    np.save(single, np.ones((2, 4, 4), dtype=np.float32))
    units = distributed.input_units([str(single) + "@1", str(folder), "missing.npy"])
    assert units == [str(single) + "@1", *(str(folder / n) for n in ("a.npy", "b.npy", "c.npy")), "missing.npy"]


def test_rank_seeds_differ_between_ranks_and_rank_0_keeps_the_seed(rank_of):
    seeds = []
    for rank in range(3):
        rank_of(rank, 3)
        seeds.append(distributed.rank_seed(7))
    assert seeds[0] == 7 and len(set(seeds)) == 3


def test_one_process_runs_its_rows_and_raises_their_error(rank_of):
    assert distributed.gather_rows(iter([{"path": "a"}])) == [{"path": "a"}]

    def failing():
        yield {"path": "a"}
        raise SpectfslError("b: unreadable")

    with pytest.raises(SpectfslError, match="b: unreadable"):
        distributed.gather_rows(failing())


def test_without_torchrun_no_process_group_is_made():
    code = (
        "import torch; from spectfsl.core.device import setup_device; setup_device('cpu'); "
        "print(torch.distributed.is_initialized())"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
