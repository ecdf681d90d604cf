"""The built-in models' recipes: which recipe a model has, what it trains on, what its card says."""

from __future__ import annotations

import hashlib
import json

import pytest

from spectfsl.core.files.catalogue import CATALOGUE, named
from spectfsl.core.models.anatomy_recipe import AnatomyRecipe
from spectfsl.core.models.make import make_builtin, recipe_for
from spectfsl.core.models.prnet_recipe import PRNetRecipe, recipe_data, recipe_volumes
from spectfsl.core.models.segment_recipe import SegmentRecipe


def test_every_catalogued_model_has_a_recipe_of_its_kind_with_the_seed_and_steps_asked():
    kinds = {"segment": SegmentRecipe, "prnet": PRNetRecipe, "anatomy": AnatomyRecipe}
    for model in CATALOGUE:
        recipe = recipe_for(model, seed=5, steps=20)
        assert isinstance(recipe, kinds[model.kind])
        assert recipe.total_steps == 20
        if model.kind != "segment":
            assert recipe.dims == model.dims and recipe.seed == 5


def test_the_volumes_are_phantoms_of_their_own_seed_then_the_six_physionet_volumes():
    recipe = PRNetRecipe(dims=3, phantoms=2)
    volumes = recipe_volumes(None, recipe)  # None: the copy shipped inside the package
    assert len(volumes) == 2 + 6
    assert [v.patient for v in volumes[:2]] == ["P001", "P002"]
    assert all(v.is_volume for v in volumes)
    other_seed = recipe_volumes(None, PRNetRecipe(dims=3, phantoms=1, seed=1, real=False))
    assert len(other_seed) == 1 and not (other_seed[0].pixels == volumes[0].pixels).all()
    data = json.dumps(recipe_data(recipe))
    assert "CC BY 4.0" in data and "10.13026/ce2z-dw74" in data
    assert "PhysioNet" not in json.dumps(recipe_data(PRNetRecipe(real=False)))


@pytest.mark.slow
def test_make_writes_the_model_and_a_card_naming_its_sha256(tmp_path):
    out = tmp_path / "anatomy.safetensors"
    card = make_builtin(named("anatomy-2d"), None, out, seed=0, steps=2, command="spectfsl models make anatomy-2d")
    assert card["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert card["recipe"] == "spectfsl models make anatomy-2d" and card["seed"] == 0
    assert json.loads(out.with_name("anatomy.card.json").read_text()) == json.loads(json.dumps(card))
