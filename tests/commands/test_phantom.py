"""`spectfsl phantom`."""

from __future__ import annotations

import json

import numpy as np

from spectfsl.core.files.loader import load_image


def test_phantom_writes_volume_labels_and_landmarks(cli, tmp_path):
    out = tmp_path / "ph"
    result = cli("phantom", "--out", out, "--patients", 2, "--matrix", 48, "--pixel-mm", 8.5, "--seed", 3)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["P001", "P002", "points.csv", "points3d.csv"]
    assert "P001/spect.dcm@" in (out / "points.csv").read_text()
    assert (out / "points3d.csv").read_text().startswith("image,name,x,y,z\nP001/spect.dcm,")
    volume = load_image(out / "P001" / "spect.dcm")
    labels = load_image(out / "P001" / "labels.npy")
    assert volume.pixels.shape == labels.pixels.shape == (48, 48, 48)
    assert volume.pixel_spacing_mm == labels.pixel_spacing_mm == (8.5, 8.5)
    assert set(np.unique(labels.pixels)) == {0, 1, 2, 3}
    marks = json.loads((out / "P001" / "landmarks.json").read_text())["landmarks"]
    assert {"lv_centre", "lv_apex", "liver_centre"} <= set(marks)


def test_phantom_is_repeatable(cli, tmp_path):
    for name in ("a", "b"):
        assert cli("phantom", "--out", tmp_path / name, "--patients", 1, "--seed", 9).exit_code == 0
    assert (tmp_path / "a/P001/spect.dcm").read_bytes() == (tmp_path / "b/P001/spect.dcm").read_bytes()


def test_existing_folder_is_kept_unless_overwrite(cli, tmp_path):
    out = tmp_path / "ph"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = cli("phantom", "--out", out, "--patients", 1)
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    assert (out / "keep.txt").exists()
    assert cli("phantom", "--out", out, "--patients", 1, "--overwrite").exit_code == 0
    assert not (out / "keep.txt").exists() and (out / "P001" / "spect.dcm").exists()
