"""Conventions every command shares: one vocabulary, one overwrite rule, range-checked numbers,
help without Python type placeholders, and old spellings that still work with a warning."""

from __future__ import annotations

import re

import pytest

COMMANDS = [
    ("phantom",),
    ("prepare",),
    ("proto", "fit"),
    ("proto", "predict"),
    ("proto", "evaluate"),
    ("prnet", "train"),
    ("prnet", "offset"),
    ("prnet", "locate"),
    ("prnet", "reconstruct"),
    ("prnet", "evaluate"),
    ("bench",),
    ("demo",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_names_values_not_python_types(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert not re.findall(r"<(bool|int|float|str|path|list\[\w+\]|int range|float range)>", result.stdout)
    assert "--quiet" in result.stdout


@pytest.mark.parametrize(
    "arguments, option",
    [
        (("proto", "fit", "ds", "--out", "b.safetensors", "--episodes", "0", "--support", "0"), "--support"),
        (("proto", "fit", "ds", "--out", "b.safetensors", "--support", "-3"), "--support"),
        (("proto", "fit", "ds", "--out", "b.safetensors", "--steps", "-1"), "--steps"),
        (("proto", "fit", "ds", "--out", "b.safetensors", "--episodes", "-1"), "--episodes"),
        (("proto", "fit", "ds", "--out", "b.safetensors", "--lr", "0"), "--lr"),
        (("proto", "evaluate", "ds", "--way", "1"), "--way"),
        (("prnet", "train", "x.npy", "--out", "m.safetensors", "--epochs", "0"), "--epochs"),
        (("prnet", "train", "x.npy", "--out", "m.safetensors", "--pixel-mm", "-4"), "--pixel-mm"),
        (("prepare", "x.npy", "--out", "d", "--size", "2"), "--size"),
        (("phantom", "--out", "p", "--patients", "0"), "--patients"),
        (("bench", "--seconds", "0"), "--seconds"),
    ],
)
def test_out_of_range_numbers_are_usage_errors_naming_the_option(cli, arguments, option):
    result = cli(*arguments)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and option in result.stderr and "internal error" not in result.stderr


def test_an_existing_output_file_is_refused_before_any_work_unless_overwrite(cli, phantom_dataset, tmp_path):
    bank = tmp_path / "bank.safetensors"
    bank.write_bytes(b"an earlier result")
    refused = cli("proto", "fit", phantom_dataset, "--out", bank, "--weights", "random", "--episodes", 0)
    assert refused.exit_code == 2 and "file exists (pass --overwrite to replace it)" in refused.stderr
    assert bank.read_bytes() == b"an earlier result"
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    assert "file exists" in cli("prnet", "train", phantom_dataset, "--out", model).stderr
    replaced = cli(
        "-q", "proto", "fit", phantom_dataset, "--out", bank, "--weights", "random", "--episodes", 0, "--overwrite"
    )
    assert replaced.exit_code == 0 and bank.read_bytes()[:8] != b"an earli"


def test_spellings_no_release_had_are_gone(cli, tmp_path):
    assert cli("phantom", tmp_path / "old", "--patients", 1).exit_code == 2  # the positional OUT_DIR
    assert "No such option: --voxel-mm" in cli("phantom", "--out", tmp_path / "p", "--voxel-mm", 7).stderr
    assert "No such option: --shots" in cli("proto", "fit", "ds", "--out", "b", "--shots", 3).stderr
    assert "No such option: --spacing-mm" in cli("prepare", "x.npy", "--out", "d", "--spacing-mm", 2).stderr
    result = cli("phantom", "--patients", 1)
    assert result.exit_code == 2 and "--out" in result.stderr
