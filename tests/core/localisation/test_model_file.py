"""PRNet model files: round trip and refusals."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.files.store import save_tensors
from spectfsl.core.localisation.model_file import PRNetInfo, load_prnet, save_prnet
from spectfsl.core.models.prnet import PRNet
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
    with pytest.raises(SpectfslError, match="expected spectfsl.prnet/1"):
        load_prnet(tmp_path / "bank.safetensors")
    mismatched = PRNetInfo(48, 4, model.hidden, 4.0, 100.0, 1.0)
    save_prnet(tmp_path / "bad.safetensors", model, mismatched)
    with pytest.raises(SpectfslError, match="do not fit"):
        load_prnet(tmp_path / "bad.safetensors")
