"""Atomic outputs, proven by killing writers: a process killed (SIGKILL) at a random moment leaves
the output path absent or complete, never partial; two processes writing one path leave one valid
result. The writers use the same `atomic_file` / `atomic_directory` every spectfsl output goes
through, and the real `spectfsl phantom` command is killed too."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # seconds each: the fast suite (-m 'not slow') leaves them to CI

FILE_TRIALS, FOLDER_TRIALS, COMMAND_TRIALS = 40, 20, 6

WRITER = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from pathlib import Path
    from spectfsl.core.files.atomic import atomic_directory, atomic_file

    kind, target, tag, rounds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    for round in range(rounds):
        payload = os.urandom(1 << 21) + f"{tag}:{round}".encode()
        if kind == "file":  # [length][payload][sha256 of payload]
            with atomic_file(target) as temporary:
                with open(temporary, "wb") as handle:
                    handle.write(len(payload).to_bytes(8, "little"))
                    for start in range(0, len(payload), 1 << 16):
                        handle.write(payload[start : start + (1 << 16)])
                    handle.write(hashlib.sha256(payload).digest())
        else:  # five parts and a manifest of their hashes, written last
            with atomic_directory(target, overwrite=True) as staging:
                digests = {}
                for part in range(5):
                    (staging / f"part{part}.bin").write_bytes(payload[part:])
                    digests[f"part{part}.bin"] = hashlib.sha256(payload[part:]).hexdigest()
                (staging / "manifest.json").write_text(json.dumps({"tag": tag, "digests": digests}))
        if round == 0:
            print("writing", flush=True)
    """
)


def complete_file(path: Path) -> str | None:
    """The problem with a written file, or None when it is complete."""
    data = path.read_bytes()
    if len(data) < 40:
        return f"{len(data)} bytes"
    length = int.from_bytes(data[:8], "little")
    payload, digest = data[8 : 8 + length], data[8 + length :]
    if len(payload) != length or hashlib.sha256(payload).digest() != digest:
        return "partial content"
    return None


def complete_folder(path: Path) -> str | None:
    """The problem with a written folder, or None when it is complete. The folder is read through one
    open handle, so a replacement while it is read does not mix two versions (a file deleted
    meanwhile raises FileNotFoundError: the reader tries again)."""
    folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:

        def read(name: str) -> bytes:
            handle = os.open(name, os.O_RDONLY, dir_fd=folder)
            with os.fdopen(handle, "rb") as stream:
                return stream.read()

        names = sorted(os.listdir(folder))
        if "manifest.json" not in names:
            return f"no manifest ({names})"
        digests = json.loads(read("manifest.json"))["digests"]
        if names != sorted([*digests, "manifest.json"]):
            return f"files {names}"
        for name, digest in digests.items():
            if hashlib.sha256(read(name)).hexdigest() != digest:
                return f"{name} partial"
        return None
    finally:
        os.close(folder)


def start(kind: str, target: Path, tag: str = "a", rounds: int = 1_000_000) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, kind, str(target), tag, str(rounds)], stdout=subprocess.PIPE, text=True
    )


def kill_at_random(process: subprocess.Popen, rng: np.random.Generator) -> None:
    """Wait until the writer has written once, then SIGKILL it after a random delay."""
    assert process.stdout.readline().strip() == "writing"
    time.sleep(float(rng.uniform(0, 0.25)))
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("kind,trials", [("file", FILE_TRIALS), ("folder", FOLDER_TRIALS)])
def test_a_killed_writer_leaves_the_old_output_or_a_complete_one(tmp_path, kind, trials):
    rng = np.random.default_rng(10)
    target = tmp_path / ("out.bin" if kind == "file" else "out")
    check = complete_file if kind == "file" else complete_folder
    for trial in range(trials):
        kill_at_random(start(kind, target), rng)
        assert target.exists(), "the first round completed, so an output must be there"
        problem = check(target)
        assert problem is None, f"trial {trial}: {problem}"
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert all(name.startswith(".") for name in leftovers)  # staging leftovers stay hidden


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_two_writers_of_one_path_leave_one_valid_result(tmp_path, kind):
    target = tmp_path / ("out.bin" if kind == "file" else "out")
    check = complete_file if kind == "file" else complete_folder
    writers = [start(kind, target, tag, rounds=15) for tag in ("a", "b")]
    seen = 0
    while any(w.poll() is None for w in writers):  # a reader meanwhile never sees a partial output
        if target.exists():
            try:
                problem = check(target)
            except FileNotFoundError:  # the folder was replaced while being read
                continue
            assert problem is None, problem
            seen += 1
    assert all(w.returncode == 0 for w in writers)
    assert check(target) is None and seen > 0


def test_a_killed_phantom_command_leaves_no_partial_folder(tmp_path):
    rng = np.random.default_rng(11)
    for trial in range(COMMAND_TRIALS):
        out = tmp_path / f"phantom{trial}"
        process = subprocess.Popen(
            [sys.executable, "-m", "spectfsl", "-q", "phantom", "--out", str(out), "--patients", "3"],
            stderr=subprocess.DEVNULL,
        )
        time.sleep(float(rng.uniform(0.6, 1.6)))  # start-up takes about 1 s on 2 cores; then writing
        process.send_signal(signal.SIGKILL)
        process.wait()
        if out.exists():
            assert sorted(p.name for p in out.iterdir()) == ["P001", "P002", "P003", "points.csv", "points3d.csv"]
            for patient in ("P001", "P002", "P003"):
                assert sorted(p.name for p in (out / patient).iterdir()) == [
                    "labels.json",
                    "labels.npy",
                    "landmarks.json",
                    "lv_labels.json",
                    "lv_labels.npy",
                    "spect.dcm",
                ]
