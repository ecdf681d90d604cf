"""spectfsl: few-shot tissue classification and anatomical localisation in SPECT.

Everything a command does is callable from Python; names load lazily, so `import spectfsl` stays
light (torch is imported when a model-related name is first used):

>>> import spectfsl
>>> data = spectfsl.read_dataset("ds/")
>>> classifier, info, weights = spectfsl.fit_bank(data, spectfsl.FitSettings(episodes=100))
>>> spectfsl.save_bank("bank.safetensors", classifier, info, weights)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SpectImage": "spectfsl.core.image",
    "load_image": "spectfsl.core.io",
    "iter_images": "spectfsl.core.io",
    "iter_slices": "spectfsl.core.io",
    "make_patient": "spectfsl.core.phantom",
    "PrepareSettings": "spectfsl.core.dataset",
    "prepare_dataset": "spectfsl.core.dataset",
    "prepare": "spectfsl.core.labelled",
    "read_dataset": "spectfsl.core.dataset",
    "find_heart": "spectfsl.core.heart",
    "create_model": "spectfsl.core.models",
    "PrototypicalClassifier": "spectfsl.core.proto",
    "FitSettings": "spectfsl.core.fewshot",
    "FineTuneSettings": "spectfsl.core.episodes",
    "EpisodeShape": "spectfsl.core.episodes",
    "EvaluateSettings": "spectfsl.core.fewshot",
    "fit_bank": "spectfsl.core.fewshot",
    "predict_images": "spectfsl.core.fewshot",
    "evaluate_dataset": "spectfsl.core.fewshot",
    "save_bank": "spectfsl.core.bank",
    "load_bank": "spectfsl.core.bank",
    "SpectfslError": "spectfsl.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spectfsl' has no attribute '{name}'")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return __all__
