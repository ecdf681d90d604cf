"""Hostile bank and model files: every metadata entry given wrong JSON types, huge or non-finite
values; every tensor of the file's own (a bank's prototypes) made NaN, reshaped, retyped and emptied,
and every network parameter reshaped and also made NaN, retyped or emptied (one of the three, drawn
per parameter with a fixed seed: a network holds about ninety weights and biases, and each kind meets
every change). Each file is refused with the user error, or loads and then works;
nothing else (no internal error, no giant allocation)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from spectfsl.core.files.store import load_tensors, save_tensors
from spectfsl.core.image import SpectImage
from spectfsl.core.networks.anatomy import AnatomyEmbedding
from spectfsl.core.networks.weights import WeightsChoice
from spectfsl.core.prnet.anatomy_file import ANATOMY_FORMAT, AnatomyInfo, load_anatomy, save_anatomy
from spectfsl.core.prnet.embedding import AnatomyLocaliser
from spectfsl.core.prnet.grid import to_grid
from spectfsl.core.prnet.locate import predicted_offset
from spectfsl.core.prnet.model_file import PRNET_FORMAT, load_prnet, save_prnet
from spectfsl.core.prnet.training import PRNetSettings, train_model
from spectfsl.core.proto.backbones import create_model
from spectfsl.core.proto.bank import BANK_FORMAT, BankInfo, load_bank, save_bank
from spectfsl.core.proto.prototypes import PrototypicalClassifier
from spectfsl.errors import SpectfslError

pytestmark = pytest.mark.slow  # seconds each: the fast suite (-m 'not slow') leaves them to CI

WRONG_VALUES = [0, -1, 1e300, 10**12, "x", "x" * 100_000, [], {}, None, True, [1, "a"], {"a": 1}, float("nan")]
TENSOR_CHANGES = ("nan", "shape", "dtype", "empty")
IMAGE = SpectImage(np.random.default_rng(0).random((48, 48)).astype(np.float32) * 100, (4.0, 4.0), None, "x", "P")
QUERIES = np.random.default_rng(1).random((3, 32, 32)).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A bank on a small PRNet backbone (random weights, stored in the bank) and a PRNet model."""
    folder = tmp_path_factory.mktemp("files")
    torch.manual_seed(0)
    backbone = create_model("prnet", patch=32, channels=4, hidden=64)
    support = np.random.default_rng(0).random((6, 32, 32)).astype(np.float32)
    labels = ["liver", "myocardium"] * 3
    classifier = PrototypicalClassifier(backbone, transform="cl2n", input_size=32).fit(support, labels)
    info = BankInfo(
        classes=classifier.classes,
        backbone="prnet",
        weights="random",
        weights_sha256=None,
        fine_tuned=False,
        input_size=32,
        size=32,
        spacing_mm=2.0,
        transform="cl2n",
        temperature=classifier.temperature,
        ood_threshold=classifier.ood_threshold,
        backbone_options=backbone.options,
        crop_profile={"tissue_fraction": [0, 1], "background_fraction": [0, 1], "tissue_mean": [0, 2]}
        | {"roughness": [0, 9]},
    )
    save_bank(folder / "bank.safetensors", classifier, info, WeightsChoice("random"))
    model, model_info = train_model([to_grid(IMAGE, 4.0)], PRNetSettings(epochs=1, iters=1, batch_size=2, channels=4))
    save_prnet(folder / "model.safetensors", model, model_info)
    save_anatomy(folder / "anatomy.safetensors", AnatomyEmbedding(2, 4, 8), AnatomyInfo(2, 4, 8, 4.0, 9, 0.5))
    return {
        BANK_FORMAT: folder / "bank.safetensors",
        PRNET_FORMAT: folder / "model.safetensors",
        ANATOMY_FORMAT: folder / "anatomy.safetensors",
    }


def use_bank(path):
    classifier, _ = load_bank(path)
    classifier.predict(QUERIES)


def use_model(path):
    model, info = load_prnet(path)
    grid = to_grid(IMAGE, info.pixel_mm)
    predicted_offset(model, info, grid, (10.0, 10.0), grid, (20.0, 20.0))


def use_anatomy(path):
    localiser = AnatomyLocaliser(*load_anatomy(path))
    grid = to_grid(IMAGE, localiser.pixel_mm)
    localiser.locate(grid, np.array([10.0, 10.0]), [grid], match_radius_mm=20.0)


def cases(path, file_format):
    """(description, tensors, metadata) for every hostile variant of one file."""
    tensors, metadata = load_tensors(path, file_format)
    metadata = {k: v for k, v in metadata.items() if k not in ("format", "spectfsl_version")}
    for key in metadata:
        for value in WRONG_VALUES:
            yield f"metadata {key}={str(value)[:12]!r}", tensors, {**metadata, key: value}
    draw = random.Random(0)
    for name, tensor in tensors.items():
        changes = TENSOR_CHANGES  # the file's own tensors (a bank's prototypes, counts, centre): every change
        if name.endswith((".weight", ".bias")):  # a network's parameters: reshaped, and one other change
            changes = ("shape", draw.choice([c for c in TENSOR_CHANGES if c != "shape"]))
        for change in changes:
            changed = dict(tensors)
            if change == "nan":
                changed[name] = torch.full_like(tensor, float("nan"), dtype=torch.float32)
            elif change == "shape":
                changed[name] = tensor.reshape(-1)[: max(1, tensor.numel() // 2)].clone()
            elif change == "dtype":
                changed[name] = tensor.to(torch.float64 if tensor.is_floating_point() else torch.float32)
            else:
                changed[name] = torch.zeros(0)
            yield f"tensor {name} {change}", changed, metadata


@pytest.mark.parametrize(
    "file_format,use", [(BANK_FORMAT, use_bank), (PRNET_FORMAT, use_model), (ANATOMY_FORMAT, use_anatomy)]
)
def test_hostile_files_are_refused_or_work(files, tmp_path, file_format, use):
    failures, refused, total = [], 0, 0
    for description, tensors, metadata in cases(files[file_format], file_format):
        path = tmp_path / "case.safetensors"
        save_tensors(path, tensors, file_format, metadata)
        total += 1
        try:
            use(path)
        except SpectfslError as error:
            refused += 1
            assert str(error).startswith(str(path)), (description, error)
        except Exception as error:
            failures.append(f"{description}: {type(error).__name__}: {str(error)[:120]}")
    assert not failures, f"{len(failures)} of {total}:\n" + "\n".join(failures[:20])
    assert refused > total / 2


def test_nan_prototypes_are_named(files, tmp_path):
    tensors, metadata = load_tensors(files[BANK_FORMAT], BANK_FORMAT)
    tensors["prototypes"] = tensors["prototypes"].clone()
    tensors["prototypes"][0, 0] = float("nan")
    metadata = {k: v for k, v in metadata.items() if k not in ("format", "spectfsl_version")}
    save_tensors(tmp_path / "bank.safetensors", tensors, BANK_FORMAT, metadata)
    with pytest.raises(SpectfslError, match="tensor 'prototypes' holds NaN"):
        load_bank(tmp_path / "bank.safetensors")


def test_a_huge_architecture_is_refused_before_allocation(files, tmp_path):
    tensors, metadata = load_tensors(files[PRNET_FORMAT], PRNET_FORMAT)
    metadata = {k: v for k, v in metadata.items() if k not in ("format", "spectfsl_version")}
    save_tensors(tmp_path / "model.safetensors", tensors, PRNET_FORMAT, {**metadata, "channels": 100_000})
    with pytest.raises(SpectfslError, match="channels must be 1-256"):
        load_prnet(tmp_path / "model.safetensors")
