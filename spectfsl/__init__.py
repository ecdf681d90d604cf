"""spectfsl: few-shot tissue classification and anatomical localisation in SPECT.

Everything a command does is callable from Python; names load lazily, so `import spectfsl` stays
light (torch is imported when a model-related name is first used):

>>> from pathlib import Path
>>> import spectfsl
>>> _ = spectfsl.write_phantom("phantom", patients=2)
>>> scans, labels = sorted(Path("phantom").glob("*/spect.dcm")), sorted(Path("phantom").glob("*/labels.npy"))
>>> _ = spectfsl.prepare(scans, "ds", labels=labels, settings=spectfsl.PrepareSettings(slices=False))
>>> settings = spectfsl.FitSettings(weights="random", fine_tune=spectfsl.FineTuneSettings(episodes=2))
>>> classifier, info, weights = spectfsl.fit_bank(spectfsl.read_dataset("ds"), settings)
>>> spectfsl.save_bank("bank.safetensors", classifier, info, weights)
>>> sorted(info.classes)
['liver', 'myocardium', 'ventricles']

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
    "prepare": "spectfsl.core.data.prepare",
    "read_dataset": "spectfsl.core.data.datasets",
    "find_heart": "spectfsl.core.processing.heart",
    "create_model": "spectfsl.core.proto.backbones",
    "resolve_weights": "spectfsl.core.networks.weights",
    "PrototypicalClassifier": "spectfsl.core.proto.prototypes",
    "FitSettings": "spectfsl.core.proto.workflows",
    "FineTuneSettings": "spectfsl.core.proto.episodes",
    "EpisodeShape": "spectfsl.core.proto.episodes",
    "EvaluateSettings": "spectfsl.core.proto.evaluation",
    "fit_bank": "spectfsl.core.proto.workflows",
    "predict_images": "spectfsl.core.proto.workflows",
    "evaluate_dataset": "spectfsl.core.proto.evaluation",
    "evaluate_folder": "spectfsl.core.proto.evaluation",
    "bank_embedding": "spectfsl.core.proto.evaluation",
    "weights_embedding": "spectfsl.core.proto.evaluation",
    "save_bank": "spectfsl.core.proto.bank",
    "cross_validate": "spectfsl.core.proto.crossval",
    "load_bank": "spectfsl.core.proto.bank",
    "SegmentSettings": "spectfsl.core.segment.settings",
    "SegmentClasses": "spectfsl.core.segment.support",
    "fit_segmenter": "spectfsl.core.segment.workflows",
    "segment_image": "spectfsl.core.segment.workflows",
    "open_segmenter": "spectfsl.core.segment.model_file",
    "save_segmenter": "spectfsl.core.segment.model_file",
    "catalogue_rows": "spectfsl.core.files.catalogue",
    "PRNetSettings": "spectfsl.core.prnet.training",
    "train_model": "spectfsl.core.prnet.training",
    "open_prnet": "spectfsl.core.prnet.model_file",
    "save_prnet": "spectfsl.core.prnet.model_file",
    "load_grid": "spectfsl.core.prnet.grid",
    "load_grid_volume": "spectfsl.core.prnet.grid",
    "locate_rows": "spectfsl.core.prnet.locate",
    "open_localiser": "spectfsl.core.prnet.localisers",
    "train_embedding": "spectfsl.core.prnet.embedding",
    "evaluate_localisation": "spectfsl.core.prnet.evaluate",
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
