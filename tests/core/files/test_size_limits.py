"""Headers that claim huge images are refused by the size limit before anything is allocated."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image

from spectfsl.core.files.dicom_writer import write_nm_volume
from spectfsl.core.files.guard import MAX_IMAGE_MB_VARIABLE, check_claimed_size, max_image_bytes
from spectfsl.core.files.loader import load_image
from spectfsl.errors import SpectfslError

#: The child process's address-space limit: far below any of the claims, above what reading needs.
ADDRESS_SPACE_MB = 1536


def huge_headers(folder: Path) -> dict[str, Path]:
    """Small files whose headers claim images of many GiB, one per format."""
    files = {}
    dicom = folder / "huge.dcm"
    write_nm_volume(dicom, np.ones((2, 8, 8), dtype=np.uint16), 4.0, "HUGE")
    dataset = pydicom.dcmread(dicom)
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = 65535, 65535, 2000
    dataset.save_as(dicom)
    files["dicom"] = dicom

    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header.set_data_shape((30000, 30000, 3000))
    header["vox_offset"] = 352
    nifti = folder / "huge.nii.gz"
    nifti.write_bytes(gzip.compress(header.binaryblock + b"\0" * 4 + b"\0" * 4096))
    files["nifti"] = nifti

    png = folder / "huge.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(png)
    data = bytearray(png.read_bytes())
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", 2_000_000_000, 2_000_000_000)
    data[12:33] = bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr)))
    png.write_bytes(bytes(data))
    files["png"] = png

    npy = folder / "huge.npy"
    npy_header = "{'descr': '<f8', 'fortran_order': False, 'shape': (200000, 200000), }"
    npy_header = npy_header.ljust(118) + "\n"
    npy.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(npy_header)) + npy_header.encode() + b"\0" * 4096)
    files["npy"] = npy
    return files


CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from spectfsl.core.files.loader import load_image
    from spectfsl.errors import SpectfslError
    limit = int(sys.argv[1]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    outcomes = {}
    for name, path in json.loads(sys.argv[2]).items():
        try:
            load_image(path)
            outcomes[name] = "read"
        except SpectfslError as error:
            outcomes[name] = str(error)
    # VmHWM: this process's own peak resident memory (ru_maxrss would include the parent's across exec)
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    peak_mb = int(status["VmHWM"].split()[0]) / 1024
    print(json.dumps({"outcomes": outcomes, "peak_mb": peak_mb}))
    """
)


def test_huge_headers_are_refused_under_a_memory_limit(tmp_path):
    files = huge_headers(tmp_path)
    arguments = [str(ADDRESS_SPACE_MB), json.dumps({name: str(path) for name, path in files.items()})]
    done = subprocess.run([sys.executable, "-c", CHILD, *arguments], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name, outcome in report["outcomes"].items():
        assert "claims an image of shape" in outcome and MAX_IMAGE_MB_VARIABLE in outcome, (name, outcome)
    assert report["peak_mb"] < ADDRESS_SPACE_MB


def test_the_limit_can_be_raised_or_lowered(tmp_path, monkeypatch):
    np.save(tmp_path / "cube.npy", np.zeros((64, 64, 64), dtype=np.float32))  # 1 MiB as float32
    assert load_image(tmp_path / "cube.npy").pixels.shape == (64, 64, 64)
    monkeypatch.setenv(MAX_IMAGE_MB_VARIABLE, "0.5")
    with pytest.raises(SpectfslError, match="over the 0 MiB limit|over the 1 MiB limit"):
        load_image(tmp_path / "cube.npy")
    monkeypatch.setenv(MAX_IMAGE_MB_VARIABLE, "many")
    with pytest.raises(SpectfslError, match="number of MiB"):
        max_image_bytes()


def test_claims_without_pixels_are_refused():
    with pytest.raises(SpectfslError, match="has no pixels"):
        check_claimed_size("x.dcm", (0, 64))


def test_a_truncated_npy_is_refused_before_reading(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((32, 32), dtype=np.float32))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-100])
    with pytest.raises(SpectfslError, match="truncated .npy file"):
        load_image(tmp_path / "x.npy")
