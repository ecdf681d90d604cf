"""The recipe of the built-in anatomy-embedding models: unlabelled volumes, self-supervised.

The same training volumes as the built-in PRNet (phantom patients of their own seed and the six
PhysioNet volumes, CC BY 4.0, no labels); `EmbeddingSettings`' defaults for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from spectfsl.core.image import SpectImage
from spectfsl.core.models.prnet_recipe import recipe_data, recipe_volumes
from spectfsl.core.networks.anatomy import AnatomyEmbedding
from spectfsl.core.prnet.anatomy_file import AnatomyInfo
from spectfsl.core.prnet.embedding import (
    SIMILARITY_WEIGHT,
    TEMPLATE_PX,
    EmbeddingSettings,
    default_settings,
    train_embedding,
)
from spectfsl.core.prnet.grid import grid_images, grid_volumes


@dataclass(frozen=True)
class AnatomyRecipe:
    """What a built-in anatomy model is trained on: `phantoms` simulated patients and, with `real`,
    the PhysioNet volumes; `steps` training steps of `EmbeddingSettings` for `dims`."""

    dims: int = 3
    seed: int = 0
    phantoms: int = 16
    real: bool = True
    steps: int = 1500

    @property
    def total_steps(self) -> int:
        return self.steps

    def settings(self) -> EmbeddingSettings:
        return replace(default_settings(self.dims), steps=self.steps, seed=self.seed)


def make_anatomy(
    physionet: str | Path | None,
    recipe: AnatomyRecipe = AnatomyRecipe(),
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[AnatomyEmbedding, AnatomyInfo]:
    """Train a built-in anatomy model from the recipe; the same seed, data, machine and thread count
    give the same weights."""
    return train_anatomy(recipe_volumes(physionet, recipe), recipe, device, on_step)


def train_anatomy(
    volumes: list[SpectImage],
    recipe: AnatomyRecipe,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[AnatomyEmbedding, AnatomyInfo]:
    """The recipe's training on the given volumes (its own, or a subset held out for evaluation)."""
    settings = recipe.settings()
    grids = (grid_volumes if recipe.dims == 3 else grid_images)(volumes, settings.pixel_mm)
    model = train_embedding(grids, settings, on_step, device)
    info = AnatomyInfo(
        dims=settings.dims,
        channels=settings.channels,
        features=settings.features,
        pixel_mm=settings.pixel_mm,
        template_px=TEMPLATE_PX[settings.dims],
        similarity_weight=SIMILARITY_WEIGHT,
        training={"settings": asdict(settings), "recipe": asdict(recipe), "volumes": len(grids)},
    )
    return model.cpu(), info


def anatomy_card(recipe: AnatomyRecipe) -> dict:
    """What a built-in anatomy model's card says beyond the common fields (`catalogue.model_card`)."""
    settings = recipe.settings()
    what = "volumes (x,y,z points)" if recipe.dims == 3 else "2D slices (x,y points; PATH@N)"
    return {
        "purpose": f"One-shot landmark localisation in {what} with no training (`prnet locate`, model "
        f"`builtin:anatomy-{recipe.dims}d`): dense anatomical embeddings, refined by the reference patch's "
        "normalised cross-correlation.",
        "made_for": f"myocardial-perfusion SPECT resampled to {settings.pixel_mm:g} mm, transaxial",
        "data": recipe_data(recipe),
        "settings": asdict(recipe) | {"training": asdict(settings)},
    }
