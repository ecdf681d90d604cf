"""The built-in models' catalogue: files found inside the package, checked against their cards."""

from __future__ import annotations

import json
import shutil

import pytest

from spectfsl.core.files import catalogue
from spectfsl.core.files.store import sha256_of
from spectfsl.errors import SpectfslError


def test_every_built_in_model_ships_with_a_card_whose_sha256_matches_its_file():
    for model in catalogue.CATALOGUE:
        path = catalogue.verified_path(model)
        card = catalogue.card(model)
        assert card["sha256"] == sha256_of(path) and card["name"] == model.name
        assert card["size_bytes"] == path.stat().st_size
        assert {"data", "licence", "recipe", "seed", "commit", "scores"} <= set(card)
    total = sum((catalogue.models_folder() / m.file_name).stat().st_size for m in catalogue.CATALOGUE)
    assert total <= 30e6  # the budget for every shipped file together


@pytest.fixture
def copied_models(tmp_path, monkeypatch):
    """The shipped models and cards copied to a folder the test may damage."""
    folder = tmp_path / "models"
    shutil.copytree(catalogue.models_folder(), folder)
    monkeypatch.setattr(catalogue, "models_folder", lambda: folder)
    return folder


def test_a_damaged_built_in_file_is_refused_naming_both_digests(copied_models):
    model = catalogue.named("segment-3d")
    with open(copied_models / model.file_name, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 1]))
    with pytest.raises(SpectfslError, match="damaged or was replaced"):
        catalogue.verified_path(model)


def test_a_missing_built_in_file_or_card_is_a_clear_error(copied_models):
    model = catalogue.named("segment-3d")
    (copied_models / model.card_name).unlink()
    with pytest.raises(SpectfslError, match="card .* is missing"):
        catalogue.verified_path(model)
    (copied_models / model.file_name).unlink()
    with pytest.raises(SpectfslError, match="missing from the installation"):
        catalogue.verified_path(model)


def test_a_card_that_is_not_json_is_refused(copied_models):
    model = catalogue.named("segment-3d")
    (copied_models / model.card_name).write_text("{not json")
    with pytest.raises(SpectfslError, match="unreadable card"):
        catalogue.card(model)


def test_built_in_models_are_found_by_name_kind_and_dimensionality():
    assert catalogue.builtin_for("segment", 3).name == "segment-3d"
    with pytest.raises(SpectfslError, match="no built-in segment model for 2D inputs"):
        catalogue.builtin_for("segment", 2)
    with pytest.raises(SpectfslError, match="no built-in model 'nope'"):
        catalogue.named("nope")


def test_a_written_card_carries_the_files_sha256(tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights")
    catalogue.write_card(model, lambda sha256, size: {"sha256": sha256, "size_bytes": size})
    card = json.loads((tmp_path / "m.card.json").read_text())
    assert card == {"sha256": sha256_of(model), "size_bytes": 7}
