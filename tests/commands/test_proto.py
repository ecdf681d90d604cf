"""`spectfsl proto fit | predict | evaluate` end to end on the phantom, on real data, and refusals."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest

from spectfsl.core.files.privacy import pseudonym
from tests.conftest import SHARED_DATA, requires_real_data


def _patients_dataset(phantom_dataset, folder, patients):
    """The crops (and sidecars) of `patients` of the phantom dataset, in a dataset folder of their own."""
    folder.mkdir(parents=True, exist_ok=True)
    for class_folder in phantom_dataset.iterdir():
        if class_folder.is_dir() and class_folder.name != "slices":
            (folder / class_folder.name).mkdir()
            for patient in patients:
                for crop in class_folder.glob(f"{pseudonym(patient)}_*"):
                    shutil.copy(crop, folder / class_folder.name / crop.name)
    return folder


@pytest.fixture(scope="module")
def held_out(phantom_dataset, tmp_path_factory):
    """The crops of patients P003-P004, which the bank never saw."""
    return _patients_dataset(phantom_dataset, tmp_path_factory.mktemp("held_out"), ("P003", "P004"))


@pytest.fixture(scope="module")
def bank(phantom_dataset, tmp_path_factory):
    """A bank fine-tuned briefly on patients P001-P002 of the phantom."""
    from spectfsl.cli import main

    train = _patients_dataset(phantom_dataset, tmp_path_factory.mktemp("train"), ("P001", "P002"))
    path = tmp_path_factory.mktemp("bank") / "bank.safetensors"
    assert (
        main(
            [
                "-q",
                "proto",
                "fit",
                str(train),
                "--out",
                str(path),
                "--weights",
                "random",
                "--episodes",
                "30",
                "--support",
                "5",
            ]
        )
        == 0
    )
    return path


@pytest.mark.slow
def test_fit_predict_classifies_held_out_patients_well_above_chance(cli, bank, phantom_dataset):
    held_out = [
        str(p) for patient in ("P003", "P004") for p in sorted(phantom_dataset.glob(f"*/{pseudonym(patient)}_*.npy"))
    ]
    result = cli("proto", "predict", *held_out, "--bank", bank, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["path"] for row in rows] == held_out  # one row per image, in input order
    assert set(rows[0]) == {
        "path",
        "frame",
        "predicted",
        "probability",
        "distance",
        "ood",
        "p_liver",
        "p_myocardium",
        "p_ventricles",
    }
    truth = [path.split("/")[-2] for path in held_out]
    accuracy = sum(row["predicted"] == true for row, true in zip(rows, truth)) / len(rows)
    assert accuracy > 0.8  # chance is 1/3


@pytest.mark.slow
def test_predict_json_gives_every_frame_of_a_volume(cli, bank, phantom_dir, tmp_path):
    out = tmp_path / "pred.json"
    result = cli(
        "proto", "predict", phantom_dir / "P001" / "spect.dcm", "--bank", bank, "--format", "json", "--out", out
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(out.read_text())
    assert [row["frame"] for row in rows] == list(range(64))
    assert all(abs(sum(v for k, v in row.items() if k.startswith("p_")) - 1) < 1e-4 for row in rows)
    assert result.stdout == ""
    assert "each of its 64 slices is classified as a whole" in result.stderr and "segment predict" in result.stderr


def test_predict_with_channels_last_gives_the_plain_numbers_bf16_the_same_classes(cli_json, bank, phantom_dataset):
    crops = [str(p) for p in sorted(phantom_dataset.glob(f"*/{pseudonym('P003')}_*.npy"))[:12]]
    plain = cli_json("proto", "predict", *crops, "--bank", bank)
    channels_last = cli_json("proto", "predict", *crops, "--bank", bank, "--channels-last")
    assert [row["predicted"] for row in channels_last] == [row["predicted"] for row in plain]
    numbers = [[v for v in row.values() if isinstance(v, float)] for row in (*plain, *channels_last)]
    assert np.allclose(numbers[: len(plain)], numbers[len(plain) :], rtol=1e-5, atol=1e-6)  # summation order only
    rounded = cli_json("proto", "predict", *crops, "--bank", bank, "--precision", "bf16")
    assert [row["predicted"] for row in rounded] == [row["predicted"] for row in plain]


def test_predict_refuses_an_unknown_precision(cli, bank, phantom_dataset):
    crop = next(phantom_dataset.glob("*/*.npy"))
    result = cli("proto", "predict", crop, "--bank", bank, "--precision", "fp8")
    assert result.exit_code == 2 and "--precision must be one of fp32, bf16, fp16" in result.stderr


@pytest.mark.slow
def test_evaluate_with_bank_reports_ci_recall_confusion_and_baselines(cli, cli_json, bank, held_out):
    report = cli_json(
        "proto",
        "evaluate",
        held_out,
        "--bank",
        bank,
        "--episodes",
        40,
        "--split-by",
        "patient",
        "--baselines",
        "--shot",
        2,
        "--query",
        3,
    )
    names = [method["name"] for method in report["methods"]]
    assert names == ["prototypical network", "raw pixels (nearest centroid)", "hand features (nearest centroid)"]
    network = report["methods"][0]
    assert network["accuracy"] > 0.6 and 0 <= network["ci95"] < 0.2
    assert set(network["recall"]) == {"liver", "myocardium", "ventricles"}
    assert sum(map(sum, network["confusion"])) == 40 * 3 * 3
    assert report["fine_tuned"] is True and report["split_by"] == "patient"


def test_evaluate_refuses_the_crops_a_bank_was_fitted_on_whatever_their_names(cli, bank, phantom_dataset, tmp_path):
    whole = cli("proto", "evaluate", phantom_dataset, "--bank", bank, "--episodes", 5)
    assert whole.exit_code == 2 and "were used to fit" in whole.stderr and "--cross-validate patient" in whole.stderr
    renamed = _patients_dataset(phantom_dataset, tmp_path / "renamed", ("P001",))
    for crop in renamed.glob("*/*.npy"):
        crop.rename(crop.with_name("copy_" + crop.name))
        crop.with_suffix(".json").rename(crop.with_name("copy_" + crop.stem + ".json"))
    again = cli("proto", "evaluate", renamed, "--bank", bank, "--episodes", 5)
    assert again.exit_code == 2 and "were used to fit" in again.stderr


@pytest.mark.slow
def test_cross_validation_holds_out_each_patient_and_fits_on_the_others(cli_json, phantom_dataset, tmp_path):
    data = _patients_dataset(phantom_dataset, tmp_path / "three", ("P001", "P002", "P003"))
    report = cli_json(
        "proto", "evaluate", data, "--cross-validate", "patient", "--steps", 5, "--support", 3, "--weights", "random"
    )
    assert report["patients"] == 3 and [fold["patient"] for fold in report["folds"]] == sorted(
        pseudonym(p) for p in ("P001", "P002", "P003")
    )
    assert report["images"] == sum(fold["crops"] for fold in report["folds"]) == len(list(data.glob("*/*.npy")))
    assert report["accuracy"] > 0.5 and report["steps"] == 5 and report["support"] == 3


def test_cross_validation_needs_two_patients_and_no_bank(cli, bank, phantom_dataset, tmp_path):
    one = _patients_dataset(phantom_dataset, tmp_path / "one", ("P001",))
    alone = cli("proto", "evaluate", one, "--cross-validate", "patient", "--steps", 0)
    assert alone.exit_code == 2 and "needs crops of 2 or more patients" in alone.stderr
    with_bank = cli("proto", "evaluate", one, "--cross-validate", "patient", "--bank", bank)
    assert with_bank.exit_code == 2 and "leave out --bank" in with_bank.stderr


def test_evaluate_without_bank_table_output(cli, phantom_dataset):
    result = cli("proto", "evaluate", phantom_dataset, "--weights", "random", "--episodes", 5)
    assert result.exit_code == 0, result.stderr
    assert "prototypical network" in result.stdout and "confusion matrix" in result.stdout


def _refused(result, fragment):
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert fragment in result.stderr


def _keep_crops(dataset, tmp_path, name: str, count: int):
    small = tmp_path / "small"
    shutil.copytree(dataset, small)
    for crop in sorted((small / name).glob("*.npy"))[count:]:
        crop.unlink()
    return small


def test_class_smaller_than_shot_plus_one_is_refused(cli, tmp_path, phantom_dataset):
    small = _keep_crops(phantom_dataset, tmp_path, "ventricles", 3)
    result = cli("proto", "fit", small, "--out", tmp_path / "b.safetensors", "--weights", "random", "--episodes", 2)
    _refused(result, "class 'ventricles' has 3 images; episodes need --shot + 1 = 4")
    assert not (tmp_path / "b.safetensors").exists()


def test_default_query_shrinks_to_the_smallest_class_and_says_so_once(cli, tmp_path, phantom_dataset):
    small = _keep_crops(phantom_dataset, tmp_path, "ventricles", 5)
    bank = tmp_path / "b.safetensors"
    result = cli("proto", "fit", small, "--out", bank, "--weights", "random", "--episodes", 2)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("episodes use 2 query images per class") == 1
    from spectfsl.core.proto.bank import load_bank

    assert load_bank(bank)[1].training["query"] == 2
    evaluated = cli("proto", "evaluate", small, "--weights", "random", "--episodes", 3)
    assert evaluated.exit_code == 0 and "3-way 3-shot 2-query" in evaluated.stdout, evaluated.stderr


def test_an_explicit_query_that_does_not_fit_is_refused(cli, tmp_path, phantom_dataset):
    small = _keep_crops(phantom_dataset, tmp_path, "ventricles", 5)
    result = cli("proto", "fit", small, "--out", tmp_path / "b.safetensors", "--weights", "random", "--query", 6)
    _refused(result, "an episode needs --shot + --query = 9 per class")


def test_empty_class_folder_is_refused(cli, tmp_path, phantom_dataset):
    data = tmp_path / "data"
    shutil.copytree(phantom_dataset, data)
    (data / "spleen").mkdir()
    _refused(cli("proto", "evaluate", data, "--weights", "random", "--episodes", 2), "class 'spleen' is empty")


def test_a_model_file_is_not_a_bank(cli, tmp_path, phantom_dataset):
    import torch

    from spectfsl.core.files.store import save_tensors

    save_tensors(tmp_path / "m.safetensors", {"x": torch.zeros(1)}, "spectfsl.prnet/1", {})
    _refused(cli("proto", "predict", phantom_dataset, "--bank", tmp_path / "m.safetensors"), "expected spectfsl.bank/1")


@pytest.mark.slow
def test_cuda_asked_for_but_absent_is_refused(cli, bank, phantom_dataset):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _refused(cli("proto", "predict", phantom_dataset, "--bank", bank, "--device", "cuda"), "no CUDA device")


@requires_real_data
def test_real_nifti_patients_with_wall_derived_classes(cli, cli_json, tmp_path):
    folder = SHARED_DATA / "mps-physionet" / "nifti"
    patients = ["patient001", "patient002", "patient003"]
    masks = [arg for p in patients for arg in ("--mask", f"myocardium={folder / f'{p}.nii.gz'}")]
    images = [folder / f"{p}_0000.nii.gz" for p in patients]
    prepared = cli(
        "prepare",
        *images,
        *masks,
        "--derive-from",
        "myocardium",
        "--min-pixels",
        10,
        "--no-slices",
        "--out",
        tmp_path / "ds",
    )
    assert prepared.exit_code == 0, prepared.stderr
    report = cli_json(
        "proto",
        "evaluate",
        tmp_path / "ds",
        "--weights",
        "random",
        "--episodes",
        20,
        "--shot",
        3,
        "--query",
        3,
        "--split-by",
        "patient",
        "--baselines",
    )
    assert report["classes"] == ["extracardiac", "myocardium", "ventricles"]
    assert report["patients"] == 3
    assert all(method["accuracy"] > 0.4 for method in report["methods"])  # chance is 1/3


@pytest.mark.slow
def test_a_reader_that_stops_early_ends_predict_quietly(bank, phantom_dataset):
    """`spectfsl proto predict ... | head -1`: exit 0 and nothing on stderr (it once was exit 1)."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "spectfsl", "proto", "predict", str(phantom_dataset), "--bank", str(bank)]
    process = subprocess.Popen(
        [*command, "--format", "csv", "--batch-size", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout.readline().startswith(b"path,frame,predicted")
    process.stdout.close()  # like `head -1`: the rest of the rows meet a closed pipe
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


@pytest.mark.slow
def test_blank_noise_and_whole_slices_are_ood_and_held_out_crops_are_not(cli, bank, phantom_dir, tmp_path):
    from spectfsl.core.files.formats import save_npy
    from spectfsl.core.image import SpectImage

    rng = np.random.default_rng(0)
    for name, pixels in (("blank", np.zeros((64, 64))), ("noise", rng.random((64, 64)))):
        save_npy(tmp_path / "odd" / f"{name}.npy", SpectImage(pixels.astype(np.float32), (2.0, 2.0), None, name, "X"))
    odd = cli(
        "proto",
        "predict",
        tmp_path / "odd",
        f"{phantom_dir / 'P003' / 'spect.dcm'}@32",
        "--bank",
        bank,
        "--format",
        "csv",
    )
    assert odd.exit_code == 0, odd.stderr
    assert [row["ood"] for row in csv.DictReader(io.StringIO(odd.stdout))] == ["true"] * 3
    assert odd.stderr.count("warning:") == 1 and "the bank classifies crops of 128 mm" in odd.stderr


@pytest.mark.slow
def test_held_out_crops_of_the_bank_kind_are_rarely_ood(cli, bank, phantom_dataset):
    crops = [str(p) for patient in ("P003", "P004") for p in phantom_dataset.glob(f"*/{pseudonym(patient)}_*.npy")]
    result = cli("proto", "predict", *crops, "--bank", bank, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) > 50 and sum(row["ood"] == "true" for row in rows) / len(rows) < 0.1
    assert "warning" not in result.stderr


@pytest.mark.slow
def test_predict_skip_bad_reports_bad_files_as_rows_and_exits_2(cli, bank, phantom_dataset, tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY broken")
    crops = sorted((phantom_dataset / "liver").glob("*.npy"))[:3]
    inputs = [crops[0], tmp_path / "bad.npy", crops[1], tmp_path / "missing.dcm", crops[2]]
    result = cli("-q", "proto", "predict", *inputs, "--bank", bank, "--format", "json", "--skip-bad")
    assert result.exit_code == 2
    rows = json.loads(result.stdout)
    assert [row["path"] for row in rows] == [str(p) for p in inputs]
    assert [row["error"] is not None for row in rows] == [False, True, False, True, False]
    assert rows[1]["predicted"] is None and rows[2]["predicted"]
    assert result.stderr.count("warning: skipped: ") == 2


@pytest.mark.slow
def test_predict_without_skip_bad_stops_with_no_output(cli, bank, phantom_dataset, tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY broken")
    crops = sorted((phantom_dataset / "liver").glob("*.npy"))[:2]
    result = cli("-q", "proto", "predict", crops[0], tmp_path / "bad.npy", crops[1], "--bank", bank, "--format", "csv")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {tmp_path / 'bad.npy'}")
    assert "error" not in cli("-q", "proto", "predict", crops[0], "--bank", bank, "--format", "csv").stdout
