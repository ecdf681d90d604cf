"""The one training loop: optimiser step after optimiser step, with checkpoints, a learning-rate
schedule and progress, around whatever loss a caller computes (`proto fit`'s episodes, `prnet
train`'s pairs, `segment fit`'s crops, the anatomy embeddings' views).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from spectfsl.core.checkpoint import Checkpointer, TrainingState


def run_steps(
    state: TrainingState,
    total: int,
    loss_of_step: Callable[[int], torch.Tensor],
    checkpointer: Checkpointer | None = None,
    learning_rate: Callable[[int], float] | None = None,
    describe: Callable[[int], str] = lambda step: f"step {step + 1}",
    after_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Run `state` on to `total` steps and return every step's loss.

    Each step: the learning rate `learning_rate(step)` (when given) on every parameter group, the loss
    `loss_of_step(step)`, a check that it is finite (`describe(step)` names the step if not), the
    optimiser step, a checkpoint when due, then `after_step(step, loss)`. `checkpointer` (None: no
    checkpoints) must have been started (`Checkpointer.start`) for the run to resume from one.
    """
    checkpointer = checkpointer or Checkpointer()
    optimiser = state.optimiser
    with checkpointer.signals():
        while state.step < total:
            step = state.step
            checkpointer.begin_step(state)
            if learning_rate is not None:
                for group in optimiser.param_groups:
                    group["lr"] = learning_rate(step)
            loss = loss_of_step(step)
            value = checkpointer.check_loss(state, loss, describe(step))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            checkpointer.end_step(state, value)
            if after_step is not None:
                after_step(step, state.losses[-1])
    return state.losses
