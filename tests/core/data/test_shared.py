"""Where real data are found, and the PhysioNet volumes shipped inside the package (CC BY 4.0)."""

from __future__ import annotations

import hashlib

from spectfsl.core.data.shared import PHYSIONET, packaged_physionet, physionet_folder
from tests.conftest import SHARED_DATA, requires_real_data


def test_the_package_ships_the_six_physionet_volumes_with_their_citation():
    folder = packaged_physionet()
    assert len(list((folder / "dicom").glob("*.dcm"))) == 3
    assert len(list((folder / "nifti").glob("*_0000.nii.gz"))) == 3
    assert len([p for p in (folder / "nifti").glob("*.nii.gz") if "_" not in p.name]) == 3  # the expert walls
    readme = (folder / "README.md").read_text()
    assert "10.13026/ce2z-dw74" in readme and "CC BY 4.0" in readme


def test_a_real_data_folder_with_physionet_is_preferred_else_the_shipped_copy(tmp_path):
    assert physionet_folder(None) == packaged_physionet()
    assert physionet_folder(tmp_path) == packaged_physionet()  # no mps-physionet/ there
    (tmp_path / PHYSIONET).mkdir()
    assert physionet_folder(tmp_path) == tmp_path / PHYSIONET


@requires_real_data
def test_the_shipped_copy_is_the_shared_data_unchanged():
    shipped = packaged_physionet()
    for path in sorted((SHARED_DATA / PHYSIONET).rglob("*.*")):
        if path.suffix in (".dcm", ".gz"):
            copy = shipped / path.relative_to(SHARED_DATA / PHYSIONET)
            assert hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest(), path
