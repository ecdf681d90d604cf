"""Hostile files: mutated DICOM, NIfTI, PNG and NPY files are read or refused with the user error.

Never another exception, never a hang (a per-case time limit), never a library's raw warning or log
line. The mutator is seeded (SPECTFSL_FUZZ_SEED, SPECTFSL_FUZZ_CASES change the run); a failing
case prints its recipe, to be kept in `regressions/fuzz_cases.json`, which replays every case that
once failed.
"""

from __future__ import annotations

import json
import os
import signal
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from spectfsl.core.data.phantom import make_patient, write_case
from spectfsl.core.files.loader import load_image
from spectfsl.errors import SpectfslError, SpectfslWarning
from tests.conftest import SHARED_DATA, requires_real_data
from tests.fuzzing import Mutation, mutate

SEED = int(os.environ.get("SPECTFSL_FUZZ_SEED", "20261128"))
CASES = int(os.environ.get("SPECTFSL_FUZZ_CASES", "700"))
TIME_LIMIT_S = 20
REGRESSIONS = Path(__file__).parent / "regressions" / "fuzz_cases.json"
REAL_SOURCES = (
    "mps-physionet/dicom/mps-2.dcm",
    "mps-physionet/nifti/patient001_0000.nii.gz",
    "lvseg-mtu/P005024_rest.nii.gz",
    "seed-slice/Reconstructed_Static_64_Frame.png",
    "seed-slice/heart_Mask.png",
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Files to mutate by name: the phantom's DICOM and label map, a 16-bit PNG and a NIfTI made from
    it (so that every format is fuzzed without the real data), and the real files when present."""
    folder = tmp_path_factory.mktemp("fuzz-sources")
    case = make_patient(0, seed=0)
    write_case(case, folder / "phantom")
    middle = case.counts[case.counts.shape[0] // 2]
    Image.fromarray(middle.astype(np.uint16)).save(folder / "slice.png")
    nib.save(nib.Nifti1Image(case.counts.astype(np.int16), np.diag([6.4, 6.4, 6.4, 1])), folder / "volume.nii.gz")
    found = {
        "phantom:spect.dcm": folder / "phantom" / "spect.dcm",
        "phantom:labels.npy": folder / "phantom" / "labels.npy",
        "synthetic:slice.png": folder / "slice.png",
        "synthetic:volume.nii.gz": folder / "volume.nii.gz",
    }
    for name in REAL_SOURCES:
        if (SHARED_DATA / name).is_file():
            found[f"real:{name}"] = SHARED_DATA / name
    return found


class _TimeLimit(Exception):
    pass


def _alarm(signum, frame):
    raise _TimeLimit()


def read_or_refuse(path: Path, capfd) -> str:
    """'read' or 'refused'; anything else (another exception, a hang, a raw warning or log line on
    stderr) is described as the failure."""
    capfd.readouterr()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = "read"
            try:
                image = load_image(path)
                if not (np.isfinite(image.pixels).all() and image.pixels.ndim in (2, 3)):
                    outcome = "read an image that is not finite or not 2D/3D"
            except SpectfslError as error:
                outcome = "refused" if str(error).startswith(str(path)) else f"refused without naming the file: {error}"
    except _TimeLimit:
        outcome = f"no answer within {TIME_LIMIT_S} s"
    except Exception as error:
        outcome = f"{type(error).__name__}: {error}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    raw = [w for w in caught if not issubclass(w.category, SpectfslWarning)]
    if raw:
        return f"raw {raw[0].category.__name__}: {raw[0].message}"
    stderr = capfd.readouterr().err
    if stderr.strip():
        return f"printed on stderr: {stderr.strip()[:200]}"
    return outcome


@pytest.mark.slow
def test_mutated_files_are_read_or_refused(sources, tmp_path, capfd):
    rng = np.random.default_rng(SEED)
    names = sorted(sources)
    failures, outcomes = [], {"read": 0, "refused": 0}
    for index in range(CASES):
        name = names[index % len(names)]
        source = sources[name]
        mutation = mutate(source.read_bytes(), rng)
        case = tmp_path / f"case{index}"
        case.mkdir()
        target = case / source.name
        target.write_bytes(mutation.apply(source.read_bytes()))
        outcome = read_or_refuse(target, capfd)
        if outcome in outcomes:
            outcomes[outcome] += 1
        else:
            failures.append(json.dumps({"failure": outcome[:200], "source": name, "mutation": mutation.as_dict()}))
        target.unlink()
    assert CASES >= 500 or "SPECTFSL_FUZZ_CASES" in os.environ
    assert not failures, f"{len(failures)} of {CASES} cases (seed {SEED}) failed:\n" + "\n".join(failures[:20])
    assert outcomes["read"] > 0 and outcomes["refused"] > 0  # the mutations neither all break nor all miss


def _regressions() -> list[dict]:
    return json.loads(REGRESSIONS.read_text())


@pytest.mark.parametrize("case", _regressions(), ids=lambda case: case["failure"][:60])
def test_case_that_once_failed(case, sources, tmp_path, capfd):
    if case["source"] not in sources:
        pytest.skip(f"{case['source']} is not here (real data in ../shared/data)")
    source = sources[case["source"]]
    mutation = Mutation(**case["mutation"])
    target = tmp_path / source.name
    target.write_bytes(mutation.apply(source.read_bytes()))
    assert read_or_refuse(target, capfd) in ("read", "refused")


def test_the_regression_recipes_still_change_their_files(sources):
    """A recipe that no longer changes its source would pass for nothing."""
    for case in _regressions():
        if case["source"] in sources:
            data = sources[case["source"]].read_bytes()
            assert Mutation(**case["mutation"]).apply(data) != data, case["failure"]


def pydicom_corpus() -> list[Path]:
    from pydicom.data import get_testdata_files

    return sorted(Path(p) for p in get_testdata_files())


def test_every_file_of_pydicoms_corpus_is_read_or_refused(capfd):
    """pydicom's own test files, written by others: grey images read, RGB/YBR colour as luminance,
    palette colour and non-images refused with the user error."""
    corpus = pydicom_corpus()
    assert len(corpus) > 50
    failures, read = [], 0
    for path in corpus:
        outcome = read_or_refuse(path, capfd)
        read += outcome == "read"
        if outcome not in ("read", "refused"):
            failures.append(f"{path.name}: {outcome}")
    assert not failures, "\n".join(failures)
    assert read > 40


def corpus_file(name: str) -> Path:
    """A file of pydicom's local test corpus (get_testdata_file would try a download)."""
    [path] = [p for p in pydicom_corpus() if p.name == name]
    return path


def test_colour_dicom_is_read_as_its_luminance():
    import pydicom

    path = corpus_file("SC_rgb_small_odd.dcm")
    rgb = pydicom.dcmread(path).pixel_array.astype(np.float64)
    image = load_image(path)
    assert image.pixels.shape == rgb.shape[:2]
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(image.pixels, expected, rtol=1e-5)


def test_multiframe_colour_dicom_is_a_grey_volume():
    image = load_image(corpus_file("SC_rgb_rle_2frame.dcm"))
    assert image.pixels.ndim == 3 and image.pixels.shape[0] == 2


def test_palette_colour_is_refused_by_name():
    with pytest.raises(SpectfslError, match="PALETTE COLOR"):
        load_image(corpus_file("examples_palette.dcm"))


@requires_real_data
def test_real_files_are_among_the_sources(sources):
    assert sum(name.startswith("real:") for name in sources) == len(REAL_SOURCES)


def test_prepare_reports_hostile_files_in_one_line_each(sources, tmp_path, cli):
    """Through the CLI: exit 0 or 2, and stderr holds only `error:` and `warning:` lines."""
    rng = np.random.default_rng(SEED + 1)
    source = sources["phantom:spect.dcm"]
    codes = set()
    for index in range(12):
        target = tmp_path / f"case{index}" / "spect.dcm"
        target.parent.mkdir()
        target.write_bytes(mutate(source.read_bytes(), rng).apply(source.read_bytes()))
        result = cli("-q", "prepare", target, "--out", tmp_path / f"out{index}")
        codes.add(result.exit_code)
        assert result.exit_code in (0, 2), result.stderr
        lines = result.stderr.strip().splitlines()
        assert all(line.startswith(("error: ", "warning: ")) for line in lines), result.stderr
        assert result.exit_code == 0 or len([line for line in lines if line.startswith("error: ")]) == 1
