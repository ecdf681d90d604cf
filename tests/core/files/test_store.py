"""The safetensors store: metadata round trip, typed loading, and refusals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest
import torch

from spectfsl import __version__
from spectfsl.core.files.store import load_tensors, load_with_info, save_tensors, sha256_of
from spectfsl.errors import SpectfslError


@dataclass
class ToyInfo:
    size: int
    name: str
    options: dict = field(default_factory=dict)


def test_tensors_and_typed_metadata_round_trip(tmp_path):
    path = tmp_path / "toy.safetensors"
    metadata = {"size": 4, "name": "a", "extra": [1, 2]}
    save_tensors(path, {"w": torch.arange(6.0).reshape(2, 3)}, "spectfsl.toy/1", metadata)
    tensors, info, metadata = load_with_info(path, "spectfsl.toy/1", ToyInfo)
    torch.testing.assert_close(tensors["w"], torch.arange(6.0).reshape(2, 3))
    assert info == ToyInfo(4, "a")
    assert metadata["extra"] == [1, 2] and metadata["spectfsl_version"] == __version__


def test_missing_metadata_fields_are_refused(tmp_path):
    save_tensors(tmp_path / "toy.safetensors", {"w": torch.zeros(1)}, "spectfsl.toy/1", {"name": "a"})
    with pytest.raises(SpectfslError, match="spectfsl.toy/1 metadata incomplete"):
        load_with_info(tmp_path / "toy.safetensors", "spectfsl.toy/1", ToyInfo)


def test_other_formats_and_newer_versions_are_refused_older_ones_read(tmp_path):
    save_tensors(tmp_path / "a.safetensors", {"w": torch.zeros(1)}, "spectfsl.toy/2", {})
    with pytest.raises(SpectfslError, match="format version spectfsl.toy/2 is not supported"):
        load_tensors(tmp_path / "a.safetensors", "spectfsl.toy/1")
    with pytest.raises(SpectfslError, match="is a spectfsl.toy/2 file, expected spectfsl.bank/1"):
        load_tensors(tmp_path / "a.safetensors", "spectfsl.bank/1")
    save_tensors(tmp_path / "old.safetensors", {"w": torch.zeros(1)}, "spectfsl.toy/1", {})
    assert load_tensors(tmp_path / "old.safetensors", "spectfsl.toy/2")[1]["format"] == "spectfsl.toy/1"  # older: read
    save_tensors(tmp_path / "odd.safetensors", {"w": torch.zeros(1)}, "spectfsl.toy/x", {})
    with pytest.raises(SpectfslError, match="format version spectfsl.toy/x is not supported"):
        load_tensors(tmp_path / "odd.safetensors", "spectfsl.toy/2")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(SpectfslError, match="not a readable safetensors file"):
        load_tensors(tmp_path / "junk.safetensors", "spectfsl.toy/1")


def test_sha256_of_a_file(tmp_path):
    (tmp_path / "f").write_bytes(b"spectfsl")
    assert sha256_of(tmp_path / "f") == hashlib.sha256(b"spectfsl").hexdigest()


def test_the_same_tensors_and_metadata_give_the_same_bytes(tmp_path):
    from safetensors.torch import load_file

    tensors = {"b": torch.ones(3, dtype=torch.int64), "a": torch.arange(5.0)}
    metadata = {f"key{i}": [i, str(i)] for i in range(20)}  # enough keys for safetensors' order to vary
    contents = set()
    for index in range(4):
        path = tmp_path / f"m{index}.safetensors"
        save_tensors(path, tensors, "spectfsl.toy/1", metadata)
        contents.add(path.read_bytes())
    assert len(contents) == 1
    assert torch.equal(load_file(tmp_path / "m0.safetensors")["a"], tensors["a"])  # safetensors itself reads it
