"""Learning-rate schedules shared by the training loops (`prnet train`, `segment fit`)."""

from __future__ import annotations

import math

LR_SCHEDULES = ("constant", "cosine")


def scheduled_lr(lr: float, schedule: str, step: int, total: int) -> float:
    """The learning rate of step `step` of `total`: `lr` constant, or decaying from `lr` towards 0 along
    a cosine (a function of the step alone, so a resumed run follows the same schedule)."""
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * step / total))
    return lr
