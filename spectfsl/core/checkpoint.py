"""Resumable training: checkpoints at an interval and on SIGINT/SIGTERM, `--resume` from them.

A training loop hands its state to a `Checkpointer` after every step. The checkpoint beside the
output (`model.safetensors` -> `model.safetensors.ckpt`, format `spectfsl.checkpoint/1`, never
pickle) holds the model's weights and buffers, the optimiser's state, every random generator the
loop draws from (torch and NumPy), the step and the losses so far, and the run's identity: what
the loop is, its settings and a hash of its inputs. Resuming restores all of it, so an interrupted
and resumed run takes the very same steps as an uninterrupted one; a checkpoint whose identity
differs from the new run's is refused.

A loss that is not finite stops training: the state before that step (the last good one) is saved
and the run ends with an error naming it.

Under torchrun (several processes, see `spectfsl.core.distributed`) every step's loss is averaged
over the ranks, and whether to save or stop is decided for all ranks at once (rank 0's clock, a
signal on any rank); rank 0 writes the checkpoint with every rank's random generators and reads it
back for all of them on --resume. The world size is part of the run's identity.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spectfsl.core import distributed
from spectfsl.core.files.store import load_tensors, save_tensors
from spectfsl.errors import SpectfslError

CHECKPOINT_FORMAT = "spectfsl.checkpoint/1"
#: Seconds between checkpoints by default (a checkpoint is also written on SIGINT and SIGTERM).
DEFAULT_INTERVAL_S = 60.0
INTERRUPTED_EXIT_CODE = 130


def checkpoint_path(out: str | os.PathLike) -> Path:
    """The checkpoint beside an output file: `model.safetensors` -> `model.safetensors.ckpt`."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


class TrainingInterrupted(SpectfslError):
    """SIGINT or SIGTERM during training: the checkpoint is saved (exit code 130)."""

    exit_code = INTERRUPTED_EXIT_CODE


@dataclass
class TrainingState:
    """What a training loop carries from one step to the next."""

    model: nn.Module
    optimiser: torch.optim.Optimizer
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    numpy_generators: dict[str, np.random.Generator] = field(default_factory=dict)
    step: int = 0
    losses: list[float] = field(default_factory=list)


def fingerprint(*arrays: Any) -> str:
    """SHA-256 of arrays' shapes, dtypes and bytes (and of any other values' reprs): a run's inputs."""
    digest = hashlib.sha256()
    for value in arrays:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            digest.update(f"{value.shape}{value.dtype}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()


class Checkpointer:
    """Saves a training loop's state every `interval_s` seconds and when asked to stop by a signal.

    `path` None turns checkpoints off (the default for notebook users: no file, no signal handlers);
    `interval_s` 0 saves after every step; `resume` restores the checkpoint at `path` first;
    `start_over` replaces a checkpoint left at `path` (without it, one left there is refused).
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        resume: bool = False,
        start_over: bool = False,
    ) -> None:
        if interval_s < 0:
            raise SpectfslError(f"{{interval_s}} must be 0 or more seconds, got {interval_s}", settings="interval_s")
        self.path = Path(path) if path is not None else None
        self.identity: dict[str, Any] = {}
        self.interval_s = interval_s
        self.resume = resume
        self.start_over = start_over
        self.stop_signal: int | None = None
        self.last_save = time.monotonic()
        self._rng_at_step_start: dict[str, Any] = {}
        self._buffers_at_step_start: dict[str, torch.Tensor] = {}
        self._save_due = False
        self._stop_agreed = False

    # -- signals ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def signals(self) -> Iterator[None]:
        """While training: SIGINT and SIGTERM ask the loop to stop at the end of its step (a second
        SIGINT stops at once, without a checkpoint). Without a path, or outside the main thread,
        signals are left alone."""
        if self.path is None:
            yield
            return
        try:
            previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread
            yield
            return
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.stop_signal == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop_signal = signum

    # -- the loop's calls ------------------------------------------------------------------------

    def start(self, state: TrainingState, identity: dict[str, Any]) -> None:
        """Before the first step: restore the checkpoint with --resume; else refuse to overwrite one silently.

        `identity` (JSON) says what is trained on what: the loop's kind, its settings, hashes of its
        inputs and of the initial model (`fingerprint`). A checkpoint of another identity is refused.
        """
        if distributed.current().active:
            identity = {**identity, "world_size": distributed.current().world_size}
        self.identity = json.loads(json.dumps(identity))  # as it reads back from the file
        if self.path is None:
            return
        found = distributed.broadcast(self._read_on_main())  # rank 0 reads; every rank gets the same
        if isinstance(found, str):
            raise SpectfslError(found, settings=("resume", "overwrite"))
        if found is not None:
            self._restore(state, *found)

    def _read_on_main(self) -> str | tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """Rank 0's view of the checkpoint: (tensors, metadata) to resume from, None to start
        afresh, or the user error that refuses the run."""
        if not distributed.current().is_main:
            return None
        if not self.resume:
            if self.path.exists() and not self.start_over:
                return (
                    f"{self.path}: an interrupted run left this checkpoint; pass {{resume}} to continue it, "
                    "or {overwrite} to start over"
                )
            return None
        if not self.path.is_file():
            return f"{self.path}: no checkpoint to resume (the run finished, or never started)"
        try:
            tensors, metadata = load_tensors(self.path, CHECKPOINT_FORMAT)
        except SpectfslError as error:
            return str(error)
        found = metadata.get("identity")
        if found != self.identity:
            return f"{self.path}: checkpoint of another run ({_difference(found, self.identity)}); refused"
        return tensors, metadata

    def begin_step(self, state: TrainingState) -> None:
        """At the start of a step: remember the generators and buffers, in case its loss is not finite."""
        if self.path is not None:
            self._rng_at_step_start = _generator_states(state)
            self._buffers_at_step_start = {k: b.detach().clone() for k, b in state.model.named_buffers()}

    def check_loss(self, state: TrainingState, loss: torch.Tensor, where: str) -> float:
        """The step's loss (averaged over the ranks under torchrun); stop with an error when it is not
        finite, saving the last good state (before this step)."""
        value = float(loss.detach())
        if distributed.current().active:
            due = self.path is not None and time.monotonic() - self.last_save >= self.interval_s
            asked = self.stop_signal is not None
            total, saves, stops = distributed.sum_across(
                [value, float(due and distributed.current().is_main), asked], loss.device
            )
            value = total / distributed.current().world_size
            self._save_due = saves > 0
            # Only this agreement counts: a signal arriving later in the step waits for the next one,
            # or the ranks would part ways (one saving, the others stepping on).
            self._stop_agreed = stops > 0
            if stops and self.stop_signal is None:
                self.stop_signal = signal.SIGTERM  # another rank was asked to stop: all stop together
        elif self.path is not None:
            self._save_due = time.monotonic() - self.last_save >= self.interval_s
        if math.isfinite(value):
            return value
        saved = ""
        if self.path is not None:
            with torch.no_grad():
                for name, buffer in state.model.named_buffers():
                    buffer.copy_(self._buffers_at_step_start[name])
            self._save(state, self._rng_at_step_start)
            saved = f"; the last good state (step {state.step}) is saved in {self.path}"
        raise SpectfslError(
            f"training stopped: the loss is not finite at {where}{saved}; lower {{lr}} and start over "
            "(a resumed run would take the same step again)",
            settings="lr",
        )

    def end_step(self, state: TrainingState, loss: float) -> None:
        """After a step: count it; save when due or when a signal asked to stop (then raise)."""
        state.step += 1
        state.losses.append(loss)
        if self.path is None:  # no checkpoints: no signal handlers either, so nothing asks to stop
            return
        stop = self._stop_agreed if distributed.current().active else self.stop_signal is not None
        if self._save_due or stop:
            self._save(state, _generator_states(state))
        if stop:
            name = signal.Signals(self.stop_signal).name
            raise TrainingInterrupted(
                f"{name}: training interrupted after step {state.step}; checkpoint saved to {self.path}; "
                "rerun the same command with {resume} to continue",
                settings="resume",
            )

    def finish(self) -> None:
        """After the output is written: the checkpoint has served its purpose."""
        if self.path is not None and distributed.current().is_main:
            self.path.unlink(missing_ok=True)

    # -- file ------------------------------------------------------------------------------------

    def _save(self, state: TrainingState, generators: dict[str, Any]) -> None:
        every_rank = distributed.all_gather(generators)  # every rank takes part; rank 0 writes
        self.last_save = time.monotonic()
        if not distributed.current().is_main:
            return
        tensors = {f"model.{k}": v for k, v in state.model.state_dict().items()}
        optimiser = state.optimiser.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, values in optimiser["state"].items():
            for name, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimiser.{index}.{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        for rank, states in enumerate(every_rank):
            for name, value in states["torch"].items():
                tensors[f"{_rank_prefix(rank)}rng.{name}"] = value
        metadata = {
            "identity": self.identity,
            "step": state.step,
            "losses": state.losses,
            "optimiser_groups": optimiser["param_groups"],
            "optimiser_scalars": scalars,
            "numpy_rng": every_rank[0]["numpy"],
        }
        if len(every_rank) > 1:
            metadata["numpy_rng_of_ranks"] = [states["numpy"] for states in every_rank]
        save_tensors(self.path, tensors, CHECKPOINT_FORMAT, metadata)

    def _restore(self, state: TrainingState, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
        rank = distributed.current().rank
        prefix = _rank_prefix(rank)
        try:
            numpy_states = metadata["numpy_rng_of_ranks"][rank] if rank else metadata["numpy_rng"]
            model_state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
            state.model.load_state_dict(model_state)
            optimiser_state: dict[Any, dict[str, Any]] = {}
            for key, value in tensors.items():
                if key.startswith("optimiser."):
                    _, index, name = key.split(".", 2)
                    optimiser_state.setdefault(int(index), {})[name] = value
            for index, values in metadata["optimiser_scalars"].items():
                optimiser_state.setdefault(int(index), {}).update(values)
            state.optimiser.load_state_dict({"state": optimiser_state, "param_groups": metadata["optimiser_groups"]})
            for name, generator in state.generators.items():
                generator.set_state(tensors[f"{prefix}rng.{name}"])
            torch.set_rng_state(tensors[f"{prefix}rng.global"])
            for name, generator in state.numpy_generators.items():
                generator.bit_generator.state = numpy_states[name]
            state.step = int(metadata["step"])
            state.losses = [float(x) for x in metadata["losses"]]
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            raise SpectfslError(f"{self.path}: corrupt checkpoint ({type(error).__name__}: {error})") from None


def _rank_prefix(rank: int) -> str:
    """Where a rank's generators are kept in a checkpoint: rank 0's as in a one-process run."""
    return f"rank{rank}." if rank else ""


def _generator_states(state: TrainingState) -> dict[str, Any]:
    torch_states = {name: g.get_state() for name, g in state.generators.items()}
    torch_states["global"] = torch.get_rng_state()
    numpy_states = {name: g.bit_generator.state for name, g in state.numpy_generators.items()}
    return {"torch": torch_states, "numpy": json.loads(json.dumps(numpy_states))}


def _difference(found: Any, expected: dict[str, Any]) -> str:
    """Which part of a run's identity differs, in words."""
    if not isinstance(found, dict):
        return "no identity recorded"
    for key in [*expected, *(k for k in found if k not in expected)]:
        if found.get(key) != expected.get(key):
            if key == "world_size":  # a one-process run records none
                before, now = found.get(key) or 1, expected.get(key) or 1
                return f"it was run by {before} processes (world_size), this run has {now}"
            if isinstance(expected.get(key), dict) and isinstance(found.get(key), dict):
                changed = sorted(
                    name
                    for name in set(expected[key]) | set(found[key])
                    if expected[key].get(name) != found[key].get(name)
                )
                return f"its {key} differ: {', '.join(changed)}"
            return f"its {key} differ" if key != "inputs_sha256" else "its inputs differ"
    return "its identity differs"
