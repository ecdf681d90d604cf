"""The image file formats spectfsl reads: DICOM (`dicom`), NIfTI, NumPy and PNG, each into a
`SpectImage` in (slice, row, col) layout with spacing in mm; and the `.npy` files it writes, with a
sidecar JSON (`x.npy` -> `x.json`) holding their spacing and provenance. `loader` turns IMAGE
arguments (files, folders, `PATH@N`) into reads of these."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from spectfsl.core.files.atomic import atomic_file, write_text_atomic
from spectfsl.core.files.dicom import has_dicom_preamble, read_dicom_study
from spectfsl.core.files.guard import check_claimed_size, finite_float32, reading
from spectfsl.core.image import MAX_GATES, MIN_GATES, FileGeometry, GatedImage, SpectImage, as_volume
from spectfsl.errors import SpectfslError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
SUPPORTED_SUFFIXES = (".dcm", ".npy", ".png") + NIFTI_SUFFIXES


def sidecar_path(path: str | os.PathLike) -> Path:
    """`x.npy` -> `x.json`, `x.nii.gz` -> `x.json`."""
    return Path(_sidecar_name(os.fspath(path)))


def _sidecar_name(path: str) -> str:
    lowered = path.lower()
    suffix = next((suffix for suffix in SUPPORTED_SUFFIXES if lowered.endswith(suffix)), "")
    return path[: len(path) - len(suffix)] + ".json"


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar JSON of an image file, or {} when there is none."""
    sidecar = _sidecar_name(os.fspath(path))
    try:
        with open(sidecar, "rb") as handle:
            content = json.loads(handle.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise SpectfslError(f"{sidecar}: unreadable sidecar JSON ({error})") from None
    if not isinstance(content, dict):
        raise SpectfslError(f"{sidecar}: sidecar JSON must be an object")
    return content


def save_npy(path: str | os.PathLike, image: SpectImage, extra: dict[str, Any] | None = None) -> None:
    """Write `image.pixels` as .npy plus its sidecar JSON (spacing in mm, provenance), atomically."""
    path = Path(path)
    with atomic_file(path) as temporary:
        with open(temporary, "wb") as handle:
            np.save(handle, image.pixels)
    sidecar: dict[str, Any] = {
        "pixel_spacing_mm": list(image.pixel_spacing_mm) if image.pixel_spacing_mm else None,
        "source": image.source,
        "patient": image.patient,
        "frame": image.frame,
    }
    if image.slice_spacing_mm is not None:
        sidecar["slice_spacing_mm"] = image.slice_spacing_mm
    if image.normalisation is not None:
        sidecar["normalisation"] = image.normalisation
    sidecar.update(extra or {})
    write_text_atomic(sidecar_path(path), json.dumps(sidecar, indent=1) + "\n")


def read_file(path: Path) -> SpectImage:
    """One image file by its type as one image: a gated study as the sum of its gates (`as_volume`)."""
    return as_volume(read_study(path))


def read_study(path: Path) -> SpectImage | GatedImage:
    """One image file by its type (extension, else the DICOM preamble), a gated study (DICOM GATED TOMO,
    4D NIfTI) as one volume per gate; refused (exit 2) otherwise."""
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return _read_nifti(path)
    if name.endswith(".npy"):
        return _read_npy(path)
    if name.endswith(".png"):
        return _read_png(path)
    if name.endswith(".dcm") or has_dicom_preamble(path):
        return read_dicom_study(path)
    raise SpectfslError(f"{path}: unsupported file type (expected DICOM, NIfTI, .npy or .png)")


def _with_sidecar(path: Path, pixels: np.ndarray) -> SpectImage:
    sidecar = read_sidecar(path)
    spacing = sidecar.get("pixel_spacing_mm")
    if spacing is not None and (len(spacing) != 2 or min(float(s) for s in spacing) <= 0):
        raise SpectfslError(f"{sidecar_path(path)}: pixel_spacing_mm must be two positive numbers [row_mm, col_mm]")
    slice_spacing = sidecar.get("slice_spacing_mm")
    return SpectImage(
        pixels=finite_float32(path, pixels),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])) if spacing else None,
        slice_spacing_mm=float(slice_spacing) if slice_spacing and pixels.ndim == 3 else None,
        source=str(path),
        patient=str(sidecar.get("patient") or path.stem),
        frame=sidecar.get("frame") if pixels.ndim == 2 else None,
        normalisation=sidecar.get("normalisation"),
    )


def _read_npy(path: Path) -> SpectImage:
    """A .npy file, its header checked before the array is read (no pickle, ever)."""
    with reading(path, ".npy"), open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise SpectfslError(f"{path}: not a .npy file (no NumPy header)")
        shape, fortran_order, dtype = _npy_header(handle)
        _check_npy_header(path, shape, dtype, os.fstat(handle.fileno()).st_size - handle.tell())
        data = np.fromfile(handle, dtype=dtype, count=math.prod(shape))
        pixels = data.reshape(shape, order="F" if fortran_order else "C")
    return _with_sidecar(path, pixels)


#: The header NumPy writes for a plain array (`np.save`), parsed without `ast` on the hot path.
NPY_PLAIN_HEADER = re.compile(
    rb"\{'descr': '([<>|=]?[a-z]\d{1,2})', 'fortran_order': (True|False), 'shape': \((\d+(?:, \d+)*),?\), \} *\n"
)


def _npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran_order, dtype) of the .npy file open in `handle` after its 6-byte magic string,
    leaving it at the start of the data. A header as `np.save` writes it is parsed directly; any other
    is left to NumPy's own reader."""
    start = handle.tell() - 6
    version = handle.read(2)
    size_bytes = 2 if version[:1] == b"\x01" else 4
    header = handle.read(int.from_bytes(handle.read(size_bytes), "little"))
    plain = NPY_PLAIN_HEADER.fullmatch(header)
    if plain is not None and version in (b"\x01\x00", b"\x02\x00"):
        shape = tuple(int(side) for side in plain[3].split(b","))
        return shape, plain[2] == b"True", np.dtype(plain[1].decode())
    handle.seek(start)
    npy = np.lib.format
    read_header = npy.read_array_header_1_0 if npy.read_magic(handle) == (1, 0) else npy.read_array_header_2_0
    return read_header(handle)


def _check_npy_header(path: Path, shape: tuple[int, ...], dtype: np.dtype, data_bytes: int) -> None:
    """Refuse what the header of a .npy file claims before the array is read: not a 2D or 3D real
    numeric image, over the size limit, or more bytes than the file holds."""
    if len(shape) not in (2, 3):
        raise SpectfslError(f"{path}: expected a 2D or 3D array, got shape {shape}")
    real = np.issubdtype(dtype, np.number) and not np.issubdtype(dtype, np.complexfloating)
    if not (real or np.issubdtype(dtype, np.bool_)):
        raise SpectfslError(f"{path}: expected a real numeric array, got dtype {dtype}")
    check_claimed_size(path, shape, "its .npy header")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > data_bytes:
        raise SpectfslError(f"{path}: truncated .npy file (its header claims {claimed} bytes, it holds {data_bytes})")


#: Pillow modes of the 8/16-bit grey PNGs spectfsl reads.
GREY_MODES = ("L", "I;16", "I;16B", "I;16L", "I", "1")


def _read_png(path: Path) -> SpectImage:
    from PIL import Image

    with reading(path, "PNG"), _pillow_without_bomb_limit():
        with Image.open(path) as png:
            width, height = png.size
            check_claimed_size(path, (height, width), "its PNG header")
            png.load()
            if png.mode in ("LA", "La"):
                png = png.getchannel(0)
            elif png.mode not in GREY_MODES:
                raise SpectfslError(f"{path}: expected an 8/16-bit grayscale PNG, got mode {png.mode}")
            pixels = np.asarray(png)
    return _with_sidecar(path, pixels)


@contextlib.contextmanager
def _pillow_without_bomb_limit() -> Iterator[None]:
    """Pillow refuses images over its own pixel limit as a 'decompression bomb' at open; spectfsl
    applies its one documented limit instead (see `spectfsl.core.files.guard`)."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _read_nifti(path: Path) -> SpectImage | GatedImage:
    """A 2D or 3D NIfTI image, or a 4D one whose 4th axis is the gates of a gated study (4-32 of
    them). The array is the file's (k, j, i), each axis flipped where it runs towards R, A or I, so
    that anatomy faces as in a DICOM axial array (columns towards L, rows towards P, slices towards S)
    and `PATH@N` stays the file's own slice k = N; no axis is swapped."""
    import nibabel as nib
    from nibabel.orientations import io_orientation

    with reading(path, "NIfTI"):
        nifti = nib.load(path)
        check_claimed_size(path, nifti.shape, "its NIfTI header")
        data = np.asanyarray(nifti.dataobj)
        zooms = [float(z) for z in nifti.header.get_zooms()]
        affine = np.asarray(nifti.affine, dtype=np.float64)
        towards_lps = [_towards_lps(axis, direction) for axis, direction in io_orientation(affine)]
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 4 and not MIN_GATES <= data.shape[3] <= MAX_GATES:
        raise SpectfslError(
            f"{path}: a 4D NIfTI's 4th axis must be the gates of a gated study ({MIN_GATES}-{MAX_GATES}); "
            f"this one has {data.shape[3]}"
        )
    if data.ndim not in (2, 3, 4):
        raise SpectfslError(f"{path}: expected a 2D or 3D NIfTI image, or 4D gates, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise SpectfslError(f"{path}: expected real numeric voxels, got dtype {data.dtype}")
    name = path.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem
    flip_x, flip_y = not towards_lps[0], not towards_lps[1]

    def image(voxels: np.ndarray, gate: int | None = None) -> SpectImage:
        pixels = voxels.T  # (j, i) or (k, j, i)
        pixels = pixels[..., :, ::-1] if flip_x else pixels
        pixels = pixels[..., ::-1, :] if flip_y else pixels
        frames = None
        if pixels.ndim == 3:
            frames = tuple(range(pixels.shape[0]))
            if not towards_lps[2]:
                pixels, frames = pixels[::-1], frames[::-1]
        return SpectImage(
            pixels=finite_float32(path, pixels),
            pixel_spacing_mm=(zooms[1], zooms[0]),
            slice_spacing_mm=zooms[2] if pixels.ndim == 3 else None,
            source=str(path),
            patient=_nifti_patient(stem),
            frames=frames,
            geometry=FileGeometry(flip_x, flip_y, affine, "RAS"),
            gate=gate,
        )

    if data.ndim == 4:
        return GatedImage(tuple(image(data[..., index], index + 1) for index in range(data.shape[3])))
    return image(data)


def _towards_lps(axis: float, direction: float) -> bool:
    """Whether a file axis that nibabel's `io_orientation` maps to RAS `axis` (0, 1, 2) with sign
    `direction` runs towards L, P or S (an axis it cannot place counts as running the right way)."""
    if np.isnan(axis):
        return True
    return direction < 0 if int(axis) in (0, 1) else direction > 0


def _nifti_patient(stem: str) -> str:
    """nnU-Net names images `<case>_0000`: the case id is the patient."""
    base, _, channel = stem.rpartition("_")
    return base if base and channel.isdigit() and len(channel) == 4 else stem
