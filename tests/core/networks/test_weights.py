"""`--weights auto|imagenet|random|PATH`: nothing downloads unasked; RGB conv1 folds into one channel."""

from __future__ import annotations

import pickle

import pytest
import torch
from torchvision.models import resnet18

from spectfsl.core.networks.resnet import GREY_STD, IMAGENET_RGB_STD
from spectfsl.core.networks.weights import resolve_weights
from spectfsl.core.proto.backbones import create_model
from spectfsl.errors import SpectfslError


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("SPECTFSL_WEIGHTS", raising=False)
    return tmp_path


@pytest.fixture
def imagenet_like(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def test_auto_without_cached_weights_falls_back_to_random_with_a_warning_for_the_caller(empty_cache, capsys):
    choice = resolve_weights("auto")
    assert choice.source == "random"
    assert choice.warning.startswith("no ImageNet weights for resnet18 found")
    assert capsys.readouterr().err == ""  # the core returns the warning; the command prints it


def test_auto_uses_weights_named_by_spectfsl_weights(empty_cache, imagenet_like, monkeypatch):
    monkeypatch.setenv("SPECTFSL_WEIGHTS", str(imagenet_like.parent))
    choice = resolve_weights("auto")
    assert choice.source == "imagenet" and choice.path == imagenet_like and len(choice.sha256) == 64


def test_auto_finds_the_torchvision_cache(empty_cache, imagenet_like):
    cache = empty_cache / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    imagenet_like.rename(cache / imagenet_like.name)
    assert resolve_weights("auto").source == "imagenet"


def test_explicit_imagenet_offline_says_where_to_put_the_file(empty_cache, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(SpectfslError, match="copy it to .*resnet18-f37072fd.pth"):
        resolve_weights("imagenet")


def test_rgb_conv1_is_folded_into_one_channel(imagenet_like):
    state = torch.load(imagenet_like, weights_only=True)
    model = create_model("resnet18", resolve_weights(str(imagenet_like)))
    scale = torch.tensor([GREY_STD / s for s in IMAGENET_RGB_STD]).view(1, 3, 1, 1)
    torch.testing.assert_close(model.net.conv1.weight, (state["conv1.weight"] * scale).sum(1, keepdim=True))
    torch.testing.assert_close(model.net.layer4[1].bn2.weight, state["layer4.1.bn2.weight"])


def test_pth_with_arbitrary_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": object()}))
    with pytest.raises(SpectfslError, match="not a loadable state dict"):
        create_model("resnet18", resolve_weights(str(path)))


def test_missing_weights_file_is_refused():
    with pytest.raises(SpectfslError, match="no such file"):
        resolve_weights("/nonexistent/weights.pth")


def test_a_download_prints_nothing_on_stdout(empty_cache, monkeypatch, capsys, imagenet_like):
    def chatty_download(url, progress, check_hash):
        print(f"Downloading: {url}")  # what torch hub writes while it fetches
        target = empty_cache / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
        target.parent.mkdir(parents=True)
        target.write_bytes(imagenet_like.read_bytes())

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", chatty_download)
    choice = resolve_weights("imagenet")
    captured = capsys.readouterr()
    assert choice.source == "imagenet" and captured.out == "" and "Downloading" in captured.err
