"""Patients are named by a stable pseudonym, never by their identity, in everything spectfsl writes.

The pseudonym of a DICOM patient is `P` and 10 hex digits of HMAC-SHA256 over the identity tags
(PatientID, else PatientName and PatientBirthDate) under a key: the same patient gets the same
pseudonym in every run and on every machine with the same key. The built-in key makes pseudonyms
stable everywhere but lets anyone holding a list of candidate IDs recompute them; set
`SPECTFSL_PSEUDONYM_KEY` to a secret of your own for pseudonyms that only you can link back.
The identity itself travels no further than this module and the optional patient map
(`prepare --patient-map`), which the user asks for explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import os

PSEUDONYM_KEY_ENV = "SPECTFSL_PSEUDONYM_KEY"
DEFAULT_KEY = "spectfsl-pseudonym-v1"


def identity_of(dataset) -> str | None:
    """The identity a pydicom dataset carries (PatientID, else name and birth date), or None."""
    patient_id = str(dataset.get("PatientID", "") or "").strip()
    if patient_id:
        return patient_id
    name = str(dataset.get("PatientName", "") or "").strip()
    birth = str(dataset.get("PatientBirthDate", "") or "").strip()
    return f"{name}|{birth}" if name or birth else None


def pseudonym(identity: str) -> str:
    """The stable pseudonym of a patient identity (see the module's docstring)."""
    key = os.environ.get(PSEUDONYM_KEY_ENV) or DEFAULT_KEY
    digest = hmac.new(key.encode("utf-8"), identity.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"P{digest[:10]}"
