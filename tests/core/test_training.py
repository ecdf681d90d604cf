"""The one training loop: steps, learning rate, progress, a non-finite loss stopped."""

from __future__ import annotations

import math

import pytest
import torch

from spectfsl.core.checkpoint import Checkpointer, TrainingState
from spectfsl.core.training import run_steps
from spectfsl.errors import SpectfslError


def toy_state() -> TrainingState:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    return TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1))


def squared_error(state: TrainingState):
    inputs, targets = torch.tensor([[1.0, 2.0], [3.0, -1.0]]), torch.tensor([[1.0], [0.0]])
    return lambda step: ((state.model(inputs) - targets) ** 2).mean()


def test_the_loop_runs_to_the_total_with_the_schedule_and_reports_each_step():
    state = toy_state()
    rates, reported = [], []

    def rate(step: int) -> float:
        rates.append(0.1 / (step + 1))
        return rates[-1]

    losses = run_steps(state, 5, squared_error(state), learning_rate=rate, after_step=lambda s, v: reported.append(s))
    assert state.step == 5 and len(losses) == 5 and reported == [0, 1, 2, 3, 4]
    assert state.optimiser.param_groups[0]["lr"] == rates[-1] == pytest.approx(0.02)
    assert losses[-1] < losses[0]


def test_the_loop_goes_on_from_where_the_state_stands():
    state = toy_state()
    run_steps(state, 3, squared_error(state))
    seen = []
    run_steps(state, 5, squared_error(state), after_step=lambda step, loss: seen.append(step))
    assert seen == [3, 4] and state.step == 5


def test_a_non_finite_loss_stops_the_run_naming_the_step():
    state = toy_state()

    def loss(step: int):
        value = squared_error(state)(step)
        return value * math.inf if step == 2 else value

    with pytest.raises(SpectfslError, match="not finite at round 3"):
        run_steps(state, 5, loss, Checkpointer(), describe=lambda step: f"round {step + 1}")
    assert state.step == 2
