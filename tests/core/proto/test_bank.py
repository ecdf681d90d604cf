"""Bank files: round trip and every refusal on load."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from spectfsl.core.files.store import load_tensors, save_tensors, sha256_of
from spectfsl.core.networks.weights import WeightsChoice
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.bank import BANK_FORMAT, BankInfo, load_bank, save_bank
from spectfsl.core.proto.prototypes import PrototypicalClassifier
from spectfsl.errors import SpectfslError


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    support = rng.random((6, 32, 32)).astype(np.float32)
    labels = ["liver", "myocardium", "liver", "myocardium", "liver", "myocardium"]
    classifier = PrototypicalClassifier(create_model("resnet18"), transform="cl2n", input_size=32).fit(support, labels)
    info = BankInfo(
        classes=classifier.classes,
        backbone="resnet18",
        weights="random",
        weights_sha256=None,
        fine_tuned=False,
        input_size=32,
        size=32,
        spacing_mm=2.0,
        transform="cl2n",
        temperature=classifier.temperature,
        ood_threshold=classifier.ood_threshold,
    )
    return classifier, info, rng.random((3, 32, 32)).astype(np.float32)


@pytest.fixture
def bank_file(tmp_path, fitted):
    classifier, info, _ = fitted
    path = tmp_path / "bank.safetensors"
    save_bank(path, classifier, info, WeightsChoice("random"))
    return path


def test_round_trip_gives_the_same_predictions(bank_file, fitted):
    classifier, info, queries = fitted
    loaded, loaded_info = load_bank(bank_file)
    assert loaded_info.classes == info.classes and loaded_info.transform == "cl2n"
    expected, got = classifier.predict(queries), loaded.predict(queries)
    torch.testing.assert_close(got.probabilities, expected.probabilities)
    torch.testing.assert_close(got.distances, expected.distances)
    assert loaded.ood_threshold == pytest.approx(classifier.ood_threshold)


def _rewrite(path, change_tensors=None, **metadata_changes):
    tensors, metadata = load_tensors(path, BANK_FORMAT)
    if change_tensors:
        change_tensors(tensors)
    file_format = metadata.pop("format")
    metadata.pop("spectfsl_version")
    metadata.update(metadata_changes)
    save_tensors(path, tensors, file_format, metadata)


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(classes=["liver", "myocardium", "ventricles"]), "prototypes do not match"),
        (dict(classes=["liver", "liver"]), "repeated"),
        (dict(backbone="vit_huge"), "unknown backbone"),
        (dict(transform="pca"), "unknown feature transform"),
        (dict(normalisation="max"), "normalisation"),
        (dict(distance="cosine"), "distance"),
    ],
)
def test_inconsistent_metadata_is_refused(bank_file, change, message):
    _rewrite(bank_file, **change)
    with pytest.raises(SpectfslError, match=message):
        load_bank(bank_file)


def test_missing_centring_vector_is_refused(bank_file):
    _rewrite(bank_file, change_tensors=lambda tensors: tensors.pop("centre"))
    with pytest.raises(SpectfslError, match="centring vector"):
        load_bank(bank_file)


def test_backbone_weights_of_another_shape_are_refused(bank_file):
    _rewrite(
        bank_file,
        change_tensors=lambda tensors: tensors.update({"backbone.net.conv1.weight": torch.zeros(64, 3, 7, 7)}),
    )
    with pytest.raises(SpectfslError, match="do not fit"):
        load_bank(bank_file)


def test_missing_named_weights_are_refused(bank_file):
    def drop_backbone(tensors):
        for key in [k for k in tensors if k.startswith("backbone.")]:
            tensors.pop(key)

    _rewrite(bank_file, change_tensors=drop_backbone, weights="imagenet:resnet18-f37072fd.pth", weights_sha256="0" * 64)
    with pytest.raises(SpectfslError, match="not found here"):
        load_bank(bank_file)


def test_other_format_newer_version_and_garbage_are_refused(tmp_path, bank_file):
    save_tensors(tmp_path / "model.safetensors", {"x": torch.zeros(1)}, "spectfsl.prnet/1", {})
    with pytest.raises(SpectfslError, match="is a spectfsl.prnet/1 file"):
        load_bank(tmp_path / "model.safetensors")
    save_tensors(tmp_path / "future.safetensors", {"x": torch.zeros(1)}, "spectfsl.bank/2", {})
    with pytest.raises(SpectfslError, match="not supported"):
        load_bank(tmp_path / "future.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(SpectfslError, match="not a readable safetensors"):
        load_bank(tmp_path / "junk.safetensors")
    with pytest.raises(SpectfslError, match="no such file"):
        load_bank(tmp_path / "absent.safetensors")


def test_bank_of_named_weights_reloads_them_by_sha256(tmp_path, fitted, monkeypatch):
    classifier, info, queries = fitted
    weights_file = tmp_path / "backbone.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in classifier.backbone.state_dict().items()}, str(weights_file))
    choice = WeightsChoice("file", weights_file, sha256_of(weights_file))
    save_bank(
        tmp_path / "bank.safetensors",
        classifier,
        replace(info, weights=choice.describe(), weights_sha256=choice.sha256),
        choice,
    )
    _, metadata = load_tensors(tmp_path / "bank.safetensors", BANK_FORMAT)
    loaded, _ = load_bank(tmp_path / "bank.safetensors")
    torch.testing.assert_close(loaded.predict(queries).distances, classifier.predict(queries).distances)
    weights_file.write_bytes(weights_file.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with pytest.raises(SpectfslError, match="not found here"):
        load_bank(tmp_path / "bank.safetensors")
