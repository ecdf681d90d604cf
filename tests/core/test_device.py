"""The one device picker."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.device import pick_device, setup_device
from spectfsl.errors import SpectfslError


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("AUTO") == torch.device("cuda")


def test_an_absent_device_asked_for_is_a_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(SpectfslError, match="no CUDA device is available; use device cpu"):
        pick_device("cuda:1")
    with pytest.raises(SpectfslError, match="MPS was asked for"):
        pick_device("mps")
    with pytest.raises(SpectfslError, match="device must be one of"):
        pick_device("tpu")


def test_setup_uses_the_cpu_with_flushed_denormals():
    assert setup_device("cpu") == torch.device("cpu")
    assert torch.tensor([1e-40], dtype=torch.float32).item() == 0.0  # denormals flush to zero
