"""The Python API a notebook user sees."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import spectfsl


def test_every_exported_name_resolves():
    for name in spectfsl.__all__:
        assert getattr(spectfsl, name) is not None


def test_importing_spectfsl_does_not_import_torch():
    code = "import sys, spectfsl; spectfsl.load_image; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_notebook_flow_in_a_few_lines(phantom_dataset, tmp_path):
    data = spectfsl.read_dataset(phantom_dataset)
    classifier, info, weights = spectfsl.fit_bank(
        data, spectfsl.FitSettings(weights="random", shots=3, fine_tune=spectfsl.FineTuneSettings(episodes=0))
    )
    spectfsl.save_bank(tmp_path / "bank.safetensors", classifier, info, weights)
    loaded, loaded_info = spectfsl.load_bank(tmp_path / "bank.safetensors")
    prediction = loaded.predict(data.images[:5])
    assert prediction.probabilities.shape == (5, 3)
    np.testing.assert_allclose(prediction.probabilities.sum(1).numpy(), 1.0, rtol=1e-5)


def test_fit_is_repeatable_with_a_seed(phantom_dataset):
    data = spectfsl.read_dataset(phantom_dataset)
    settings = spectfsl.FitSettings(
        weights="random", shots=3, seed=3, fine_tune=spectfsl.FineTuneSettings(episodes=3, seed=3)
    )
    first, _, _ = spectfsl.fit_bank(data, settings)
    second, _, _ = spectfsl.fit_bank(data, settings)
    assert np.array_equal(first.prototypes.numpy(), second.prototypes.numpy())
