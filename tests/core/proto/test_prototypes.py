"""Prototypes, distances, feature transforms and the classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spectfsl.core.proto.prototypes import (
    PrototypicalClassifier,
    class_prototypes,
    leave_one_out_distances,
    squared_distances,
    transform_features,
)
from spectfsl.errors import SpectfslError


class Flatten(nn.Module):
    """A parameter-free 'backbone': the pixels are the features."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


def test_prototypes_are_class_means():
    features = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0], [10.0, 14.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    torch.testing.assert_close(class_prototypes(features, labels, 2), torch.tensor([[1.0, 0.0], [10.0, 12.0]]))


def test_a_class_without_support_is_refused():
    with pytest.raises(SpectfslError):
        class_prototypes(torch.zeros(2, 3), torch.tensor([0, 0]), 2)


def test_squared_euclidean_distances():
    queries, prototypes = torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(
        squared_distances(queries, prototypes), torch.tensor([[0.0, 2.0], [25.0, 13.0]]), atol=1e-4, rtol=0
    )


def test_cl2n_centres_then_normalises():
    features = torch.tensor([[3.0, 0.0], [5.0, 4.0]])
    centre = features.mean(dim=0)
    transformed = transform_features(features, "cl2n", centre)
    torch.testing.assert_close(transformed, torch.tensor([[-0.4472, -0.8944], [0.4472, 0.8944]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(transform_features(features, "l2").norm(dim=1), torch.ones(2))
    assert transform_features(features, "none") is features


def test_leave_one_out_excludes_the_image_itself():
    features = torch.tensor([[0.0], [2.0], [4.0], [9.0]])
    labels = torch.tensor([0, 0, 0, 1])  # the single-image class has no leave-one-out distance
    torch.testing.assert_close(leave_one_out_distances(features, labels, 2), torch.tensor([9.0, 0.0, 9.0]))


def _two_blobs(n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """'top' images are bright in their upper half, 'bottom' images in their lower half."""
    rng = np.random.default_rng(seed)
    top = rng.normal(0.1, 0.05, (n, 4, 4))
    top[:, :2] += 0.8
    bottom = rng.normal(0.1, 0.05, (n, 4, 4))
    bottom[:, 2:] += 0.8
    return np.concatenate([top, bottom]).astype(np.float32), ["top"] * n + ["bottom"] * n


@pytest.mark.parametrize("transform", ["none", "l2", "cl2n"])
def test_nearest_prototype_wins_and_probabilities_sum_to_one(transform):
    support, labels = _two_blobs(5)
    queries, truth = _two_blobs(10, seed=1)
    classifier = PrototypicalClassifier(Flatten(), transform=transform).fit(support, labels)
    prediction = classifier.predict(queries)
    assert classifier.classes == ["top", "bottom"]
    assert [classifier.classes[i] for i in prediction.predicted] == truth
    torch.testing.assert_close(prediction.probabilities.sum(dim=1), torch.ones(20))
    assert (prediction.distances.argmin(dim=1) == prediction.predicted).all()


def test_far_queries_are_out_of_distribution():
    support, labels = _two_blobs(5)
    classifier = PrototypicalClassifier(Flatten(), transform="none").fit(support, labels)
    far = np.full((1, 4, 4), 50.0, np.float32)
    near = support[:1]
    assert classifier.predict(far).distances.min() > classifier.ood_threshold
    assert classifier.predict(near).distances.min() < classifier.ood_threshold


def test_class_names_keep_their_given_order():
    support, labels = _two_blobs(3)
    classifier = PrototypicalClassifier(Flatten(), classes=["bottom", "top"], transform="none").fit(support, labels)
    assert classifier.predict(support[:1]).predicted.item() == 1  # a 'top' image; 'top' is index 1


def test_a_classifier_restores_its_own_exported_state():
    support, labels = _two_blobs(5)
    queries, _ = _two_blobs(4, seed=2)
    fitted = PrototypicalClassifier(Flatten(), transform="cl2n").fit(support, labels)
    state = fitted.state_tensors()
    assert set(state) == {"prototypes", "counts", "centre"}
    restored = PrototypicalClassifier(Flatten(), ["top", "bottom"], transform="cl2n")
    restored.load_state(state, fitted.temperature, fitted.ood_threshold)
    expected, got = fitted.predict(queries), restored.predict(queries)
    torch.testing.assert_close(got.probabilities, expected.probabilities)
    assert restored.ood_threshold == fitted.ood_threshold


def test_an_unfitted_classifier_has_no_state_to_export():
    with pytest.raises(SpectfslError, match="no prototypes"):
        PrototypicalClassifier(Flatten()).state_tensors()
