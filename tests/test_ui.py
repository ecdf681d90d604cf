"""Progress and messages on stderr: bars in a terminal, plain lines in a batch log, nothing with --quiet."""

from __future__ import annotations

import re

from spectfsl.ui import LineProgress, Settings, make_progress


def test_a_batch_log_gets_progress_lines_with_rate_and_eta(capsys):
    with LineProgress(interval_s=0.0) as progress:
        task = progress.add_task("training PRNet", total=4, status="")
        for step in range(4):
            progress.update(task, advance=1, status=f"loss {1 / (step + 1):.2f}")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("training PRNet: 1/4, ") and "ETA" in lines[0] and "loss 1.00" in lines[0]
    assert re.match(r"training PRNet: 4/4, [\d.e+]+/s, done in \d+ s, loss 0.25", lines[-1])


def test_a_short_run_prints_no_progress_line(capsys):
    with LineProgress(interval_s=3600) as progress:
        task = progress.add_task("classifying", total=None, status="")
        progress.advance(task)
    assert capsys.readouterr().err == ""


def test_stderr_that_is_not_a_terminal_gets_lines_and_quiet_gets_nothing(monkeypatch):
    monkeypatch.setattr(Settings, "quiet", False)
    assert isinstance(make_progress(), LineProgress)  # pytest's stderr is not a terminal
    monkeypatch.setattr(Settings, "quiet", True)
    assert not isinstance(make_progress(), LineProgress)


def test_a_mixed_folder_skips_label_maps_and_other_files_with_one_summary_line(cli, phantom_dir, tmp_path):
    from spectfsl.core.files.loader import expand_inputs

    result = cli("prnet", "train", phantom_dir, "--out", tmp_path / "m.safetensors", "--epochs", 1, "--iters", 1)
    assert result.exit_code == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "skipped 8 label maps or masks (P001/labels.npy, P001/lv_labels.npy" in warning
    assert "files that are not images (P001/landmarks.json" in warning
    inputs = expand_inputs([phantom_dir])
    assert [item.name for item, _ in inputs] == ["spect.dcm"] * 4
