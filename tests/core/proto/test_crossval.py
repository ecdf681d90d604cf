"""Leave-one-patient-out: a patient's crops never help classify that patient; the summary adds up."""

from __future__ import annotations

import pytest

from spectfsl.core.proto import crossval
from spectfsl.core.proto.crossval import CrossValidation, Fold, cross_validate
from spectfsl.core.proto.episodes import FineTuneSettings
from spectfsl.core.proto.workflows import FitSettings
from spectfsl.errors import SpectfslError

SETTINGS = FitSettings(weights="random", fine_tune=FineTuneSettings(episodes=0))


def test_each_patient_is_classified_by_a_bank_fitted_without_it(phantom_dataset, monkeypatch):
    import spectfsl

    data = spectfsl.read_dataset(phantom_dataset)
    fitted_on = []
    real_fit = crossval.fit_bank

    def recording_fit(fit, settings, device="cpu"):
        fitted_on.append(set(fit.patients))
        return real_fit(fit, settings, device)

    monkeypatch.setattr(crossval, "fit_bank", recording_fit)
    result = cross_validate(data, SETTINGS)
    patients = sorted(set(data.patients))
    assert [fold.patient for fold in result.folds] == patients
    for fold, seen in zip(result.folds, fitted_on):
        assert fold.patient not in seen and seen == set(patients) - {fold.patient}
        assert fold.crops == sum(p == fold.patient for p in data.patients)
    assert sum(fold.crops for fold in result.folds) == len(data.labels)


def test_the_summary_pools_crops_and_spreads_folds():
    folds = [Fold("a", 10, 9, 1, {}), Fold("b", 30, 15, 0, {})]
    summary = CrossValidation(folds, ["x"], {}).summary()
    assert summary["accuracy"] == pytest.approx(24 / 40)  # pooled over crops, not the folds' mean
    assert summary["fold_mean"] == pytest.approx(0.7) and summary["fold_min"] == 0.5 and summary["fold_max"] == 0.9
    assert summary["ood_fraction"] == pytest.approx(1 / 40)


def test_one_patient_cannot_be_cross_validated(phantom_dataset):
    import spectfsl

    data = spectfsl.read_dataset(phantom_dataset)
    one = data.subset(i for i, p in enumerate(data.patients) if p == data.patients[0])
    with pytest.raises(SpectfslError, match="needs crops of 2 or more patients"):
        cross_validate(one, SETTINGS)
