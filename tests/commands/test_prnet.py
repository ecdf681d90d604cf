"""`spectfsl prnet train | offset | locate | reconstruct | evaluate` on the phantom, and refusals."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from spectfsl.core.files.formats import save_npy
from spectfsl.core.files.loader import load_image
from spectfsl.core.prnet.locate import LOCAL_MATCH_MM
from spectfsl.core.processing.preprocess import normalised
from tests.conftest import SHARED_DATA, requires_real_data

# every test here shares a PRNet trained for 150 steps (about 30 s on 2 cores)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(phantom_dir, tmp_path_factory):
    """A small PRNet trained on the central slices of the 4 phantom patients."""
    from spectfsl.cli import main

    path = tmp_path_factory.mktemp("prnet") / "model.safetensors"
    slices = [
        f"{phantom_dir / p / 'spect.dcm'}@{z}" for p in ("P001", "P002", "P003", "P004") for z in range(24, 44, 2)
    ]
    args = [
        "-q",
        "prnet",
        "train",
        *slices,
        "--out",
        str(path),
        "--epochs",
        "10",
        "--iters",
        "10",
        "--pixel-mm",
        "6.4",
        "--init",
        "random",
        "--reconstruction-weight",
        "0.5",
        "--seed",
        "0",
    ]
    assert main(args) == 0
    return path


def test_train_writes_a_model_with_its_training_record(model):
    from spectfsl.core.prnet.model_file import load_prnet

    _, info = load_prnet(model)
    losses = info.training["epoch_losses"]
    assert len(losses) == 10 and losses[-1] < losses[0]
    assert info.pixel_mm == 6.4 and info.patch == 32 and info.head_activation == "relu"


def test_offset_reports_px_and_mm(cli_json, model, phantom_dir):
    image = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    row = cli_json("prnet", "offset", image, "--model", model, "--p1", "30,30", "--p2", "40,30")[0]
    assert set(row) == {"dx_px", "dy_px", "dx_mm", "dy_mm", "distance_mm"}
    assert row["dx_mm"] == pytest.approx(row["dx_px"] * 6.4)
    assert row["dx_px"] > 3  # the true offset is +10 px along x


def test_offset_between_a_slice_and_its_translated_copy_recovers_the_translation(cli, model, phantom_dir, tmp_path):
    plane = normalised(load_image(f"{phantom_dir / 'P002' / 'spect.dcm'}@34"))
    shifted = np.zeros_like(plane.pixels)
    shifted[:, 5:] = plane.pixels[:, :-5]  # content moves 5 px (32 mm) along +x
    save_npy(tmp_path / "a.npy", plane)
    save_npy(tmp_path / "b.npy", plane.with_pixels(shifted))

    def anatomical_offset(p2: str) -> dict:
        result = cli(
            "prnet",
            "offset",
            tmp_path / "a.npy",
            "--image2",
            tmp_path / "b.npy",
            "--model",
            model,
            "--p1",
            "32,28",
            "--p2",
            p2,
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)[0]

    same_pixel = anatomical_offset("32,28")  # that pixel of the copy shows the anatomy 5 px to the left
    assert same_pixel["dx_mm"] == pytest.approx(-32, abs=12) and abs(same_pixel["dy_mm"]) < 12
    same_anatomy = anatomical_offset("37,28")
    assert abs(same_anatomy["dx_mm"]) < 12 and abs(same_anatomy["dy_mm"]) < 12


def _points(phantom_dir, patients, names=("lv_centre",)):
    rows = [
        line
        for line in (phantom_dir / "points.csv").read_text().splitlines()[1:]
        if line.split("/")[0] in patients and line.split(",")[1] in names
    ]
    path = phantom_dir / f"points-{'-'.join(patients)}.csv"
    path.write_text("image,name,x,y\n" + "\n".join(rows) + "\n")
    return path


def test_locate_lists_every_target_and_point(cli, model, phantom_dir):
    targets = [f"{phantom_dir / p / 'spect.dcm'}@34" for p in ("P002", "P003")]
    result = cli(
        "prnet",
        "locate",
        *targets,
        "--model",
        model,
        "--ref",
        f"{phantom_dir / 'P001' / 'spect.dcm'}@34",
        "--point",
        "lv=37,26",
        "--point",
        "30,30",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["path"].split("/")[-2], r["name"]) for r in rows] == [
        ("P002", "lv"),
        ("P002", "point2"),
        ("P003", "lv"),
        ("P003", "point2"),
    ]
    assert all(
        0 <= float(r["x"]) < 64 and float(r["x_mm"]) == pytest.approx(float(r["x"]) * 6.4, abs=0.05) for r in rows
    )


def test_locate_with_local_matching_stays_within_the_radius(cli, cli_json, model, phantom_dir):
    target, reference = f"{phantom_dir / 'P002' / 'spect.dcm'}@34", f"{phantom_dir / 'P001' / 'spect.dcm'}@34"

    def located(*extra):
        row = cli_json("prnet", "locate", target, "--model", model, "--ref", reference, "--point", "lv=37,26", *extra)[
            0
        ]
        return np.array([row["x_mm"], row["y_mm"]])

    alone = located("--match-radius-mm", 0)
    assert np.hypot(*(located("--match-radius-mm", 10) - alone)) <= 10 + 6.4
    assert np.hypot(*(located() - alone)) <= LOCAL_MATCH_MM[2] + 6.4  # on by default, at LOCAL_MATCH_MM


def test_locate_matches_locally_by_default(cli):
    """The option's default (literals, so that `--help` needs no torch) are the library's radii."""
    for command in ("locate", "evaluate"):
        shown = " ".join(cli("prnet", command, "--help").stdout.split())
        assert f"[default: {LOCAL_MATCH_MM[2]:g} for a 2D model, {LOCAL_MATCH_MM[3]:g} for a 3D model;" in shown


def test_locate_on_the_phantom_beats_the_naive_baseline(cli, model, phantom_dir, tmp_path):
    points = _points(phantom_dir, ("P001", "P002", "P003", "P004"))
    result = cli("prnet", "evaluate", "--model", model, "--points", points, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["match_radius_mm"] == LOCAL_MATCH_MM[2] == 25  # a 2D model's default radius
    summaries = {s["method"]: s for s in json.loads(result.stdout)["landmarks"]["lv_centre"]}
    assert summaries["prnet"]["pairs"] == 12
    assert summaries["prnet"]["mre_mm"] < summaries["naive"]["mre_mm"]
    assert summaries["template matching"]["mre_mm"] is not None
    assert summaries["prnet + local template matching"]["pairs"] == 12


def test_reconstruct_writes_the_figure_and_reports_mse_psnr(cli, cli_json, model, phantom_dir, tmp_path):
    figure = tmp_path / "fig.png"
    row = cli_json(
        "prnet",
        "reconstruct",
        f"{phantom_dir / 'P001' / 'spect.dcm'}@34",
        "--model",
        model,
        "--point",
        "37,26",
        "--out",
        figure,
    )[0]
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert row["mse"] > 0 and row["psnr_db"] > 5
    image = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    tiled = cli_json("prnet", "reconstruct", image, "--model", model, "--out", tmp_path / "all.png")[0]
    assert tiled["point"] == "whole image" and tiled["mse"] > 0 and tiled["figure"] == str(tmp_path / "all.png")
    assert (tmp_path / "all.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _refused(result, fragment):
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and fragment in result.stderr


def test_point_outside_the_image_is_refused(cli, model, phantom_dir):
    image = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    result = cli("prnet", "offset", image, "--model", model, "--p1", "70,3", "--p2", "1,1")
    _refused(result, "--p1 70,3 is outside the image")


def test_a_bank_is_not_a_model(cli, phantom_dir, tmp_path):
    import torch

    from spectfsl.core.files.store import save_tensors

    save_tensors(tmp_path / "bank.safetensors", {"x": torch.zeros(1)}, "spectfsl.bank/1", {})
    _refused(
        cli(
            "prnet",
            "offset",
            f"{phantom_dir / 'P001' / 'spect.dcm'}@34",
            "--model",
            tmp_path / "bank.safetensors",
            "--p1",
            "1,1",
            "--p2",
            "2,2",
        ),
        "expected spectfsl.prnet/2",
    )


def test_a_volume_needs_a_frame(cli, model, phantom_dir):
    _refused(
        cli("prnet", "offset", phantom_dir / "P001" / "spect.dcm", "--model", model, "--p1", "1,1", "--p2", "2,2"),
        "name one 2D frame as PATH@N",
    )


@requires_real_data
def test_train_from_the_study_png_slice_alone(cli, tmp_path):
    image = SHARED_DATA / "seed-slice" / "Reconstructed_Static_64_Frame.png"
    result = cli(
        "-q",
        "prnet",
        "train",
        image,
        "--out",
        tmp_path / "m.safetensors",
        "--epochs",
        3,
        "--iters",
        4,
        "--patch",
        16,
        "--init",
        "random",
        "--reconstruction-weight",
        1,
    )
    assert result.exit_code == 0, result.stderr
    figure = cli(
        "prnet",
        "reconstruct",
        image,
        "--model",
        tmp_path / "m.safetensors",
        "--out",
        tmp_path / "fig.png",
        "--format",
        "json",
    )
    assert figure.exit_code == 0, figure.stderr
    assert json.loads(figure.stdout)[0]["mse"] > 0


def test_reconstruct_refuses_a_model_without_a_trained_decoder(cli, phantom_dir, tmp_path):
    image = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    assert (
        cli("-q", "prnet", "train", image, "--out", tmp_path / "m.safetensors", "--epochs", 1, "--iters", 2).exit_code
        == 0
    )
    _refused(
        cli("prnet", "reconstruct", image, "--model", tmp_path / "m.safetensors", "--out", tmp_path / "f.png"),
        "decoder was not trained",
    )
    assert not (tmp_path / "f.png").exists()


def test_locate_skip_bad_reports_bad_targets_as_rows_and_exits_2(cli, model, phantom_dir, tmp_path):
    (tmp_path / "bad.dcm").write_bytes(b"not a dicom file")
    scan = phantom_dir / "P002" / "spect.dcm"
    targets = [f"{scan}@30", tmp_path / "bad.dcm", tmp_path / "missing.png", f"{scan}@31"]
    common = ["--model", model, "--ref", f"{phantom_dir / 'P001' / 'spect.dcm'}@30", "--point", "lv=30,30"]
    result = cli("-q", "prnet", "locate", *targets, *common, "--format", "csv", "--skip-bad")
    assert result.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["path"] for row in rows] == [str(t) for t in targets]
    assert [bool(row["error"]) for row in rows] == [False, True, True, False]
    assert rows[0]["x"] and not rows[1]["x"]
    assert result.stderr.count("warning: skipped: ") == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: 2 of 4 rows")


def test_locate_without_skip_bad_stops_at_the_first_bad_target_with_no_output(cli, model, phantom_dir, tmp_path):
    (tmp_path / "bad.dcm").write_bytes(b"not a dicom file")
    scan = phantom_dir / "P002" / "spect.dcm"
    common = ["--model", model, "--ref", f"{phantom_dir / 'P001' / 'spect.dcm'}@30", "--point", "30,30"]
    for out in (None, tmp_path / "rows.csv"):
        extra = ["--out", out] if out else []
        result = cli("-q", "prnet", "locate", f"{scan}@30", tmp_path / "bad.dcm", *common, "--format", "csv", *extra)
        assert result.exit_code == 2 and result.stdout == "" and "bad.dcm" in result.stderr
        assert out is None or not out.exists()


def test_train_works_on_a_single_small_image(cli, tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(20, 200, (20, 20)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "small.png")
    result = cli("-q", "prnet", "train", tmp_path / "small.png", "--out", tmp_path / "m.safetensors", "--epochs", 2)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "m.safetensors").is_file() and not (tmp_path / "m.safetensors.ckpt").exists()


def test_training_length_is_steps_on_every_training_command(cli, tmp_path):
    from PIL import Image

    from spectfsl.core.prnet.model_file import load_prnet
    from spectfsl.core.proto.bank import load_bank

    pixels = np.random.default_rng(0).integers(20, 200, (20, 20)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "small.png")
    args = ["-q", "prnet", "train", tmp_path / "small.png", "--iters", 4]
    assert cli(*args, "--steps", 10, "--out", tmp_path / "m.safetensors").exit_code == 0
    training = load_prnet(tmp_path / "m.safetensors")[1].training
    assert (training["epochs"], training["iters"]) == (3, 4)  # 10 steps in epochs of 4, rounded up
    both = cli(*args, "--steps", 10, "--epochs", 2, "--out", tmp_path / "b.safetensors")
    assert both.exit_code == 2 and "--steps and --epochs both set the training length" in both.stderr
    crops = tmp_path / "crops"
    for name, level in (("a", 0.3), ("b", 0.9)):
        (crops / name).mkdir(parents=True)
        for k in range(4):
            np.save(crops / name / f"{k}.npy", np.full((16, 16), level, np.float32) + 0.01 * k)
    bank = ["-q", "proto", "fit", crops, "--weights", "random", "--shot", 1, "--query", 1]
    assert cli(*bank, "--steps", 2, "--out", tmp_path / "bank.safetensors").exit_code == 0
    assert load_bank(tmp_path / "bank.safetensors")[1].training["episodes"] == 2
    twice = cli(*bank, "--steps", 2, "--episodes", 2, "--out", tmp_path / "b2.safetensors")
    assert twice.exit_code == 2 and "--steps and --episodes both set" in twice.stderr


def test_locate_with_channels_last_gives_the_plain_rows_and_bf16_close_ones(cli_json, model, phantom_dir):
    target, reference = f"{phantom_dir / 'P002' / 'spect.dcm'}@34", f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    common = (target, "--model", model, "--ref", reference, "--point", "lv=37,26")
    plain = cli_json("prnet", "locate", *common)
    assert cli_json("prnet", "locate", *common, "--channels-last") == plain
    rounded = cli_json("prnet", "locate", *common, "--precision", "bf16")[0]
    assert np.hypot(rounded["x"] - plain[0]["x"], rounded["y"] - plain[0]["y"]) <= 2


def test_points_are_read_and_reported_in_each_files_own_indices(cli_json, model, phantom_dir, tmp_path):
    """A target stored R,A (x and y reversed against a DICOM array): the same anatomy is found at
    the mirrored file indices, and patient coordinates follow the file's affine."""
    import nibabel as nib

    from spectfsl.core.files.loader import load_image

    reference = f"{phantom_dir / 'P001' / 'spect.dcm'}@34"
    target = load_image(f"{phantom_dir / 'P002' / 'spect.dcm'}@34")
    rows, cols = target.pixels.shape
    affine = np.diag([6.4, 6.4, 6.4, 1.0])  # i towards R, j towards A: the array's columns and rows reversed
    nib.save(nib.Nifti1Image(target.pixels[::-1, ::-1].T.copy(), affine), tmp_path / "ras.nii.gz")
    common = ("--model", model, "--ref", reference, "--point", "lv=37,26")
    plain = cli_json("prnet", "locate", f"{phantom_dir / 'P002' / 'spect.dcm'}@34", *common)[0]
    mirrored = cli_json("prnet", "locate", tmp_path / "ras.nii.gz", *common)[0]
    assert mirrored["x"] == pytest.approx(cols - 1 - plain["x"], abs=0.02)
    assert mirrored["y"] == pytest.approx(rows - 1 - plain["y"], abs=0.02)
    assert mirrored["x_mm"] == pytest.approx(mirrored["x"] * 6.4, abs=0.02)
    assert mirrored["space"] == "RAS" and mirrored["patient_x"] == pytest.approx(6.4 * mirrored["x"], abs=0.05)
    assert plain["space"] == "LPS"


def test_a_3d_model_trains_on_volumes_and_locates_xyz_points(cli, cli_json, model, phantom_dir, tmp_path):
    volumes = [phantom_dir / p / "spect.dcm" for p in ("P001", "P002")]
    path = tmp_path / "m3.safetensors"
    args = ("--dims", "3", "--out", path, "--epochs", "2", "--iters", "5", "--reconstruction-weight", "1")
    trained = cli("-q", "prnet", "train", *volumes, *args, "--lr-schedule", "cosine")
    assert trained.exit_code == 0, trained.stderr
    from spectfsl.core.prnet.model_file import load_prnet

    _, info = load_prnet(path)
    assert info.dims == 3 and info.patch == 16 and info.pixel_mm == 8.0 and info.training["volumes"] == 2
    assert info.head_activation == "leaky_relu"  # the 3D default (a 2D model keeps the study's ReLU)
    odd = cli("prnet", "train", *volumes, *args[:2], "--out", tmp_path / "odd.safetensors", "--head-activation", "tanh")
    assert odd.exit_code == 2 and "--head-activation must be one of relu, leaky_relu" in odd.stderr
    common = ("--model", path, "--ref", volumes[0])
    rows = cli_json(
        "prnet", "locate", volumes[1], phantom_dir / "P003" / "spect.dcm", *common, "--point", "lv=37,26,34"
    )
    assert [list(row)[:9] for row in rows] == [["path", "name", "x", "y", "z", "x_mm", "y_mm", "z_mm", "steps"]] * 2
    assert all(0 <= row["z"] < 64 and row["space"] == "LPS" for row in rows)
    flat = cli("prnet", "locate", volumes[1], *common, "--point", "37,26")
    assert flat.exit_code == 2 and "has 2 coordinates; a 3D model takes x,y,z" in flat.stderr
    slice_target = cli("prnet", "locate", f"{volumes[1]}@34", *common, "--point", "37,26,34")
    assert slice_target.exit_code == 2 and "a 3D model needs a volume" in slice_target.stderr
    deep = cli("prnet", "locate", f"{volumes[1]}@34", "--model", model, "--ref", f"{volumes[0]}@34", "--point", "1,2,3")
    assert deep.exit_code == 2 and "has 3 coordinates; a 2D image or model takes x,y" in deep.stderr
    [offset] = cli_json("prnet", "offset", volumes[0], "--model", path, "--p1", "30,30,30", "--p2", "30,30,40")
    assert list(offset) == ["dx_px", "dy_px", "dz_px", "dx_mm", "dy_mm", "dz_mm", "distance_mm"]
    assert offset["dz_mm"] == pytest.approx(offset["dz_px"] * 6.4, abs=1e-6)
    figure = tmp_path / "cube.png"
    [shown] = cli_json("prnet", "reconstruct", volumes[0], "--model", path, "--point", "30,30,30", "--out", figure)
    assert figure.is_file() and shown["mse"] >= 0
    whole = cli("prnet", "reconstruct", volumes[0], "--model", path, "--out", tmp_path / "whole.png")
    assert whole.exit_code == 2 and "give --point x,y,z" in whole.stderr


def test_a_3d_model_is_evaluated_on_volume_points_beside_3d_baselines(cli, cli_json, phantom_dir, tmp_path):
    path = tmp_path / "m3.safetensors"
    volumes = [phantom_dir / p / "spect.dcm" for p in ("P001", "P002", "P003")]
    trained = cli("-q", "prnet", "train", *volumes, "--dims", "3", "--out", path, "--epochs", "2", "--iters", "5")
    assert trained.exit_code == 0, trained.stderr
    points = tmp_path / "points.csv"  # the phantom's 3D points, read relative to the phantom with --data-dir
    lines = (phantom_dir / "points3d.csv").read_text().splitlines()
    points.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.startswith(("P001", "P002", "P003"))]))
    report = cli_json("prnet", "evaluate", "--model", path, "--points", points, "--data-dir", phantom_dir)
    assert report["match_radius_mm"] == LOCAL_MATCH_MM[3] == 40  # a 3D model's default radius
    centre = {row["method"]: row for row in report["landmarks"]["lv_centre"]}
    assert set(centre) == {"prnet", "naive", "template matching", "prnet + local template matching"}
    assert all(row["pairs"] == 6 and row["mre_mm"] is not None for row in centre.values())
    flat = cli("prnet", "evaluate", "--model", path, "--points", phantom_dir / "points.csv")
    assert flat.exit_code == 2 and "a 3D model is evaluated on points x,y,z" in flat.stderr


def test_locate_with_an_anatomy_model_names_its_method_and_refuses_a_cascade(cli, phantom_dir, tmp_path):
    """An anatomy-embedding model file is opened as its own localiser: its rows say `anatomy`."""
    from spectfsl.core.networks.anatomy import AnatomyEmbedding
    from spectfsl.core.prnet.anatomy_file import AnatomyInfo, save_anatomy

    torch.manual_seed(0)
    path = tmp_path / "anatomy.safetensors"
    save_anatomy(path, AnatomyEmbedding(2, 4, 8).eval(), AnatomyInfo(2, 4, 8, 4.0, 16, 0.5))
    reference, target = (f"{phantom_dir / p / 'spect.dcm'}@34" for p in ("P001", "P002"))
    arguments = ["prnet", "locate", target, "--model", path, "--ref", reference, "--point", "lv=37,26"]
    result = cli(*arguments, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    [row] = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["method"] == "anatomy" and row["steps"] == "1"
    refused = cli(*arguments, "--refine", path)
    assert refused.exit_code == 2 and "not refined by other models" in refused.stderr
