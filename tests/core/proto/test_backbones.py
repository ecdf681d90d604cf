"""Backbones by name: the registry and the one factory that builds them with their weights."""

from __future__ import annotations

import pytest
import torch

from spectfsl.core.networks.prnet import PRNet
from spectfsl.core.networks.registry import BACKBONES, backbone_class
from spectfsl.core.networks.weights import WeightsChoice, resolve_weights
from spectfsl.core.prnet.model_file import PRNetInfo, save_prnet
from spectfsl.core.proto.backbones import create_model
from spectfsl.errors import SpectfslError


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_registered_backbone_embeds_one_channel_images(name):
    model = create_model(name).eval()
    with torch.inference_mode():
        features = model(torch.rand(2, 1, 32, 32))
    assert features.shape == (2, model.prnet.hidden if name == "prnet" else model.feature_dim)
    assert isinstance(model.options, dict) and isinstance(model, backbone_class(name))


def test_an_unknown_backbone_names_the_known_ones():
    with pytest.raises(SpectfslError, match="unknown backbone 'vgg' \\(known: prnet, resnet18\\)"):
        create_model("vgg")


def test_a_prnet_encoder_is_built_from_a_prnet_model_file(tmp_path):
    torch.manual_seed(3)
    trained = PRNet(32, channels=4).eval()
    save_prnet(tmp_path / "m.safetensors", trained, PRNetInfo(32, 4, trained.hidden, 4.0, 100.0, 0.0))
    encoder = create_model("prnet", resolve_weights(str(tmp_path / "m.safetensors"), "prnet")).eval()
    patches = torch.rand(3, 1, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(encoder(patches), trained.embedding(patches))
    assert encoder.options == {"patch": 32, "channels": 4, "hidden": trained.hidden}


def test_weights_that_do_not_fit_are_refused_naming_the_file(tmp_path):
    from safetensors.torch import save_file

    save_file({"conv1.weight": torch.zeros(3, 3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(SpectfslError, match="w.safetensors: weights do not fit resnet18"):
        create_model("resnet18", WeightsChoice("file", tmp_path / "w.safetensors"))
