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


def cli_flags() -> set[str]:
    """Every `--flag` of every command (from the app itself)."""
    import typer

    from spectfsl.cli import build_app

    flags: set[str] = set()

    def visit(command) -> None:
        for parameter in command.params:
            flags.update(o for o in [*parameter.opts, *parameter.secondary_opts] if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            visit(sub)

    visit(typer.main.get_command(build_app()))
    return flags


def core_strings() -> list[tuple[str, int, str]]:
    """(file, line, text) of every string literal in spectfsl/core that is not a docstring."""
    import ast
    from pathlib import Path

    import spectfsl

    found = []
    for path in sorted((Path(spectfsl.__file__).parent / "core").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found.append((path.name, node.lineno, node.value))
    return found


def test_the_core_names_no_cli_flag_in_its_messages():
    """The core raises with the setting's Python name; only the CLI knows its flags (`ui.flag_of`)."""
    flags = sorted(cli_flags(), key=len, reverse=True)
    assert "--patch" in flags and "--pixel-mm" in flags
    pattern = re.compile("(" + "|".join(map(re.escape, flags)) + r")(?![\w-])")
    offending = [f"{name}:{line}: {text[:80]}" for name, line, text in core_strings() if pattern.search(text)]
    assert not offending, "\n".join(offending)


def test_a_core_error_names_the_setting_in_python_and_the_flag_in_the_shell(cli, tmp_path):
    from spectfsl.core.prnet.training import PRNetSettings
    from spectfsl.errors import SpectfslError

    with pytest.raises(SpectfslError, match=r"^patch must be a multiple of 16, got 20$"):
        PRNetSettings(patch=20)
    result = cli("prnet", "train", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--patch", "20")
    assert result.exit_code == 2
    assert "error: --patch must be a multiple of 16, got 20" in result.stderr


def test_every_setting_the_core_names_is_a_flag_of_the_cli():
    """A setting named in a core message maps to a real flag (`ui.SETTING_FLAGS` where names differ)."""
    import ast
    from pathlib import Path

    import spectfsl
    from spectfsl.ui import flag_of

    named = set()
    for path in (Path(spectfsl.__file__).parent / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "settings":
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                named.update(v.value for v in values if isinstance(v, ast.Constant))
    assert len(named) > 20
    assert {setting for setting in named if flag_of(setting) not in cli_flags()} == set()
