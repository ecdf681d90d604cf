"""Checkpoints: what they restore, what they refuse, and the non-finite loss stop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spectfsl.core.checkpoint import Checkpointer, TrainingInterrupted, TrainingState, fingerprint
from spectfsl.errors import SpectfslError

IDENTITY = {"kind": "toy", "settings": {"lr": 0.1, "steps": 12}, "inputs_sha256": "abc"}


def toy_run(path, steps: int = 12, stop_after: int | None = None, resume: bool = False, nan_at: int | None = None):
    """A small loop that draws from a torch and a NumPy generator, as the real loops do."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(2)
    state = TrainingState(model, optimiser, {"data": generator}, {"order": rng})
    checkpointer = Checkpointer(path, interval_s=3600, resume=resume)
    checkpointer.start(state, IDENTITY)
    while state.step < steps:
        checkpointer.begin_step(state)
        inputs = torch.randn(16, 4, generator=generator) * float(rng.uniform(0.5, 2))
        loss = model(inputs).pow(2).mean()
        if nan_at is not None and state.step == nan_at:
            loss = loss * float("nan")
        checkpointer.check_loss(state, loss, f"step {state.step + 1}")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if stop_after is not None and state.step + 1 == stop_after:
            checkpointer.stop_signal = 2  # what SIGINT's handler records
        checkpointer.end_step(state, loss.item())
    return model, state


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    reference, _ = toy_run(None)
    with pytest.raises(TrainingInterrupted, match="after step 5; checkpoint saved to") as stopped:
        toy_run(tmp_path / "run.ckpt", stop_after=5)
    assert stopped.value.exit_code == 130
    resumed, state = toy_run(tmp_path / "run.ckpt", resume=True)
    assert state.step == 12 and len(state.losses) == 12
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=0)


def test_a_checkpoint_left_behind_is_not_overwritten_silently(tmp_path):
    with pytest.raises(TrainingInterrupted):
        toy_run(tmp_path / "run.ckpt", stop_after=2)
    with pytest.raises(SpectfslError, match="pass resume to continue it, or overwrite"):
        toy_run(tmp_path / "run.ckpt")


def test_resume_without_a_checkpoint_is_refused(tmp_path):
    with pytest.raises(SpectfslError, match="no checkpoint to resume"):
        toy_run(tmp_path / "run.ckpt", resume=True)


def test_a_checkpoint_of_other_settings_is_refused_naming_them(tmp_path):
    with pytest.raises(TrainingInterrupted):
        toy_run(tmp_path / "run.ckpt", stop_after=2)
    state = TrainingState(nn.Linear(4, 1), torch.optim.Adam(nn.Linear(4, 1).parameters()))
    checkpointer = Checkpointer(tmp_path / "run.ckpt", resume=True)
    with pytest.raises(SpectfslError, match="its settings differ: lr"):
        checkpointer.start(state, {**IDENTITY, "settings": {"lr": 0.2, "steps": 12}})
    with pytest.raises(SpectfslError, match="its inputs differ"):
        checkpointer.start(state, {**IDENTITY, "inputs_sha256": "abd"})


def test_a_non_finite_loss_stops_and_keeps_the_last_good_state(tmp_path):
    reference, _ = toy_run(None, steps=3)
    with pytest.raises(SpectfslError, match="not finite at step 4; the last good state \\(step 3\\) is saved"):
        toy_run(tmp_path / "run.ckpt", nan_at=3)
    checkpointer = Checkpointer(tmp_path / "run.ckpt", resume=True)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    state = TrainingState(model, torch.optim.Adam(model.parameters(), lr=0.1), {"data": torch.Generator()})
    state.numpy_generators["order"] = np.random.default_rng()
    checkpointer.start(state, IDENTITY)
    assert state.step == 3
    for name, tensor in reference.state_dict().items():  # batch-norm statistics of the bad step undone
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=0)


def test_no_path_means_no_file_and_no_signal_handlers(tmp_path):
    import signal

    before = signal.getsignal(signal.SIGINT)
    checkpointer = Checkpointer()
    with checkpointer.signals():
        assert signal.getsignal(signal.SIGINT) is before
    toy_run(None)
    assert not list(tmp_path.iterdir())


def test_fingerprint_sees_values_shapes_and_dtypes():
    values = np.arange(6, dtype=np.float32)
    assert fingerprint(values) == fingerprint(values.copy())
    assert fingerprint(values) != fingerprint(values.reshape(2, 3))
    assert fingerprint(values) != fingerprint(values.astype(np.float64))
    assert fingerprint(values) != fingerprint(values + 1e-6)
