"""`spectfsl models list | show | make`: the built-in models, their cards and their recipe."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA, requires_real_data


def test_list_names_every_built_in_model_with_its_sha256(cli_json):
    from spectfsl.core.files.catalogue import CATALOGUE, card

    rows = cli_json("models", "list")
    assert [row["name"] for row in rows] == [model.name for model in CATALOGUE]
    assert all(row["sha256"] == card(model)["sha256"] for row, model in zip(rows, CATALOGUE))
    assert all(0 < row["size_mb"] <= 30 for row in rows)


def test_show_prints_the_card_and_checks_the_file(cli, cli_json):
    document = cli_json("models", "show", "segment-3d")
    assert document["file_matches_card"] is True and "CC BY 4.0" in document["licence"]
    assert document["recipe"].startswith("spectfsl models make segment-3d")
    unknown = cli("models", "show", "nope")
    assert unknown.exit_code == 2 and "no built-in model 'nope'" in unknown.stderr


@requires_real_data
@pytest.mark.slow
def test_the_recipe_remakes_the_same_file_from_the_same_seed(cli, tmp_path):
    data = SHARED_DATA / "mps-physionet" / "nifti"
    files = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.safetensors"
        made = cli("-q", "models", "make", "segment-3d", "--data", data, "--out", out, "--steps", 2, "--seed", 3)
        assert made.exit_code == 0, made.stderr
        files.append(out)
    cards = [json.loads(path.with_name(path.stem + ".card.json").read_text()) for path in files]
    assert cards[0]["sha256"] == cards[1]["sha256"] and cards[0]["seed"] == 3
    assert files[0].read_bytes() == files[1].read_bytes()
    other = tmp_path / "c.safetensors"
    assert cli("-q", "models", "make", "segment-3d", "--data", data, "--out", other, "--steps", 2).exit_code == 0
    assert other.read_bytes() != files[0].read_bytes()  # another seed, another model
    again = cli("models", "make", "segment-3d", "--data", data, "--out", files[0], "--steps", 2)
    assert again.exit_code == 2 and "exists" in again.stderr


def test_the_recipe_refuses_a_folder_without_the_physionet_volumes(cli, tmp_path):
    made = cli("models", "make", "segment-3d", "--data", tmp_path, "--out", tmp_path / "m.safetensors", "--steps", 1)
    assert made.exit_code == 2 and "_0000.nii.gz" in made.stderr
    assert not (tmp_path / "m.safetensors").exists()


def test_the_recipe_runs_on_the_volumes_shipped_in_the_package(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SPECTFSL_DATA", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)  # no ../shared/data either
    out = tmp_path / "m.safetensors"
    made = cli("-q", "models", "make", "segment-3d", "--out", out, "--steps", 1)
    assert made.exit_code == 0, made.stderr
    card = json.loads(out.with_name("m.card.json").read_text())
    assert "--data" not in card["recipe"] and "PhysioNet" in json.dumps(card["data"])
