"""`quantify`'s workflow: a scan read out from its labels, the rest scan found by name and set beside
the stress scan, normal limits read or refused."""

from __future__ import annotations

import pytest

from spectfsl.core.data.phantom import write_phantom
from spectfsl.core.quantify.workflow import ScanReader, add_rest, read_normal_limits, rest_scan_of
from spectfsl.errors import SpectfslError

LV = {1: "myocardium", 2: "cavity"}


@pytest.fixture(scope="module")
def stress_and_rest(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantify-workflow")
    write_phantom(root / "stress", 1, defect="inferior")
    write_phantom(root / "rest", 1, defect="inferior", defect_uptake=0.99)
    return [
        (root / state / "P001" / "spect.dcm", root / state / "P001" / "lv_labels.npy") for state in ("stress", "rest")
    ]


def test_a_scan_is_read_out_from_its_labels_and_its_rest_scan_set_beside_it(stress_and_rest):
    reader = ScanReader(LV)
    (_, stress), (_, rest) = (reader.read(*pair) for pair in stress_and_rest)
    assert min(stress.row[w] for w in ("anterior", "septal", "inferior", "lateral")) == stress.row["inferior"]
    assert 50 < stress.row["myocardium_ml"] < 300
    add_rest(stress, rest)
    assert stress.row["rest_path"] == rest.row["path"]
    differences = [stress.row[f"diff_seg{s}"] for s in range(1, 18) if stress.row[f"diff_seg{s}"] is not None]
    assert min(differences) < -10  # the inferior defect: stress well below rest there
    assert stress.row["diff_seg4"] == pytest.approx(stress.row["seg4"] - stress.row["rest_seg4"], abs=0.06)


def test_the_rest_scan_is_found_by_name_in_any_case(tmp_path):
    for stress, rest in (("a_stress.nii.gz", "a_rest.nii.gz"), ("B_STRESS.dcm", "B_REST.dcm"), ("Stress1", "Rest1")):
        (tmp_path / rest).touch()
        assert rest_scan_of(tmp_path / stress) == tmp_path / rest
    with pytest.raises(SpectfslError, match="no 'stress' in its name"):
        rest_scan_of(tmp_path / "scan.dcm")
    with pytest.raises(SpectfslError, match="which does not exist"):
        rest_scan_of(tmp_path / "c_stress.dcm")


def test_normal_limits_are_read_and_a_malformed_file_refused(tmp_path):
    good = tmp_path / "limits.csv"
    good.write_text("segment,mean,sd\n" + "".join(f"{s},{70 + s},5\n" for s in range(1, 18)))
    assert read_normal_limits(good)[17] == (87.0, 5.0)
    short = tmp_path / "short.csv"
    short.write_text("segment,mean,sd\n1,70,5\n")
    with pytest.raises(SpectfslError, match=r"no normal limits for segment\(s\) 2, 3"):
        read_normal_limits(short)
    bad = tmp_path / "bad.csv"
    bad.write_text("segment,mean,sd\n1,70,0\n")
    with pytest.raises(SpectfslError, match="not a normal-limits file"):
        read_normal_limits(bad)
