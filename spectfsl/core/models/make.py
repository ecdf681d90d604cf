"""`spectfsl models make`: run a built-in model's recipe, write the model file and its card."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from spectfsl.core.files.catalogue import BuiltinModel, model_card, write_card
from spectfsl.core.models.anatomy_recipe import AnatomyRecipe, anatomy_card, make_anatomy
from spectfsl.core.models.prnet_recipe import PRNetRecipe, make_prnet, prnet_card
from spectfsl.core.models.segment_recipe import SegmentRecipe, make_segmenter, segment_card
from spectfsl.core.prnet.anatomy_file import save_anatomy
from spectfsl.core.prnet.model_file import save_prnet
from spectfsl.core.provenance import source_commit
from spectfsl.core.segment.model_file import save_segmenter

Recipe = SegmentRecipe | PRNetRecipe | AnatomyRecipe


def recipe_for(model: BuiltinModel, seed: int = 0, steps: int | None = None) -> Recipe:
    """The recipe of a built-in model with the seed (and, when given, the number of steps)."""
    if model.kind == "segment":
        recipe = SegmentRecipe().with_seed(seed)
        return replace(recipe, training=replace(recipe.training, steps=steps)) if steps is not None else recipe
    recipe = (AnatomyRecipe if model.kind == "anatomy" else PRNetRecipe)(dims=model.dims, seed=seed)
    return replace(recipe, steps=steps) if steps is not None else recipe


def make_builtin(
    model: BuiltinModel,
    data: str | os.PathLike | None,
    out: str | os.PathLike,
    seed: int = 0,
    steps: int | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float], None] | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Train `model` by its recipe on the PhysioNet folder `data` (None: the volumes shipped inside the
    package), write it to `out` and its card
    beside it (`command`: how the card says it was made); returns the card. `on_step(done, loss)`
    reports progress."""
    recipe = recipe_for(model, seed, steps)
    if isinstance(recipe, SegmentRecipe):
        save_segmenter(out, make_segmenter(data, recipe, device, on_step))
        specific = segment_card(recipe)
    elif isinstance(recipe, AnatomyRecipe):

        def each_step(step: int, steps: int, loss: float) -> None:
            if on_step is not None:
                on_step(step, loss)

        save_anatomy(out, *make_anatomy(data, recipe, device, each_step))
        specific = anatomy_card(recipe)
    else:
        iters = recipe.settings().iters

        def report(epoch: int, iteration: int, loss: float) -> None:
            if on_step is not None:
                on_step(epoch * iters + iteration + 1, loss)

        save_prnet(out, *make_prnet(data, recipe, device, report))
        specific = prnet_card(recipe)
    commit = source_commit()
    return write_card(Path(out), lambda sha256, size: model_card(model, specific, seed, command, commit, sha256, size))
