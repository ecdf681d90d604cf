"""Which patient a file without a DICOM patient belongs to, read from its path.

DICOM files name their patient (spectfsl keeps only its pseudonym). NIfTI, .npy and .png files do
not: their patient is read from the path with a regular expression, so that a rest and a stress scan
of one patient (`P005024_rest.nii.gz`, `P005024_stress.nii.gz`) or nnU-Net's channels
(`patient001_0000.nii.gz`) are one patient when crops are split or cross-validated by patient.
"""

from __future__ import annotations

import re
from pathlib import Path

from spectfsl.core.files.paths import file_stem
from spectfsl.errors import SpectfslError

#: The default: the file name's leading part before any `_rest`, `_stress`, `-rest`... or 4-digit suffix.
DEFAULT_PATIENT_FROM = r"(?P<patient>[^/\\]+?)(?:[_-](?:rest|stress|\d{4}))*$"
#: File types that carry no patient of their own.
WITHOUT_PATIENT = (".nii.gz", ".nii", ".npy", ".png")


def check_pattern(pattern: str) -> re.Pattern[str]:
    """A `--patient-from` pattern, compiled; refused (exit 2) when it is not a regular expression."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise SpectfslError(
            f"{{patient_from}} '{pattern}' is not a regular expression: {error}", settings="patient_from"
        ) from None


def patient_from_path(path: str | Path, pattern: str = DEFAULT_PATIENT_FROM) -> str:
    """The patient of a file read from its path: `pattern` is searched in the path with the file's
    image extension dropped (`a/P005024_rest`); the patient is its group `patient`, else its first
    group, else the whole match. Refused (exit 2) when the pattern does not match."""
    text = (Path(path).parent / file_stem(path)).as_posix()
    match = check_pattern(pattern).search(text)
    if match is None:
        raise SpectfslError(f"{path}: {{patient_from}} '{pattern}' does not match '{text}'", settings="patient_from")
    if "patient" in match.groupdict():
        found = match.group("patient")
    else:
        found = match.group(1) if match.groups() else match.group(0)
    if not found:
        raise SpectfslError(
            f"{path}: {{patient_from}} '{pattern}' matched an empty patient in '{text}'", settings="patient_from"
        )
    return found


def carries_no_patient(source: str | Path) -> bool:
    """True for files whose patient comes from the path (NIfTI, .npy, .png), not from DICOM."""
    return str(source).lower().endswith(WITHOUT_PATIENT)
