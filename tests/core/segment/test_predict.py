"""`segment predict`'s outputs: names told apart, existing files refused, the columns it writes."""

from __future__ import annotations

import numpy as np
import pytest

from spectfsl.core.segment.predict import PredictOutputs, output_names, prepare_outputs
from spectfsl.errors import SpectfslError


def scans(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "scan.npy", np.zeros((4, 8, 8), np.float32))
    return [str(tmp_path / "a" / "scan.npy"), str(tmp_path / "b" / "scan.npy")]


def test_scans_of_one_name_get_outputs_told_apart_by_their_folder(tmp_path):
    names = output_names(scans(tmp_path))
    assert len(set(names.values())) == 2 and all("scan" in stem for stem in names.values())


def test_every_output_of_a_scan_is_listed_and_an_existing_one_refused(tmp_path):
    outputs = PredictOutputs(tmp_path / "out", seg_identity="pseudonym", qc_folder=tmp_path / "qc")
    assert [p.name for p in outputs.files("s")] == ["s_labels.nii.gz", "s_seg.dcm", "s_qc.png"]
    names = output_names(scans(tmp_path))
    prepare_outputs(outputs, names)
    assert outputs.folder.is_dir() and outputs.qc_folder.is_dir()
    outputs.files(next(iter(names.values())))[0].touch()
    with pytest.raises(SpectfslError, match="exists"):
        prepare_outputs(outputs, names)
    prepare_outputs(outputs, names, overwrite=True)


def test_a_frame_is_refused_and_an_unknown_seg_identity_too(tmp_path):
    with pytest.raises(SpectfslError, match="segment takes whole scans"):
        output_names([scans(tmp_path)[0] + "@1"])
    with pytest.raises(SpectfslError, match="seg_identity must be one of"):
        PredictOutputs(tmp_path, seg_identity="name")
