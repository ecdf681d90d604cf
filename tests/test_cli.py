"""The root command: version, lazy imports, plugin discovery, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from spectfsl import __version__


def test_version_prints_package_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"spectfsl {__version__}"


def test_help_lists_builtin_commands_without_importing_torch():
    code = (
        "import sys; from spectfsl.cli import main; rc = main(['--help']); "
        "print(__import__('json').dumps([rc, 'torch' in sys.modules]))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rc, torch_imported = json.loads(output.strip().splitlines()[-1])
    assert rc == 0
    assert torch_imported is False
    assert "phantom" in output and "prepare" in output


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "spectfsl", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"spectfsl {__version__}"


def _ending(code: int, lines: int) -> str:
    """A script that imports torch, prints `lines` lines (the last ones still in stdout's buffer) and one
    line to stderr, then ends as the console script does."""
    return (
        "import sys, torch\n"
        "from spectfsl.cli import end_process\n"
        f"for _ in range({lines}): print('row')\n"
        "print('done', file=sys.stderr)\n"
        f"end_process({code})\n"
    )


def test_the_quick_ending_after_torch_delivers_all_output_and_the_exit_code():
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout keeps a buffer to lose
    result = subprocess.run([sys.executable, "-c", _ending(3, 200_000)], capture_output=True, text=True, env=buffered)
    assert result.returncode == 3
    assert result.stdout == "row\n" * 200_000 and result.stderr == "done\n"


def test_usage_error_exits_2_with_one_error_line(cli):
    result = cli("phantom")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def _install_plugin(tmp_path: Path, entry_points: str, module_source: str) -> dict[str, str]:
    """A third-party distribution on PYTHONPATH declaring `spectfsl.commands` entry points."""
    (tmp_path / "myplugin.py").write_text(textwrap.dedent(module_source))
    dist_info = tmp_path / "myplugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}


PLUGIN = """
    import typer

    def hello(name: str = "world") -> None:
        print(f"hello {name}")

    def crash() -> None:
        1 / 0

    def register(app: typer.Typer) -> None:
        app.command()(hello)
        app.command()(crash)
"""


def test_third_party_entry_point_adds_a_command(tmp_path):
    env = _install_plugin(tmp_path, "[spectfsl.commands]\nhello = myplugin:register\n", PLUGIN)
    result = subprocess.run(
        [sys.executable, "-m", "spectfsl", "hello", "--name", "spect"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello spect"


def test_broken_plugin_warns_and_the_cli_still_works(tmp_path):
    env = _install_plugin(tmp_path, "[spectfsl.commands]\nbroken = not_a_module_anywhere:register\n", PLUGIN)
    result = subprocess.run([sys.executable, "-m", "spectfsl", "--version"], capture_output=True, text=True, env=env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"spectfsl {__version__}"
    assert "warning: plugin command 'broken'" in result.stderr


def test_internal_error_exits_1_without_traceback_unless_debug(tmp_path):
    env = _install_plugin(tmp_path, "[spectfsl.commands]\ncrash = myplugin:register\n", PLUGIN)
    plain = subprocess.run([sys.executable, "-m", "spectfsl", "crash"], capture_output=True, text=True, env=env)
    assert plain.returncode == 1
    assert plain.stderr.startswith("error: internal error: ZeroDivisionError")
    assert "Traceback" not in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "spectfsl", "crash"], capture_output=True, text=True, env={**env, "SPECTFSL_DEBUG": "1"}
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_quiet_silences_messages_after_the_command_name_too(cli, tmp_path):
    loud = cli("phantom", "--out", tmp_path / "a", "--patients", 1)
    quiet = cli("phantom", "--out", tmp_path / "b", "--patients", 1, "--quiet")
    again = cli("phantom", "--out", tmp_path / "c", "--patients", 1)
    assert "wrote 1 phantom patients" in loud.stderr
    assert quiet.stderr == ""
    assert "wrote 1 phantom patients" in again.stderr  # one run's --quiet does not leak into the next
