"""The built-in models: files shipped inside the package (no download), each with a model card.

A card (`<name>.card.json` beside the model file) says what the model is for, the data it was trained
on and their licence, the recipe command, seed, commit, the file's SHA-256 and the measured scores.
A model is used only when its file's SHA-256 matches its card, so a damaged or swapped file is
refused rather than quietly giving other answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from spectfsl.core.files.atomic import write_text_atomic
from spectfsl.core.files.store import sha256_of
from spectfsl.errors import SpectfslError

#: What a user types for a built-in model (`--model builtin`, `--init builtin`).
BUILTIN = "builtin"
#: The folder of the package that holds the model files and their cards.
MODELS_PACKAGE = "spectfsl"
MODELS_FOLDER = "weights"


@dataclass(frozen=True)
class BuiltinModel:
    """One built-in model: its name, the kind of model file (`segment`, `prnet`, `anatomy`) and its dimensionality."""

    name: str
    kind: str
    dims: int

    @property
    def file_name(self) -> str:
        return f"{self.name}.safetensors"

    @property
    def card_name(self) -> str:
        return f"{self.name}.card.json"


#: The built-in models: each shipped inside the package (`models/`: its file and card) and remade by its
#: recipe (`spectfsl models make`).
CATALOGUE = (
    BuiltinModel("segment-3d", "segment", 3),
    BuiltinModel("prnet-2d", "prnet", 2),
    BuiltinModel("prnet-3d", "prnet", 3),
    BuiltinModel("anatomy-2d", "anatomy", 2),
    BuiltinModel("anatomy-3d", "anatomy", 3),
)
#: The licence of every built-in model: each is trained on CC BY 4.0 data (and the generated phantom).
LICENCE = "CC BY 4.0"
ATTRIBUTION = "Trained on CC BY 4.0 data: attribute the PhysioNet database as cited in `data` when you share results"
PHYSIONET_CITATION = (
    "Calixto W, Nogueira S, Luz F, Ortiz de Camargo TF. Myocardial perfusion scintigraphy image database "
    "(version 1.0.0). PhysioNet (2025). https://doi.org/10.13026/ce2z-dw74; Goldberger A, et al. PhysioBank, "
    "PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000)."
)


def models_folder() -> Path:
    """Where the package's built-in model files are (inside the installed package)."""
    return Path(str(resources.files(MODELS_PACKAGE) / MODELS_FOLDER))


def named(name: str, among: tuple[BuiltinModel, ...] = CATALOGUE) -> BuiltinModel:
    """The built-in model of that name (among `among`); a clear error naming the others."""
    for model in among:
        if model.name == name:
            return model
    raise SpectfslError(f"no built-in model '{name}' (known: {', '.join(m.name for m in among)})")


def has_builtin(kind: str, dims: int) -> bool:
    """Whether a built-in model of that kind exists for `dims`-D inputs."""
    return any(model.kind == kind and model.dims == dims for model in CATALOGUE)


def default_init(init: str | None, kind: str, dims: int) -> str:
    """Where training starts when `--init` is not given: the built-in model of that kind and
    dimensionality where one ships, else random weights; a given `init` is kept."""
    return init or (BUILTIN if has_builtin(kind, dims) else "random")


def builtin_for(kind: str, dims: int) -> BuiltinModel:
    """The built-in model of a kind and dimensionality; a clear error where there is none."""
    for model in CATALOGUE:
        if model.kind == kind and model.dims == dims:
            return model
    made = ", ".join(f"{m.kind} {m.dims}D" for m in CATALOGUE if m.kind == kind) or "none"
    raise SpectfslError(f"there is no built-in {kind} model for {dims}D inputs (built-in {kind} models: {made})")


def card(model: BuiltinModel) -> dict[str, Any]:
    """The model card (JSON) of a built-in model."""
    path = models_folder() / model.card_name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpectfslError(
            f"built-in model '{model.name}': its card {path} is missing from the installation"
        ) from None
    except (OSError, ValueError) as error:
        raise SpectfslError(f"built-in model '{model.name}': unreadable card {path} ({error})") from None


def model_card(
    model: BuiltinModel, specific: dict[str, Any], seed: int, command: str, commit: str, sha256: str, size: int
) -> dict[str, Any]:
    """A built-in model's card: the common fields around what its recipe says of it (`specific`:
    purpose, classes, made_for, data, settings). Scores are measured apart, by the benchmarks."""
    return {
        "name": model.name,
        "kind": model.kind,
        "dims": model.dims,
        **specific,
        "licence": LICENCE,
        "attribution": ATTRIBUTION,
        "recipe": command,
        "seed": seed,
        "commit": commit,
        "threads": _threads(),
        "sha256": sha256,
        "size_bytes": size,
        "scores": {},
    }


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def card_path_for(model_path: str | Path) -> Path:
    """Where a model file's card goes: beside it, `<stem>.card.json`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.removesuffix(".safetensors") + ".card.json")


def write_card(model_path: str | Path, make_card: Callable[[str, int], dict[str, Any]]) -> dict[str, Any]:
    """Write the card of a model file beside it (atomic); `make_card(sha256, size_bytes)` composes it."""
    model_path = Path(model_path)
    document = make_card(sha256_of(model_path), model_path.stat().st_size)
    write_text_atomic(card_path_for(model_path), json.dumps(document, indent=1) + "\n")
    return document


def verified_path(model: BuiltinModel) -> Path:
    """The built-in model's file, after checking its SHA-256 against its card (exit 2 if it differs)."""
    path = models_folder() / model.file_name
    if not path.is_file():
        raise SpectfslError(
            f"built-in model '{model.name}': {path} is missing from the installation; reinstall spectfsl"
        )
    expected = card(model).get("sha256")
    found = sha256_of(path)
    if found != expected:
        raise SpectfslError(
            f"built-in model '{model.name}': {path} has SHA-256 {found[:12]}..., its card says "
            f"{str(expected)[:12]}...: the file is damaged or was replaced; reinstall spectfsl"
        )
    return path


def parent_record(model: BuiltinModel) -> dict[str, str]:
    """How a model fine-tuned from a built-in one names it: `{"name": "builtin:<name>", "sha256"}`."""
    return {"name": f"{BUILTIN}:{model.name}", "sha256": str(card(model)["sha256"])}


def model_path(model: str | os.PathLike, kind: str, dims: int) -> Path:
    """A model file as given, or for `builtin` the built-in `kind` model of `dims`-D inputs (its
    SHA-256 checked against its card)."""
    return verified_path(builtin_for(kind, dims)) if str(model) == BUILTIN else Path(model)


def parent_of(model: str | os.PathLike, kind: str, dims: int) -> dict[str, str]:
    """How a model trained from `model` (a file, or `builtin`) names its parent: name and SHA-256."""
    if str(model) == BUILTIN:
        return parent_record(builtin_for(kind, dims))
    return {"name": Path(model).name, "sha256": sha256_of(model)}


def catalogue_rows() -> list[dict[str, Any]]:
    """One row per built-in model with its card's main facts (for `spectfsl models list`)."""
    rows = []
    for model in CATALOGUE:
        facts = card(model)
        path = models_folder() / model.file_name
        rows.append(
            {
                "name": model.name,
                "kind": model.kind,
                "dims": model.dims,
                "size_mb": round(path.stat().st_size / 1e6, 2) if path.is_file() else None,
                "sha256": facts.get("sha256"),
                "licence": facts.get("licence"),
            }
        )
    return rows
