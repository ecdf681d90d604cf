"""The one store for spectfsl's safetensors files (banks, models) and their metadata.

A file's metadata names its format and version (`spectfsl.bank/1`, `spectfsl.prnet/1`) and the
spectfsl version that wrote it; values that are not strings are stored as JSON. Writes are atomic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from spectfsl import __version__
from spectfsl.core.files.atomic import atomic_file
from spectfsl.errors import SpectfslError

Info = TypeVar("Info")


def save_tensors(path: str | os.PathLike, tensors: dict[str, Any], file_format: str, metadata: dict[str, Any]) -> None:
    """Write `tensors` (name -> torch.Tensor) with `metadata` to a safetensors file, atomically."""
    from safetensors.torch import save

    header = {"format": file_format, "spectfsl_version": __version__}
    header.update({key: json.dumps(value) for key, value in metadata.items()})
    contiguous = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    content = canonical_bytes(save(contiguous, metadata=header))
    with atomic_file(path) as temporary:
        Path(temporary).write_bytes(content)


def canonical_bytes(content: bytes) -> bytes:
    """A safetensors file's bytes with its JSON header's keys sorted: the same tensors and metadata
    give the same bytes (safetensors writes its metadata in an arbitrary order), so a file's SHA-256
    identifies its content. The header stays padded to 8 bytes, as the format asks."""
    length = int.from_bytes(content[:8], "little")
    header = json.loads(content[8 : 8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + content[8 + length :]


def file_kind(path: str | os.PathLike) -> str | None:
    """The format kind a spectfsl safetensors file declares (`spectfsl.prnet`), or None when it is not
    one (unreadable, or no spectfsl metadata): readers dispatch on it, `load_tensors` checks the rest."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            found = (handle.metadata() or {}).get("format")
    except (SafetensorError, OSError, ValueError):
        return None
    return None if found is None else found.partition("/")[0]


def load_tensors(path: str | os.PathLike, file_format: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, metadata) of a spectfsl safetensors file; refuses another format or a newer version.

    `file_format` names the newest version the caller reads (`spectfsl.prnet/2`); older versions of
    the same format are read too (a writer uses the lowest version whose readers understand the file).
    """
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
    if not (found_version.isdigit() and 1 <= int(found_version) <= int(version)):
        raise SpectfslError(
            f"{path}: format version {found} is not supported by spectfsl {__version__} (expects {file_format})"
        )
    metadata: dict[str, Any] = {"format": found, "spectfsl_version": header.get("spectfsl_version")}
    for key, value in header.items():
        if key not in metadata:
            if len(value) > MAX_METADATA_CHARS:
                raise SpectfslError(f"{path}: corrupt metadata entry '{key}' ({len(value):,} characters)")
            try:
                metadata[key] = json.loads(value)
            except (ValueError, RecursionError):
                raise SpectfslError(f"{path}: corrupt metadata entry '{key}'") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise SpectfslError(f"{path}: corrupt file: tensor '{name}' holds NaN or infinite values")
    return tensors, metadata


def load_with_info(
    path: str | os.PathLike, file_format: str, info_type: type[Info]
) -> tuple[dict[str, Any], Info, dict[str, Any]]:
    """(tensors, metadata as `info_type`, all metadata) of a spectfsl file; refuses missing fields (exit 2).

    `info_type` is a dataclass; metadata keys that are not its fields stay in the returned dict only.
    """
    tensors, metadata = load_tensors(path, file_format)
    names = {field.name for field in dataclasses.fields(info_type)}
    values = {key: value for key, value in metadata.items() if key in names}
    hints = typing.get_type_hints(info_type)
    for key, value in values.items():
        problem = _type_problem(value, hints[key])
        if problem:
            raise SpectfslError(f"{path}: corrupt {file_format} metadata: '{key}' {problem}")
    try:
        info = info_type(**values)
    except TypeError as error:
        raise SpectfslError(f"{path}: {file_format} metadata incomplete ({error})") from None
    return tensors, info, metadata


#: Longest metadata entry (JSON text) and longest string value a spectfsl file may hold.
MAX_METADATA_CHARS = 16 << 20
MAX_STRING_CHARS = 4096


def _type_problem(value: Any, expected: Any) -> str | None:
    """Why `value` (parsed JSON) does not fit the annotation `expected`, or None when it does.

    Understands what spectfsl's metadata dataclasses use: str, int, float, bool, Any, X | None,
    list[X] and dict[str, X]. Floats must be finite; a bool is not a number.
    """
    origin, arguments = typing.get_origin(expected), typing.get_args(expected)
    if expected is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        problems = [_type_problem(value, option) for option in arguments]
        return None if None in problems else problems[0]
    if expected is type(None):
        return None if value is None else "must be null"
    if expected is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if expected is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if expected is str:
        if not isinstance(value, str):
            return "must be a string"
        return None if len(value) <= MAX_STRING_CHARS else f"is a string of {len(value):,} characters"
    if origin is list:
        if not isinstance(value, list):
            return "must be a list"
        problems = [_type_problem(item, arguments[0]) for item in value] if arguments else []
        return next((f"item {problem}" for problem in problems if problem), None)
    if origin is dict:
        if not isinstance(value, dict):
            return "must be an object"
        problems = [_type_problem(item, arguments[1]) for item in value.values()] if arguments else []
        return next((f"entry {problem}" for problem in problems if problem), None)
    return None


def load_checked_state(module: Any, state: dict[str, Any], path: str | os.PathLike, what: str) -> None:
    """Load `state` into the torch `module` after checking that every tensor is there, with the
    module's own shape and dtype; refuses a mismatch naming the file (exit 2)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise SpectfslError(f"{path}: incompatible {what}: weights missing {missing[:3]}, unexpected {unexpected[:3]}")
    for name, tensor in expected.items():
        found = state[name]
        if found.shape != tensor.shape or found.dtype != tensor.dtype:
            raise SpectfslError(
                f"{path}: incompatible {what}: weights do not fit: '{name}' is {found.dtype} "
                f"{tuple(found.shape)}, expected {tensor.dtype} {tuple(tensor.shape)}"
            )
    module.load_state_dict(state)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
