"""`prnet locate`'s workflow over files: the reference's points checked, volumes a 2D model cannot
take refused, targets read in groups and located, each doubtful answer named in a warning, and the
names of the QC figures (as `segment predict`'s is `spectfsl.core.segment.predict`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from spectfsl.core.distributed import in_groups
from spectfsl.core.files.atomic import check_new_output
from spectfsl.core.files.loader import BadInput, expand_inputs, iter_images
from spectfsl.core.files.paths import output_stems
from spectfsl.core.image import SpectImage
from spectfsl.core.prnet.grid import BODY_THRESHOLD, GridImage, grid_entries, reference_level
from spectfsl.core.prnet.locate import Answer, Localiser, locate_rows, point_flags
from spectfsl.errors import SpectfslError, SpectfslWarning

#: Draws a target's QC figure from its answers and returns the figure's path.
QcDrawer = Callable[[GridImage, list[Answer]], str]


def warn_background_points(reference: GridImage, points: Sequence[tuple[str, Sequence[float]]]) -> None:
    """A warning for each reference point in the background: there is no anatomy there to follow."""
    for name, xy in points:
        level = reference_level(reference, xy)
        if level < BODY_THRESHOLD:
            warnings.warn(
                f"{reference.source.label}: point {name} ({','.join(f'{v:g}' for v in xy)}) lies in background "
                f"(normalised intensity {level:.2f}): there is no anatomy there to follow",
                SpectfslWarning,
                stacklevel=2,
            )


def qc_paths(targets: Iterable[str], folder: Path, overwrite: bool = False, skip_bad: bool = False):
    """A target -> `folder/<stem>_qc.png` (stems told apart by parent folder); refuses existing
    figures unless `overwrite`, and creates the folder. A target that cannot be listed is refused,
    or with `skip_bad` left to its own error row."""
    labels = []
    for spec in targets:
        try:
            labels += [str(item) if frame is None else f"{item}@{frame}" for item, frame in expand_inputs([spec])]
        except SpectfslError:
            if not skip_bad:
                raise
    stems = output_stems(labels)
    for stem in stems.values():
        check_new_output(folder / f"{stem}_qc.png", overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    return lambda target: folder / f"{stems[str(target.source.label)]}_qc.png"


def _whole_volumes_refused(images: Iterable[SpectImage | BadInput], dims: int, skip_bad: bool):
    """A 2D model given a volume without @N would silently locate in every slice: refused."""
    for image in images:
        if dims == 2 and not isinstance(image, BadInput) and image.is_volume and image.frame is None:
            error = f"{image.source} is a volume: a 2D model locates in one slice (PATH@N), or use a 3D model"
            if not skip_bad:
                raise SpectfslError(error)
            image = BadInput(image.source, error)
        yield image


def locate_files(
    localiser: Localiser,
    reference: GridImage,
    points: Sequence[tuple[str, Sequence[float]]],
    specs: Sequence[str],
    match_radius_mm: float,
    targets_per_batch: int,
    skip_bad: bool = False,
    qc: QcDrawer | None = None,
) -> Iterator[dict[str, Any]]:
    """`prnet locate`'s rows for the target files `specs` (read `targets_per_batch` at a time, a new
    batch every group so that sharded runs give the same numbers): see `locate_rows`. An answer whose
    `converged` or `score` asks for a look is named in a warning."""
    for group in in_groups(list(specs), targets_per_batch):
        images = _whole_volumes_refused(iter_images(group, skip_bad), localiser.dims, skip_bad)
        entries = grid_entries(images, localiser.pixel_mm, skip_bad, localiser.dims)
        for row in locate_rows(localiser, reference, points, entries, match_radius_mm, targets_per_batch, qc):
            checks = point_flags(row["converged"], row["score"]) if "score" in row else []  # not a bad input
            if checks:
                warnings.warn(
                    f"{row['path']}: check point {row['name']}: {', '.join(checks)}", SpectfslWarning, stacklevel=2
                )
            yield row
