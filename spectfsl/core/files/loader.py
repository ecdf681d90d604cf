"""The one image loader: IMAGE arguments (files, folders, DICOM series, `PATH@N` and `PATH@A-B` frame
selectors, `PATH@gN` gate selectors) expanded, listed and read, lazily, into `SpectImage`s, or
`GatedImage`s for the commands built for gated studies (the readers: `formats`)."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from spectfsl.core.files.dicom import DicomSeries, dicom_is_gated, group_series, has_dicom_preamble, read_dicom_series
from spectfsl.core.files.formats import NIFTI_SUFFIXES, SUPPORTED_SUFFIXES, read_study
from spectfsl.core.image import GatedImage, SpectImage, as_volume
from spectfsl.errors import SpectfslError, SpectfslWarning


@dataclass(frozen=True)
class Gate:
    """`PATH@gN`: gate N (1-based, as scanners number time slots) of a gated study, as a plain volume."""

    number: int


GATE_SELECTOR = re.compile(r"g(\d+)")


def split_gate_selector(spec: str) -> tuple[str, Gate | None]:
    """`study.dcm@g3` -> ("study.dcm", Gate(3)); a path that exists as written is never split."""
    if os.path.exists(spec) or "@" not in spec:
        return spec, None
    base, _, selector = spec.rpartition("@")
    match = GATE_SELECTOR.fullmatch(selector)
    if match is None:
        return spec, None
    if int(match.group(1)) < 1:
        raise SpectfslError(f"{spec}: gates are numbered from 1 (PATH@g1 is the first)")
    return base, Gate(int(match.group(1)))


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


#: One input: a file, or a DICOM series read as one volume; and the frame (`PATH@N`) or gate (`PATH@gN`)
#: asked for, if any.
Input = tuple[Path | DicomSeries, int | Gate | None]


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
    k-th of several), and `PATH@A-B` frames A to B (both included), each as one 2D image; `PATH@gN`
    names gate N of a gated study."""
    resolved: list[Input] = []
    for spec in specs:
        text, gate = split_gate_selector(str(spec))
        path, frames = split_frame_range(text)
        frames = [gate] if gate is not None else frames
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


def is_gated(item: Path | DicomSeries, frame: int | Gate | None = None) -> bool:
    """Whether an input (as `expand_inputs` lists it) is a whole gated study, from its header alone (a
    file that cannot be read counts as not gated: reading it reports the problem)."""
    if frame is not None or isinstance(item, DicomSeries):
        return False
    name = item.name.lower()
    try:
        if name.endswith(NIFTI_SUFFIXES):
            import nibabel as nib

            shape = nib.load(item).shape
            return len(shape) == 4 and shape[3] > 1
        if name.endswith(".dcm") or ("." not in name and has_dicom_preamble(item)):
            return dicom_is_gated(item)
    except Exception:  # reported when the file itself is read
        return False
    return False


def load_image(spec: str | os.PathLike | DicomSeries, frame: int | Gate | None = None) -> SpectImage:
    """Load one image: a file, a folder holding one DICOM series, or a `DicomSeries`; `PATH@N` (or
    `frame`) picks frame N of a volume as a 2D image, `PATH@gN` gate N of a gated study; a gated
    study named whole is read as the sum of its gates (`as_volume`)."""
    return as_volume(load_study(spec, frame))


def load_study(spec: str | os.PathLike | DicomSeries, frame: int | Gate | None = None) -> SpectImage | GatedImage:
    """As `load_image`, but a gated study named whole is a `GatedImage` (one volume per gate)."""
    if isinstance(spec, DicomSeries):
        return _select(read_dicom_series(spec), frame, spec.label)
    text, gate = split_gate_selector(str(spec))
    path, selector = split_frame_selector(text)
    frame = gate or selector if frame is None else frame
    if path.is_dir() or _split_series_selector(path)[1] is not None:
        items = expand_inputs([path])
        if len(items) != 1:
            raise SpectfslError(
                f"{path}: is a folder of {len(items)} images; name one file, or folder#k for its k-th series"
            )
        return load_study(items[0][0], frame)
    return _select(_load_input(path), frame, str(path))


def load_gated_labels(path: str | os.PathLike, study: GatedImage) -> GatedImage:
    """The label map of a gated study: a 4D label map with a label per gate (as many gates, each of the
    study's shape); anything else is refused (exit 2) naming the file."""
    labels = load_study(path)
    if not isinstance(labels, GatedImage) or labels.n_gates != study.n_gates:
        found = f"{labels.n_gates} gates" if isinstance(labels, GatedImage) else "one volume"
        raise SpectfslError(
            f"{path}: the label map of the gated study {study.source} ({study.n_gates} gates) must label every "
            f"gate (a 4D label map), it has {found}"
        )
    if labels.gates[0].pixels.shape != study.gates[0].pixels.shape:
        shapes = f"{labels.gates[0].pixels.shape} against {study.gates[0].pixels.shape}"
        raise SpectfslError(f"{path}: shape {shapes} of its gated study {study.source}")
    return labels


def _select(study: SpectImage | GatedImage, frame: int | Gate | None, name: str) -> SpectImage | GatedImage:
    """`study`, its gate (`Gate`) as a volume, or its file frame `frame` as a 2D image."""
    if isinstance(frame, Gate):
        if not isinstance(study, GatedImage):
            raise SpectfslError(f"{name}: is not a gated study; @g{frame.number} names a gate of one")
        if frame.number > study.n_gates:
            raise SpectfslError(
                f"{name}: gate {frame.number} out of range (the study has {study.n_gates} gates, 1-{study.n_gates})"
            )
        return study.gate(frame.number)
    if frame is None:
        return study
    return _select_frame(as_volume(study), frame, name)


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
    """Load every image named by IMAGE arguments (files, folders, `PATH@N`, `PATH@A-B`, `PATH@gN`), in
    order, lazily; consecutive frames of one file are read from one load of it; a gated study named
    whole is read as the sum of its gates (`as_volume`).

    An input that cannot be read raises its SpectfslError, or with `skip_bad` takes its place in
    the sequence as a `BadInput` (one per frame asked for) while the rest is read.
    """
    for study in iter_studies(specs, skip_bad):
        yield as_volume(study) if isinstance(study, GatedImage) else study


def iter_studies(
    specs: Iterable[str | os.PathLike], skip_bad: bool = False
) -> Iterator[SpectImage | GatedImage | BadInput]:
    """As `iter_images`, but a gated study named whole is a `GatedImage` (for the commands built for
    gated studies: `segment`, `quantify`)."""
    volume: tuple[Path | DicomSeries, SpectImage | GatedImage | SpectfslError] | None = None
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
                image = _select(volume[1], frame, str(item))
            except SpectfslError as error:
                if not skip_bad:
                    raise
                yield BadInput(f"{item}{_selector_text(frame)}", str(error))
                continue
            yield image


def _selector_text(frame: int | Gate | None) -> str:
    """How a selector is written after its path: '', '@12' or '@g3'."""
    if frame is None:
        return ""
    return f"@g{frame.number}" if isinstance(frame, Gate) else f"@{frame}"


def _load_input(item: Path | DicomSeries) -> SpectImage | GatedImage:
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
    return read_study(item)


def _load_or_error(item: Path | DicomSeries) -> SpectImage | GatedImage | SpectfslError:
    try:
        return _load_input(item)
    except SpectfslError as error:
        return error


def iter_slices(specs: Iterable[str | os.PathLike]) -> Iterator[SpectImage]:
    """Every 2D image named by IMAGE arguments: each frame of a volume is one image."""
    for image in iter_images(specs):
        yield from image.slices()


def load_plane(spec: str | os.PathLike) -> SpectImage:
    """Load one 2D image; a volume must name its frame (`PATH@N`)."""
    image = load_image(spec)
    if image.is_volume:
        raise SpectfslError(f"{spec}: is a volume of {image.n_frames} frames; name one 2D frame as PATH@N")
    return image
