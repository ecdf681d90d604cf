"""spectfsl: few-shot tissue classification and anatomical localisation in SPECT.

Everything a command does is callable from Python; names load lazily, so `import spectfsl` stays
light (torch is imported when a model-related name is first used):

>>> import spectfsl
>>> data = spectfsl.read_dataset("ds/")
>>> settings = spectfsl.FitSettings(fine_tune=spectfsl.FineTuneSettings(episodes=100))
>>> classifier, info, weights = spectfsl.fit_bank(data, settings)
>>> spectfsl.save_bank("bank.safetensors", classifier, info, weights)

The names by command group (`examples/notebook_api.py` uses one or more of each):
- files and data (`phantom`, `prepare`): load_image, iter_images, write_phantom, prepare, read_dataset;
- `proto`: fit_bank, save_bank, load_bank, predict_images, evaluate_folder, cross_validate;
- `segment`: fit_segmenter, open_segmenter, segment_image, save_segmenter;
- `prnet`: open_localiser (`--model`: an anatomy embedding or a PRNet), open_prnet, load_grid,
  load_grid_volume, locate_rows, train_model, train_embedding, evaluate_localisation;
- `quantify` and gated studies: ScanReader (a scan's read-out, with its LV function when gated),
  quantify, lv_function, load_study (a gated study as a GatedImage), GatedImage.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SpectImage": "spectfsl.core.image",
    "load_image": "spectfsl.core.files.loader",
    "iter_images": "spectfsl.core.files.loader",
    "iter_slices": "spectfsl.core.files.loader",
    "make_patient": "spectfsl.core.data.phantom",
    "write_phantom": "spectfsl.core.data.phantom",
    "PrepareSettings": "spectfsl.core.data.datasets",
    "prepare_dataset": "spectfsl.core.data.datasets",
    "prepare": "spectfsl.core.data.labelled",
    "read_dataset": "spectfsl.core.data.datasets",
    "find_heart": "spectfsl.core.imaging.heart",
    "create_model": "spectfsl.core.models.factory",
    "resolve_weights": "spectfsl.core.models.weights",
    "PrototypicalClassifier": "spectfsl.core.fewshot.prototypes",
    "FitSettings": "spectfsl.core.fewshot.workflows",
    "FineTuneSettings": "spectfsl.core.fewshot.episodes",
    "EpisodeShape": "spectfsl.core.fewshot.episodes",
    "EvaluateSettings": "spectfsl.core.fewshot.evaluation",
    "fit_bank": "spectfsl.core.fewshot.workflows",
    "predict_images": "spectfsl.core.fewshot.workflows",
    "evaluate_dataset": "spectfsl.core.fewshot.evaluation",
    "evaluate_folder": "spectfsl.core.fewshot.evaluation",
    "bank_embedding": "spectfsl.core.fewshot.evaluation",
    "weights_embedding": "spectfsl.core.fewshot.evaluation",
    "save_bank": "spectfsl.core.fewshot.bank",
    "cross_validate": "spectfsl.core.fewshot.crossval",
    "load_bank": "spectfsl.core.fewshot.bank",
    "SegmentSettings": "spectfsl.core.segmentation.settings",
    "SegmentClasses": "spectfsl.core.segmentation.support",
    "fit_segmenter": "spectfsl.core.segmentation.workflows",
    "segment_image": "spectfsl.core.segmentation.workflows",
    "open_segmenter": "spectfsl.core.segmentation.model_file",
    "save_segmenter": "spectfsl.core.segmentation.model_file",
    "catalogue_rows": "spectfsl.core.builtin.catalogue",
    "PRNetSettings": "spectfsl.core.localisation.training",
    "train_model": "spectfsl.core.localisation.training",
    "open_prnet": "spectfsl.core.localisation.model_file",
    "save_prnet": "spectfsl.core.localisation.model_file",
    "load_grid": "spectfsl.core.localisation.grid",
    "load_grid_volume": "spectfsl.core.localisation.grid",
    "locate_rows": "spectfsl.core.localisation.locate",
    "open_localiser": "spectfsl.core.localisation.localisers",
    "train_embedding": "spectfsl.core.localisation.embedding",
    "evaluate_localisation": "spectfsl.core.localisation.evaluate",
    "ScanReader": "spectfsl.core.quantify.workflow",
    "quantify": "spectfsl.core.quantify.workflow",
    "lv_function": "spectfsl.core.quantify.function",
    "load_study": "spectfsl.core.files.loader",
    "GatedImage": "spectfsl.core.image",
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
