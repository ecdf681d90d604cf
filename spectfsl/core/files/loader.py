"""The one image loader: DICOM, NIfTI, NumPy and PNG files, folders and `PATH@N` frame selectors.

Every reader returns a `SpectImage` in (slice, row, col) layout with spacing in mm. Files that
spectfsl writes (`.npy`) carry a sidecar JSON (`x.npy` -> `x.json`) with their spacing and provenance.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spectfsl.core.files.atomic import atomic_file, write_text_atomic
from spectfsl.core.files.dicom import DicomSeries, group_series, has_dicom_preamble, read_dicom, read_dicom_series
from spectfsl.core.files.guard import check_claimed_size, finite_float32, reading
from spectfsl.core.image import FileGeometry, SpectImage
from spectfsl.errors import SpectfslError, SpectfslWarning

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


def split_frame_selector(spec: str) -> tuple[Path, int | None]:
    """`scan.dcm@3` -> (scan.dcm, 3); a path that exists as written is never split."""
    path, frames = split_frame_range(spec)
    if frames is not None and len(frames) != 1:
        raise SpectfslError(f"{spec}: names {len(frames)} frames; one image is needed here (PATH@N)")
    return path, None if frames is None else frames[0]


FRAME_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def split_frame_range(spec: str) -> tuple[Path, list[int] | None]:
    """`scan.dcm@3` -> (scan.dcm, [3]); `scan.dcm@16-47` -> (scan.dcm, [16, ..., 47]) (both ends included);
    a path that exists as written is never split."""
    if os.path.exists(spec) or "@" not in spec:
        return Path(spec), None
    base, _, selector = spec.rpartition("@")
    if selector.startswith("-") and selector[1:].isdigit():
        raise SpectfslError(f"{spec}: frame index must be 0 or more")
    match = FRAME_RANGE.fullmatch(selector)
    if match is None:
        return Path(spec), None
    first, last = int(match.group(1)), int(match.group(2) or match.group(1))
    if last < first:
        raise SpectfslError(f"{spec}: frame range {first}-{last} runs backwards; write it as {last}-{first}")
    return Path(base), list(range(first, last + 1))


def is_supported_file(path: Path) -> bool:
    """True for a file spectfsl can read: by suffix, or by the DICOM preamble."""
    name = path.name.lower()
    if name.endswith(SUPPORTED_SUFFIXES):
        return True
    return "." not in name and has_dicom_preamble(path)


#: One input: a file, or a DICOM series read as one volume; and the frame asked for (`PATH@N`), if any.
Input = tuple[Path | DicomSeries, int | None]


def _split_series_selector(path: Path) -> tuple[Path, int | None]:
    """`folder#2` -> (folder, 2) when `folder#2` does not exist as written."""
    base, sep, number = str(path).rpartition("#")
    if path.exists() or not sep or not number.isdigit() or not Path(base).is_dir():
        return path, None
    return Path(base), int(number)


#: File names that say "label map or mask" (as in labels.npy, P1_mask.png, case_seg.nii.gz).
LABEL_MAP_NAME = re.compile(r"(^|[_.-])(labels?|masks?|seg|segmentation)([_.-]|$)", re.IGNORECASE)


def _is_label_map(path: Path) -> bool:
    """A label map or mask by its name, or the mask of an nnU-Net pair (`case.nii.gz` beside `case_0000.nii.gz`)."""
    if LABEL_MAP_NAME.search(path.name):
        return True
    name = path.name.lower()
    suffix = next((s for s in NIFTI_SUFFIXES[::-1] if name.endswith(s)), None)
    return suffix is not None and path.with_name(path.name[: -len(suffix)] + "_0000" + suffix).exists()


def _folder_inputs(folder: Path) -> list[Path | DicomSeries]:
    """Every image below `folder` in sorted order, single-frame DICOM files of one series grouped
    into one volume. Label maps, masks and files that are not images are skipped, with one warning
    that counts them (hidden files and what spectfsl writes beside images are skipped silently)."""
    files, label_maps, others = [], [], []
    found = sorted(_files_below(folder), key=_path_order)
    present = {str(path) for path in found}
    for path in found:
        if not is_supported_file(path):
            if not _written_beside_images(path, present):
                others.append(path)
        elif _is_label_map(path):
            label_maps.append(path)
        else:
            files.append(path)
    if label_maps or others:
        skipped = [
            _summary(folder, label_maps, "label map or mask", "label maps or masks"),
            _summary(folder, others, "file that is not an image", "files that are not images"),
        ]
        warnings.warn(f"{folder}: skipped {' and '.join(filter(None, skipped))}", SpectfslWarning, stacklevel=2)
    if not files:
        raise SpectfslError(f"{folder}: folder holds no supported image file")
    return group_series(files)


def _files_below(folder: Path) -> Iterator[Path]:
    """The files below `folder`, hidden ones (and hidden folders) left out. One directory listing per
    folder: the entries' types come with the listing, with no file system call per file."""
    with os.scandir(folder) as entries:
        listed = [entry for entry in entries if not entry.name.startswith(".")]
    for entry in listed:
        if entry.is_file():
            yield Path(entry.path)
        elif entry.is_dir():
            yield from _files_below(Path(entry.path))


def _path_order(path: Path) -> tuple[str, ...]:
    """The order of Paths (by their parts), computed once per path rather than per comparison."""
    return path.parts


def _written_beside_images(path: Path, present: set[str]) -> bool:
    """A file spectfsl writes beside images (a sidecar JSON, a dataset's manifest.csv): skipped silently.
    `present`: the files of the folder as text (no file system call per file)."""
    if path.name == "manifest.csv":
        return True
    text = str(path)
    return text.endswith(".json") and any(text[:-5] + suffix in present for suffix in (".npy", ".png"))


def _summary(folder: Path, paths: list[Path], one: str, many: str) -> str:
    """'2 label maps or masks (P1/labels.npy, P2/labels.npy)'; empty for no paths."""
    if not paths:
        return ""
    names = ", ".join(str(p.relative_to(folder)) for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    return f"{len(paths)} {one if len(paths) == 1 else many} ({names})"


def expand_inputs(specs: Iterable[str | os.PathLike]) -> list[Input]:
    """Resolve IMAGE arguments to inputs: folders expand to their files and DICOM series in sorted
    order; `PATH@N` names frame N of a file, or of the one series of a folder (`folder#k@N` for the
    k-th of several), and `PATH@A-B` frames A to B (both included), each as one 2D image."""
    resolved: list[Input] = []
    for spec in specs:
        path, frames = split_frame_range(str(spec))
        path, series_number = _split_series_selector(path)
        if path.is_dir():
            items = _folder_inputs(path)
            if series_number is not None:
                label = f"{path}#{series_number}"
                items = [item for item in items if isinstance(item, DicomSeries) and item.label == label]
                if not items:
                    raise SpectfslError(f"{label}: no such DICOM series (the folder's series are numbered from 1)")
            if frames is not None and len(items) != 1:
                raise SpectfslError(
                    f"{spec}: a frame index needs a file, or a folder holding one DICOM series "
                    f"(this one holds {len(items)} images; name the file, or folder#k for its k-th series)"
                )
            resolved.extend((item, frame) for item in items for frame in frames or [None])
        elif path.exists():
            resolved.extend((path, frame) for frame in frames or [None])
        else:
            raise SpectfslError(f"{path}: no such file or folder")
    return resolved


def load_image(spec: str | os.PathLike | DicomSeries, frame: int | None = None) -> SpectImage:
    """Load one image: a file, a folder holding one DICOM series, or a `DicomSeries`; `PATH@N` (or
    `frame`) picks frame N of a volume as a 2D image."""
    if isinstance(spec, DicomSeries):
        return _select_frame(read_dicom_series(spec), frame, spec.label)
    path, selector = split_frame_selector(str(spec))
    frame = selector if frame is None else frame
    if path.is_dir() or _split_series_selector(path)[1] is not None:
        items = expand_inputs([path])
        if len(items) != 1:
            raise SpectfslError(
                f"{path}: is a folder of {len(items)} images; name one file, or folder#k for its k-th series"
            )
        return load_image(items[0][0], frame)
    return _select_frame(_load_input(path), frame, str(path))


def _select_frame(image: SpectImage, frame: int | None, name: str) -> SpectImage:
    """`image`, or its file frame `frame` as a 2D image."""
    if frame is None:
        return image
    if not image.is_volume:
        if frame == 0:
            return image
        raise SpectfslError(f"{name}: frame {frame} out of range (the image has 1 frame)")
    frames = image.frames or tuple(range(image.n_frames))
    if frame >= len(frames):
        raise SpectfslError(
            f"{name}: frame {frame} out of range (the image has {len(frames)} frames, 0-{len(frames) - 1})"
        )
    return image.slice_at(frames.index(frame))


@dataclass(frozen=True)
class BadInput:
    """An input that could not be read, with the user error that says why (`--skip-bad` runs)."""

    path: str
    error: str


def iter_images(specs: Iterable[str | os.PathLike], skip_bad: bool = False) -> Iterator[SpectImage | BadInput]:
    """Load every image named by IMAGE arguments (files, folders, `PATH@N`, `PATH@A-B`), in order,
    lazily; consecutive frames of one file are read from one load of it.

    An input that cannot be read raises its SpectfslError, or with `skip_bad` takes its place in
    the sequence as a `BadInput` (one per frame asked for) while the rest is read.
    """
    volume: tuple[Path | DicomSeries, SpectImage | SpectfslError] | None = None
    for spec in specs:
        try:
            items = expand_inputs([spec])
        except SpectfslError as error:
            if not skip_bad:
                raise
            yield BadInput(str(spec), str(error))
            continue
        for item, frame in items:
            try:
                if frame is None:
                    volume = None
                    yield _load_input(item)
                    continue
                if volume is None or volume[0] != item:
                    volume = (item, _load_or_error(item))
                if isinstance(volume[1], SpectfslError):
                    raise volume[1]
                image = _select_frame(volume[1], frame, str(item))
            except SpectfslError as error:
                if not skip_bad:
                    raise
                yield BadInput(str(item) if frame is None else f"{item}@{frame}", str(error))
                continue
            yield image


def _load_input(item: Path | DicomSeries) -> SpectImage:
    """An input `expand_inputs` resolved (a file or a DICOM series), read without resolving it again."""
    if isinstance(item, DicomSeries):
        return read_dicom_series(item)
    try:
        size = item.stat().st_size
    except FileNotFoundError:
        raise SpectfslError(f"{item}: no such file") from None
    except OSError as error:
        raise SpectfslError(f"{item}: cannot read ({error.strerror or error})") from None
    if size == 0:
        raise SpectfslError(f"{item}: file is empty")
    return _read_file(item)


def _load_or_error(item: Path | DicomSeries) -> SpectImage | SpectfslError:
    try:
        return _load_input(item)
    except SpectfslError as error:
        return error


def iter_slices(specs: Iterable[str | os.PathLike]) -> Iterator[SpectImage]:
    """Every 2D image named by IMAGE arguments: each frame of a volume is one image."""
    for image in iter_images(specs):
        yield from image.slices()


def _read_file(path: Path) -> SpectImage:
    name = path.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return _read_nifti(path)
    if name.endswith(".npy"):
        return _read_npy(path)
    if name.endswith(".png"):
        return _read_png(path)
    if name.endswith(".dcm") or has_dicom_preamble(path):
        return read_dicom(path)
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


def _read_nifti(path: Path) -> SpectImage:
    """A 2D or 3D NIfTI image. The array is the file's (k, j, i), each axis flipped where it runs
    towards R, A or I, so that anatomy faces as in a DICOM axial array (columns towards L, rows towards
    P, slices towards S) and `PATH@N` stays the file's own slice k = N; no axis is swapped."""
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
    if data.ndim not in (2, 3):
        raise SpectfslError(f"{path}: expected a 2D or 3D NIfTI image, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise SpectfslError(f"{path}: expected real numeric voxels, got dtype {data.dtype}")
    flip_x, flip_y = not towards_lps[0], not towards_lps[1]
    pixels = data.T  # (j, i) or (k, j, i)
    pixels = pixels[..., :, ::-1] if flip_x else pixels
    pixels = pixels[..., ::-1, :] if flip_y else pixels
    frames = None
    if pixels.ndim == 3:
        frames = tuple(range(pixels.shape[0]))
        if not towards_lps[2]:
            pixels, frames = pixels[::-1], frames[::-1]
    name = path.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem
    return SpectImage(
        pixels=finite_float32(path, pixels),
        pixel_spacing_mm=(zooms[1], zooms[0]),
        slice_spacing_mm=zooms[2] if pixels.ndim == 3 else None,
        source=str(path),
        patient=_nifti_patient(stem),
        frames=frames,
        geometry=FileGeometry(flip_x, flip_y, affine, "RAS"),
    )


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


def load_plane(spec: str | os.PathLike) -> SpectImage:
    """Load one 2D image; a volume must name its frame (`PATH@N`)."""
    image = load_image(spec)
    if image.is_volume:
        raise SpectfslError(f"{spec}: is a volume of {image.n_frames} frames; name one 2D frame as PATH@N")
    return image
