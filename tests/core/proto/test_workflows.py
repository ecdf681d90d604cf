"""Few-shot workflows: support choice, fitting a bank, streaming predictions, episodic evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spectfsl.core.data.datasets import LabelledImages, read_dataset
from spectfsl.core.files.formats import save_npy
from spectfsl.core.image import SpectImage
from spectfsl.core.processing.preprocess import NORMALISATION
from spectfsl.core.proto.episodes import EpisodeShape, FineTuneSettings
from spectfsl.core.proto.evaluation import EvaluateSettings, evaluate_folder, weights_embedding
from spectfsl.core.proto.workflows import FitSettings, choose_support, fit_bank, predict_images, resolve_transform
from spectfsl.errors import SpectfslError

CLASSES = ("bright", "dark", "ring")


def _crop(kind: str, rng: np.random.Generator) -> np.ndarray:
    rows, cols = np.indices((16, 16))
    radius = np.hypot(rows - 7.5, cols - 7.5)
    base = {"bright": radius < 6, "dark": radius < 3, "ring": (radius > 4) & (radius < 7)}[kind]
    return (base * (1.0 if kind != "dark" else 0.5) + rng.normal(0, 0.03, (16, 16))).clip(0).astype(np.float32)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Three classes of 16 x 16 crops from 4 patients, 3 crops per class per patient, as `prepare` writes."""
    root, rng = tmp_path_factory.mktemp("fewshot"), np.random.default_rng(0)
    for kind in CLASSES:
        for patient in range(4):
            for index in range(3):
                crop = SpectImage(_crop(kind, rng), (2.0, 2.0), None, "s", f"P{patient}", normalisation=NORMALISATION)
                save_npy(root / kind / f"P{patient}_{index}.npy", crop)
    return root


def test_choose_support_draws_shots_per_class_repeatably(dataset):
    data = read_dataset(dataset)
    support = choose_support(data, 2, seed=1)
    assert sorted(support.labels) == sorted(list(CLASSES) * 2)
    assert support.paths == choose_support(data, 2, seed=1).paths
    assert choose_support(data, None, seed=1) is data
    with pytest.raises(SpectfslError, match="fewer than support 13"):
        choose_support(data, 13, seed=0)


def test_auto_transform_is_the_measured_choice():
    assert resolve_transform("auto", fine_tuned=True) == "cl2n"
    assert resolve_transform("auto", fine_tuned=False) == "l2"
    assert resolve_transform("none", fine_tuned=True) == "none"


def test_fit_bank_describes_what_it_fitted(dataset):
    data = read_dataset(dataset)
    fine_tune = FineTuneSettings(episodes=2, shape=EpisodeShape(3, 1, 1))
    settings = FitSettings(weights="random", shots=2, fine_tune=fine_tune)
    classifier, info, weights = fit_bank(data, settings)
    assert weights.source == "random" and weights.warning is None
    assert info.classes == list(CLASSES) and info.fine_tuned and info.transform == "cl2n"
    assert info.size == info.input_size == 16 and info.spacing_mm == 2.0
    assert classifier.counts.tolist() == [2, 2, 2] and len(info.training["losses"]) == 2


def test_predictions_stream_in_input_order_with_every_frame_of_a_volume(dataset, tmp_path):
    data = read_dataset(dataset)
    classifier, info, _ = fit_bank(data, FitSettings(weights="random", fine_tune=FineTuneSettings(episodes=0)))
    volume = np.stack([_crop("ring", np.random.default_rng(5)), _crop("bright", np.random.default_rng(6))])
    save_npy(tmp_path / "vol.npy", SpectImage(volume, (2.0, 2.0), 2.0, "v", "P9", normalisation=NORMALISATION))
    single = str(dataset / "dark" / "P0_0.npy")
    rows = list(predict_images(classifier, info, [single, str(tmp_path / "vol.npy")], batch_size=2))
    assert [(Path(r["path"]).name, r["frame"]) for r in rows] == [("P0_0.npy", None), ("vol.npy", 0), ("vol.npy", 1)]
    assert [r["predicted"] for r in rows] == ["dark", "ring", "bright"]
    assert all(abs(sum(r[f"p_{c}"] for c in CLASSES) - 1) < 1e-5 for r in rows)


def test_streamed_predictions_from_files_equal_the_classifier_on_the_arrays(dataset):
    """The optimised file path (fast .npy reader, whole-pixel windows, batched rows) changes no number."""
    data = read_dataset(dataset)
    classifier, info, _ = fit_bank(data, FitSettings(weights="random", fine_tune=FineTuneSettings(episodes=0)))
    rows = list(predict_images(classifier, info, [str(dataset)], batch_size=64))  # one batch, as below
    paths = [row["path"] for row in rows]
    assert sorted(paths) == sorted(str(path) for path in dataset.glob("*/*.npy"))
    direct = classifier.predict(np.stack([np.load(path) for path in paths]))
    for row, probabilities, distances in zip(rows, direct.probabilities.tolist(), direct.distances.tolist()):
        assert [row[f"p_{name}"] for name in info.classes] == probabilities
        assert row["distance"] == distances[info.classes.index(row["predicted"])]


def test_evaluation_runs_every_method_on_patient_disjoint_episodes(dataset):
    torch.manual_seed(0)
    embedding = weights_embedding("random", seed=0)
    settings = EvaluateSettings(EpisodeShape(3, 1, 2), episodes=20, split_by_patient=True, baselines=True)
    result = evaluate_folder(dataset, embedding, settings)
    assert [m.name for m in result.methods] == [
        "prototypical network",
        "raw pixels (nearest centroid)",
        "hand features (nearest centroid)",
    ]
    assert result.images == 36 and result.patients == 4 and result.source["transform"] == "l2"
    document = result.as_dict()
    assert document["split_by"] == "patient" and document["way"] == 3 and len(document["methods"]) == 3
    assert all(0 <= m["accuracy"] <= 1 for m in document["methods"])
    summary, confusion = result.tables()
    assert len(summary.rows) == 3 and summary.header[:3] == ("method", "accuracy", "95% CI ±")
    assert sum(int(c) for row in confusion.rows for c in row[1:]) == 20 * 3 * 2


def test_labelled_images_subset_keeps_everything_aligned():
    data = LabelledImages(np.zeros((3, 4, 4), np.float32), ["a", "b", "a"], ["P1", "P2", "P3"], ["x", "y", "z"], 2.0)
    subset = data.subset([2, 1])
    assert subset.labels == ["a", "b"] and subset.patients == ["P3", "P2"] and subset.paths == ["z", "y"]
