"""The guard around third-party readers (pydicom, nibabel, Pillow, NumPy) and the image size limit.

A malformed file must end as the user error naming it (exit 2), never as a library's exception;
a library's warnings and log messages about a file reach the user as one `warning:` line; and an
image whose header claims more than the size limit is refused before anything is allocated.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from spectfsl.errors import SpectfslError, SpectfslWarning

MAX_IMAGE_MB_VARIABLE = "SPECTFSL_MAX_IMAGE_MB"
#: The largest image spectfsl loads by default, in MiB of float32 voxels (268 million voxels):
#: 100 times a 512 x 512 x 1000 float32 CT-sized volume is not a SPECT scan; a header that claims
#: more is far likelier to be corrupt than real.
DEFAULT_MAX_IMAGE_MB = 1024
#: Loggers of each kind of reader; their messages about a file are collected instead of printed raw.
LIBRARY_LOGGERS = {
    "DICOM": ("pydicom",),
    "DICOM series": ("pydicom",),
    "NIfTI": ("nibabel", "nibabel.global"),
    "PNG": ("PIL",),
}


def max_image_bytes() -> int:
    """The size limit in bytes (SPECTFSL_MAX_IMAGE_MB, else DEFAULT_MAX_IMAGE_MB)."""
    text = os.environ.get(MAX_IMAGE_MB_VARIABLE, "")
    if not text:
        return DEFAULT_MAX_IMAGE_MB << 20
    try:
        megabytes = float(text)
    except ValueError:
        raise SpectfslError(f"{MAX_IMAGE_MB_VARIABLE} must be a number of MiB, got '{text}'") from None
    if not megabytes > 0:
        raise SpectfslError(f"{MAX_IMAGE_MB_VARIABLE} must be positive, got '{text}'")
    return int(megabytes * (1 << 20))


def check_claimed_size(path: str | os.PathLike, shape: Sequence[int], what: str = "its header") -> None:
    """Refuse an image whose claimed shape is invalid, or larger than the limit as float32 voxels."""
    dims = [int(d) for d in shape]
    if any(d <= 0 for d in dims):
        raise SpectfslError(f"{path}: {what} claims an image of shape {tuple(dims)}, which has no pixels")
    size = math.prod(dims) * 4
    limit = max_image_bytes()
    if size > limit:
        raise SpectfslError(
            f"{path}: {what} claims an image of shape {tuple(dims)} ({size / (1 << 20):,.0f} MiB as float32), "
            f"over the {limit / (1 << 20):,.0f} MiB limit; if the file is real, set {MAX_IMAGE_MB_VARIABLE} higher"
        )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def reading(path: str | os.PathLike, kind: str) -> Iterator[None]:
    """Run a third-party reader on `path` (a `kind` file, e.g. "DICOM").

    Its exceptions become one SpectfslError naming the file (the cause is chained for --debug); its
    warnings and warning-level log messages become one SpectfslWarning; spectfsl's own errors and
    warnings pass unchanged.
    """
    collect = _Collect()
    saved = []
    for name in LIBRARY_LOGGERS.get(kind, ()):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers, logger.propagate = [collect], False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            except SpectfslError:
                raise
            except MemoryError:
                raise SpectfslError(f"{path}: too large to load into this machine's memory") from None
            except RecursionError:
                raise SpectfslError(f"{path}: not a readable {kind} file (nested too deeply)") from None
            except Exception as error:  # a library's exception about the file's contents
                detail = " ".join(str(error).split())[:200] or "no detail"
                raise SpectfslError(f"{path}: not a readable {kind} file ({type(error).__name__}: {detail})") from error
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers, logger.propagate = handlers, propagate
    ours = [w for w in caught if issubclass(w.category, SpectfslWarning)]
    theirs = [str(w.message) for w in caught if not issubclass(w.category, SpectfslWarning)]
    for warning in ours:
        warnings.warn(warning.message, SpectfslWarning, stacklevel=3)
    _warn_once(path, kind, theirs + collect.messages)


def _warn_once(path: str | os.PathLike, kind: str, messages: list[str]) -> None:
    """One warning line for everything a reader said about one file."""
    distinct = list(dict.fromkeys(" ".join(m.split()) for m in messages if m.strip()))
    if not distinct:
        return
    more = f" (and {len(distinct) - 1} other complaint{'s' if len(distinct) > 2 else ''})" if len(distinct) > 1 else ""
    first = distinct[0] if len(distinct[0]) <= 160 else distinct[0][:157] + "..."
    warnings.warn(f"{path}: the {kind} reader complained: {first}{more}", SpectfslWarning, stacklevel=4)


def finite_float32(path: str | os.PathLike, pixels) -> np.ndarray:
    """`pixels` as a contiguous float32 array; values that are NaN or infinite (or overflow float32)
    are read as 0, with one warning that counts them."""
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.ascontiguousarray(pixels, dtype=np.float32)
        if np.isfinite(values.sum(dtype=np.float64)):  # a NaN or infinity anywhere would make the sum one
            return values
    bad = ~np.isfinite(values)
    if bad.any():
        count = int(bad.sum())
        values[bad] = 0
        warnings.warn(
            f"{path}: {count} of {values.size} pixel values are NaN, infinite or beyond float32; read as 0",
            SpectfslWarning,
            stacklevel=2,
        )
    return values
