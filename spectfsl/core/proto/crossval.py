"""Leave-one-patient-out cross-validation of `proto fit`: one folder of crops, an honest figure.

Each patient in turn is held out: a bank is fitted (fine-tuned, prototypes, crop profile) on the
other patients' crops with the given settings, and classifies every crop of the held-out patient.
No crop is ever classified by a bank that saw it or any other crop of its patient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spectfsl.core.data.datasets import LabelledImages
from spectfsl.core.proto.ood import CropProfile
from spectfsl.core.proto.workflows import FitSettings, fit_bank
from spectfsl.core.tables import Table, percent
from spectfsl.errors import SpectfslError


@dataclass(frozen=True)
class Fold:
    """One held-out patient: its crops, how many were classified right, and how many flagged ood."""

    patient: str
    crops: int
    correct: int
    ood: int
    recall: dict[str, float | None]

    @property
    def accuracy(self) -> float:
        return self.correct / self.crops


@dataclass
class CrossValidation:
    """Per-patient folds and what they add up to."""

    folds: list[Fold]
    classes: list[str]
    settings: dict[str, Any]

    def summary(self) -> dict[str, float]:
        """Pooled accuracy over every crop, and the mean, sd, min and max of the folds' accuracies."""
        accuracies = np.array([fold.accuracy for fold in self.folds])
        return {
            "accuracy": sum(fold.correct for fold in self.folds) / sum(fold.crops for fold in self.folds),
            "fold_mean": float(accuracies.mean()),
            "fold_sd": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
            "fold_min": float(accuracies.min()),
            "fold_max": float(accuracies.max()),
            "ood_fraction": sum(fold.ood for fold in self.folds) / sum(fold.crops for fold in self.folds),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "cross_validate": "patient",
            "classes": self.classes,
            "patients": len(self.folds),
            "images": sum(fold.crops for fold in self.folds),
            **self.settings,
            **self.summary(),
            "folds": [
                {
                    "patient": f.patient,
                    "crops": f.crops,
                    "accuracy": f.accuracy,
                    "ood": f.ood,
                    "recall": f.recall,
                }
                for f in self.folds
            ],
        }

    def tables(self) -> list[Table]:
        header = ("held-out patient", "crops", "accuracy", "ood", *(f"recall {name}" for name in self.classes))
        rows = tuple(
            (
                fold.patient,
                str(fold.crops),
                percent(fold.accuracy),
                str(fold.ood),
                *(percent(value) if value is not None else "-" for value in fold.recall.values()),
            )
            for fold in self.folds
        )
        s = self.summary()
        note = (
            f"pooled accuracy {percent(s['accuracy'])} over {sum(f.crops for f in self.folds)} crops; per patient "
            f"mean {percent(s['fold_mean'])}, sd {percent(s['fold_sd'])}, range {percent(s['fold_min'])}-"
            f"{percent(s['fold_max'])}. Each patient's crops classified by a bank fitted on the other patients "
            f"({self.settings['steps']} fine-tuning episodes, support {self.settings['support'] or 'all'}, "
            f"weights {self.settings['weights']})."
        )
        return [Table(f"leave-one-patient-out cross-validation ({len(self.folds)} patients)", header, rows, note)]


def cross_validate(
    data: LabelledImages,
    settings: FitSettings,
    device: torch.device | str = "cpu",
    on_fold: Callable[[str], None] | None = None,
) -> CrossValidation:
    """Fit on all patients but one, classify the held-out patient's crops; each patient in turn."""
    patients = sorted(set(data.patients))
    if len(patients) < 2:
        raise SpectfslError(
            f"cross-validation by patient needs crops of 2 or more patients; these are all of '{patients[0]}' "
            "(for files without a DICOM patient, `prepare {patient_from}` says how to read it from the path)",
            settings="patient_from",
        )
    folds, weights = [], None
    for patient in patients:
        held = data.subset(i for i, p in enumerate(data.patients) if p == patient)
        fit = data.subset(i for i, p in enumerate(data.patients) if p != patient)
        missing = [name for name in data.classes if name not in fit.labels]
        if missing:
            raise SpectfslError(
                f"without patient {patient}, class {', '.join(missing)} has no crop to fit on: every class needs "
                "crops of 2 or more patients"
            )
        classifier, info, weights = fit_bank(fit, settings, device)
        predicted = classifier.predict(held.images).predicted.numpy()
        truth = np.array([info.classes.index(label) for label in held.labels])
        recall = {}
        for name in data.classes:
            members = truth == info.classes.index(name)
            recall[name] = float((predicted[members] == info.classes.index(name)).mean()) if members.any() else None
        ood = int(CropProfile.from_dict(info.crop_profile).outside(held.images).sum())
        folds.append(Fold(patient, len(truth), int((predicted == truth).sum()), ood, recall))
        if on_fold is not None:
            on_fold(patient)
    described = {
        "steps": settings.fine_tune.episodes,
        "support": settings.shots,
        "weights": weights.describe() if weights else settings.weights,
        "seed": settings.seed,
    }
    return CrossValidation(folds, list(data.classes), described)
