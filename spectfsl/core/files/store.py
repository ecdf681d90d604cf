"""The one store for spectfsl's safetensors files (banks, models) and their metadata.

A file's metadata names its format and version (`spectfsl.bank/1`, `spectfsl.prnet/1`) and the
spectfsl version that wrote it; values that are not strings are stored as JSON. Writes are atomic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from spectfsl import __version__
from spectfsl.core.files.atomic import atomic_file
from spectfsl.errors import SpectfslError

Info = TypeVar("Info")


def save_tensors(path: str | os.PathLike, tensors: dict[str, Any], file_format: str, metadata: dict[str, Any]) -> None:
    """Write `tensors` (name -> torch.Tensor) with `metadata` to a safetensors file, atomically."""
    from safetensors.torch import save_file

    header = {"format": file_format, "spectfsl_version": __version__}
    header.update({key: json.dumps(value) for key, value in metadata.items()})
    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    with atomic_file(path) as temporary:
        save_file(contiguous, str(temporary), metadata=header)


def load_tensors(path: str | os.PathLike, file_format: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of a spectfsl safetensors file; refuses another format or a newer version."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise SpectfslError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise SpectfslError(f"{path}: not a readable safetensors file ({error})") from None
    found = header.get("format")
    if found is None:
        raise SpectfslError(f"{path}: safetensors file without spectfsl metadata (expected {file_format})")
    kind, _, version = file_format.partition("/")
    found_kind, _, found_version = found.partition("/")
    if found_kind != kind:
        raise SpectfslError(f"{path}: is a {found} file, expected {file_format}")
    if found_version != version:
        raise SpectfslError(
            f"{path}: format version {found} is not supported by spectfsl {__version__} (expects {file_format})"
        )
    metadata: dict[str, Any] = {"format": found, "spectfsl_version": header.get("spectfsl_version")}
    for key, value in header.items():
        if key not in metadata:
            try:
                metadata[key] = json.loads(value)
            except ValueError:
                raise SpectfslError(f"{path}: corrupt metadata entry '{key}'") from None
    return tensors, metadata


def load_with_info(
    path: str | os.PathLike, file_format: str, info_type: type[Info]
) -> tuple[dict[str, Any], Info, dict[str, Any]]:
    """(tensors, metadata as `info_type`, all metadata) of a spectfsl file; refuses missing fields (exit 2).

    `info_type` is a dataclass; metadata keys that are not its fields stay in the returned dict only.
    """
    tensors, metadata = load_tensors(path, file_format)
    names = {field.name for field in dataclasses.fields(info_type)}
    try:
        info = info_type(**{key: value for key, value in metadata.items() if key in names})
    except TypeError as error:
        raise SpectfslError(f"{path}: {file_format} metadata incomplete ({error})") from None
    return tensors, info, metadata


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
