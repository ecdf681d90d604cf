"""Precision, torch.compile and channels-last: the plain path's results in fp32, close ones in bf16."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectfsl.core.acceleration import Acceleration, to_device
from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.prototypes import PrototypicalClassifier
from spectfsl.errors import SpectfslError

CLASSES = ["myocardium", "ventricles", "liver"]


def _classifier(seed: int = 0) -> PrototypicalClassifier:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    classifier = PrototypicalClassifier(create_model("resnet18"), CLASSES, "cl2n", "cpu", 32)
    support = rng.random((9, 32, 32)).astype(np.float32)
    support[3:6] *= 3  # three classes the random network can tell apart
    support[6:] = support[6:] ** 4
    return classifier.fit(support, CLASSES * 3)


def _queries() -> np.ndarray:
    queries = np.random.default_rng(1).random((12, 32, 32)).astype(np.float32)
    queries[4:8] *= 3
    queries[8:] = queries[8:] ** 4
    return queries


def test_channels_last_in_fp32_gives_the_plain_results():
    plain, fast = _classifier(), _classifier()
    fast.accelerate(Acceleration(channels_last=True))
    expected, got = plain.predict(_queries()), fast.predict(_queries())
    torch.testing.assert_close(got.probabilities, expected.probabilities, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got.distances, expected.distances, rtol=1e-4, atol=1e-5)


def test_bf16_rounds_the_network_but_keeps_float32_results_and_the_same_classes():
    plain, fast = _classifier(), _classifier()
    fast.accelerate(Acceleration(precision="bf16"))
    expected, got = plain.predict(_queries()), fast.predict(_queries())
    assert got.probabilities.dtype == torch.float32
    assert torch.equal(got.probabilities.argmax(1), expected.probabilities.argmax(1))
    assert (got.probabilities - expected.probabilities).abs().max() < 0.1
    assert not torch.equal(got.distances, expected.distances)  # bf16 really ran


def test_a_prepared_prnet_keeps_its_class_and_weights_names_and_gives_float32_positions():
    torch.manual_seed(0)
    model = PRNet(16).eval()
    keys = list(model.state_dict())
    patches = torch.rand(5, 1, 16, 16)
    with torch.inference_mode():
        expected = model.position(patches)
    Acceleration(precision="bf16", channels_last=True).prepare(model, "position")
    with torch.inference_mode():
        got = model.position(patches)
    assert type(model) is PRNet and list(model.state_dict()) == keys
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0.05, atol=0.05)


@pytest.mark.slow
def test_compiled_network_in_fp32_gives_the_plain_results():
    torch.manual_seed(0)
    model = PRNet(16).eval()
    patches = torch.rand(4, 1, 16, 16)
    with torch.inference_mode():
        expected = model.position(patches)
    Acceleration(compile=True).prepare(model, "position")
    with torch.inference_mode():
        got = model.position(patches)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_an_unknown_precision_is_refused():
    with pytest.raises(SpectfslError, match="precision must be one of fp32, bf16, fp16"):
        Acceleration(precision="fp8")


def test_to_device_gives_float32_on_the_cpu():
    batch = to_device(torch.zeros(2, 3, dtype=torch.float64), torch.device("cpu"))
    assert batch.dtype == torch.float32 and batch.device.type == "cpu"


def test_channels_last_applies_to_a_3d_network_as_its_5d_layout():
    torch.manual_seed(0)
    model = PRNet(16, 4, 32, dims=3).eval()
    cubes = torch.rand(2, 1, 16, 16, 16)
    with torch.inference_mode():
        expected = model.position(cubes)
    Acceleration(channels_last=True).prepare(model, "position")
    assert model.encoders[0][0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        torch.testing.assert_close(model.position(cubes), expected, rtol=1e-4, atol=1e-5)
