"""PRNet model files: round trip and refusals."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest
import torch

from spectfsl.core.files.store import load_tensors, save_tensors
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.prnet.model_file import PRNetInfo, load_prnet, save_prnet
from spectfsl.errors import SpectfslError


def test_model_file_round_trip_and_refusals(tmp_path):
    model = PRNet(32, channels=4)
    info = PRNetInfo(32, 4, model.hidden, 4.0, 100.0, 1.0)
    save_prnet(tmp_path / "m.safetensors", model, info)
    loaded, loaded_info = load_prnet(tmp_path / "m.safetensors")
    assert loaded_info.patch == 32 and loaded_info.pixel_mm == 4.0
    patches = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(loaded.position(patches), model.eval().position(patches))
    save_tensors(tmp_path / "bank.safetensors", {"x": torch.zeros(1)}, "spectfsl.bank/1", {})
    with pytest.raises(SpectfslError, match="expected spectfsl.prnet/2"):
        load_prnet(tmp_path / "bank.safetensors")
    mismatched = PRNetInfo(48, 4, model.hidden, 4.0, 100.0, 1.0)
    save_prnet(tmp_path / "bad.safetensors", model, mismatched)
    with pytest.raises(SpectfslError, match="do not fit"):
        load_prnet(tmp_path / "bad.safetensors")


def test_the_head_activation_is_recorded_and_files_without_it_read_as_relu(tmp_path):
    leaky = PRNet(16, channels=4, dims=3, head_activation="leaky_relu")
    for layer in leaky.position_head[:-1]:
        assert not isinstance(layer, torch.nn.ReLU)  # no plain ReLU is left in the head
    info = PRNetInfo(16, 4, leaky.hidden, 8.0, 100.0, 0.0, dims=3, head_activation="leaky_relu")
    save_prnet(tmp_path / "leaky.safetensors", leaky, info)
    loaded, loaded_info = load_prnet(tmp_path / "leaky.safetensors")
    assert loaded_info.head_activation == "leaky_relu"
    assert load_tensors(tmp_path / "leaky.safetensors", "spectfsl.prnet/2")[1]["format"] == "spectfsl.prnet/2"
    with pytest.raises(SpectfslError, match="format version spectfsl.prnet/2 is not supported"):
        load_tensors(tmp_path / "leaky.safetensors", "spectfsl.prnet/1")  # a reader from before the field refuses it
    patches = torch.rand(3, 1, 16, 16, 16)
    torch.testing.assert_close(loaded.position(patches), leaky.eval().position(patches))  # same function back
    old = PRNet(16, channels=4, dims=3)  # a file from before the option: no head_activation in its metadata
    metadata = asdict(PRNetInfo(16, 4, old.hidden, 8.0, 100.0, 0.0, dims=3))
    del metadata["head_activation"]
    save_tensors(tmp_path / "old.safetensors", old.state_dict(), "spectfsl.prnet/1", metadata)
    model, old_info = load_prnet(tmp_path / "old.safetensors")
    assert old_info.head_activation == "relu" and model.head_activation == "relu"
    torch.testing.assert_close(model.position(patches), old.eval().position(patches))
    save_prnet(tmp_path / "relu.safetensors", old, old_info)
    assert load_tensors(tmp_path / "relu.safetensors", "spectfsl.prnet/2")[1]["format"] == "spectfsl.prnet/1"
    save_prnet(tmp_path / "odd.safetensors", old, replace(old_info, head_activation="tanh"))
    with pytest.raises(SpectfslError, match="head activation must be one of relu, leaky_relu"):
        load_prnet(tmp_path / "odd.safetensors")
    leaky_as_v1 = asdict(info)
    save_tensors(tmp_path / "v1.safetensors", leaky.state_dict(), "spectfsl.prnet/1", leaky_as_v1)
    with pytest.raises(SpectfslError, match="a 'leaky_relu' head needs version 2"):
        load_prnet(tmp_path / "v1.safetensors")
