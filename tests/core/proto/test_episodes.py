"""Episode sampling, fine-tuning and episodic evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spectfsl.core.proto.episodes import (
    EpisodeSampler,
    EpisodeShape,
    FineTuneSettings,
    MethodResult,
    evaluate_episodes,
    fine_tune,
    hand_features,
    resolve_shape,
)
from spectfsl.errors import SpectfslError, SpectfslWarning

CLASSES = ["a", "b", "c"]


def _labels(per_class: int = 12) -> np.ndarray:
    return np.repeat(np.arange(3), per_class)


def test_episode_has_the_requested_shape_and_distinct_images():
    sampler = EpisodeSampler(_labels(), CLASSES, EpisodeShape(3, 2, 4), seed=1)
    episode = sampler.sample()
    assert len(episode.support) == 6 and len(episode.query) == 12
    assert len(set(episode.support) | set(episode.query)) == 18
    assert (np.bincount(episode.support_labels, minlength=3) == 2).all()


def test_patient_split_never_shares_a_patient():
    labels = _labels(12)
    patients = [f"P{i % 6}" for i in range(len(labels))]
    sampler = EpisodeSampler(labels, CLASSES, EpisodeShape(3, 1, 2), seed=0, patients=patients, split_by_patient=True)
    for _ in range(50):
        episode = sampler.sample()
        assert not {patients[i] for i in episode.support} & {patients[i] for i in episode.query}


def test_class_with_too_few_images_names_the_class():
    labels = np.array([0] * 9 + [1] * 9 + [2] * 4)
    with pytest.raises(SpectfslError, match="class 'c' has 4 images.*9"):
        EpisodeSampler(labels, CLASSES, EpisodeShape(3, 3, 6))


def test_hand_features_measure_area_intensity_and_aspect():
    image = np.zeros((1, 10, 10), np.float32)
    image[0, 2:4, 1:9] = 0.5  # 2 x 8 pixels
    features = hand_features(image, spacing_mm=2.0)
    np.testing.assert_allclose(features[0], [16 * 4.0, 0.5, 4.0])


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten()
        )

    def forward(self, images):
        return self.layers(images)


def test_fine_tuning_reduces_the_episode_loss():
    rng = np.random.default_rng(0)
    labels = _labels(10)
    images = rng.normal(0.3, 0.1, (30, 8, 8)).astype(np.float32)
    images[labels == 1, :4] += 0.6
    images[labels == 2, :, :4] += 0.6
    torch.manual_seed(0)
    settings = FineTuneSettings(episodes=40, shape=EpisodeShape(3, 2, 3), lr=1e-2, seed=0, augment=False)
    losses = fine_tune(TinyNet(), torch.from_numpy(images), labels, CLASSES, settings, torch.device("cpu"))
    assert len(losses) == 40
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_methods_are_scored_on_the_very_same_episodes():
    labels = _labels(10)
    noise = torch.randn(len(labels), 3, generator=torch.Generator().manual_seed(0))
    # 2 of 3 classes per episode: which classes are drawn, and which images, vary from episode to episode,
    # so two copies of the same features score alike only when they see the same episodes
    methods = {"noise": (noise, "none"), "same noise": (noise.clone(), "none")}
    first, second = evaluate_episodes(methods, labels, CLASSES, EpisodeShape(2, 1, 3), 50)
    assert first.accuracies == second.accuracies
    assert np.array_equal(first.confusion, second.confusion)
    assert len(set(first.accuracies)) > 1  # the episodes differ, so a shared sampler is what keeps them equal


def test_perfect_features_score_one_and_ci_is_196_sd_over_sqrt_n():
    labels = _labels(10)
    perfect = torch.nn.functional.one_hot(torch.as_tensor(labels)).float() * 10
    [result] = evaluate_episodes({"perfect": (perfect, "none")}, labels, CLASSES, EpisodeShape(3, 1, 3), 50)
    assert result.mean == 1.0 and result.ci95 == 0.0
    assert result.confusion.sum() == 50 * 9 and np.array_equal(np.diag(result.confusion), [150, 150, 150])
    result = MethodResult("x", [0.5, 1.0, 0.75, 0.25])
    assert result.ci95 == pytest.approx(1.96 * np.std([0.5, 1.0, 0.75, 0.25]) / 2)


def test_unset_query_shrinks_to_the_smallest_class_with_one_warning():
    labels = np.array([0] * 12 + [1] * 5 + [2] * 12)
    with pytest.warns(SpectfslWarning, match="class 'b' has 5 images: episodes use 2 query") as caught:
        shape = resolve_shape(EpisodeShape(shot=3), labels, CLASSES)
    assert len(caught) == 1
    assert (shape.way, shape.shot, shape.query) == (3, 3, 2)
    assert EpisodeSampler(labels, CLASSES, shape).sample().query.shape == (6,)


def test_defaults_that_fit_are_the_studys_and_silent(recwarn):
    assert resolve_shape(EpisodeShape(), _labels(12), CLASSES) == EpisodeShape(3, 3, 6)
    assert not recwarn.list


def test_explicit_values_are_kept_and_refused_when_they_do_not_fit():
    labels = np.array([0] * 12 + [1] * 5 + [2] * 12)
    assert resolve_shape(EpisodeShape(3, 3, 6), labels, CLASSES).query == 6
    with pytest.raises(SpectfslError, match="an episode needs shot \\+ query = 9"):
        EpisodeSampler(labels, CLASSES, EpisodeShape(3, 3, 6))


def test_two_classes_give_two_way_episodes():
    with pytest.warns(SpectfslWarning, match="2 classes: episodes are 2-way"):
        shape = resolve_shape(EpisodeShape(), np.repeat([0, 1], 9), ["a", "b"])
    assert shape.way == 2 and shape.query == 6


def test_a_class_without_room_for_a_query_is_refused_by_name():
    with pytest.raises(SpectfslError, match="class 'c' has 3 images; episodes need shot \\+ 1 = 4"):
        resolve_shape(EpisodeShape(), np.array([0] * 9 + [1] * 9 + [2] * 3), CLASSES)
