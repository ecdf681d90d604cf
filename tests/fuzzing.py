"""A seeded mutator for image files: each mutation is a list of explicit edits, so a case that once
failed can be kept as a recipe (source file + edits) and replayed exactly, whatever the RNG.

Mutations: truncation, flipped header bytes, flipped pixel bytes, random tails, lying lengths and
lying value representations (DICOM element headers), lying dimensions (NIfTI, NPY, PNG headers).
Gzipped files (`.nii.gz`) are mutated inside the gzip stream, or as raw compressed bytes.
"""

from __future__ import annotations

import gzip
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: DICOM value representations with a 4-byte length in explicit VR (after two reserved bytes).
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
SHORT_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
    b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
}  # fmt: skip
ALL_VRS = sorted(LONG_VRS | SHORT_VRS)


@dataclass
class Mutation:
    """Edits applied in order: ("put", offset, hex bytes), ("cut", length), ("tail", hex bytes).

    `inner` is True when the edits apply to the gunzipped bytes of a .gz file (re-gzipped after).
    """

    kind: str
    edits: list[list] = field(default_factory=list)
    inner: bool = False

    def apply(self, data: bytes) -> bytes:
        gzipped = data[:2] == b"\x1f\x8b"
        if self.inner and gzipped:
            return gzip.compress(_edit(gzip.decompress(data), self.edits), mtime=0)
        return _edit(data, self.edits)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "edits": self.edits, "inner": self.inner}


def _edit(data: bytes, edits: list[list]) -> bytes:
    out = bytearray(data)
    for edit in edits:
        if edit[0] == "put":
            offset, value = edit[1], bytes.fromhex(edit[2])
            if offset < len(out):
                out[offset : offset + len(value)] = value
        elif edit[0] == "cut":
            del out[edit[1] :]
        elif edit[0] == "tail":
            out += bytes.fromhex(edit[1])
    return bytes(out)


def _header_end(data: bytes) -> int:
    """Where a file's pixel bytes roughly start: the DICOM pixel data element, else a format guess."""
    marker = data.rfind(b"\xe0\x7f\x10\x00")
    if marker > 0:
        return marker
    if data[:6] == b"\x93NUMPY":
        return 10 + struct.unpack("<H", data[8:10])[0]
    if data[:4] == b"\x89PNG":
        return 33
    return min(352, len(data) // 2)


def _element_headers(data: bytes, end: int) -> list[tuple[int, bytes]]:
    """(offset of the VR, VR) of explicit-VR element headers found before `end`."""
    found = []
    for match in re.finditer(rb"[A-Z]{2}", data[:end]):
        vr = match.group()
        start = match.start()
        if (vr in LONG_VRS or vr in SHORT_VRS) and start >= 4 and data[start - 4] % 2 == 0:
            found.append((start, vr))  # after a 4-byte tag of an even (standard) group
    return found


def mutate(data: bytes, rng: np.random.Generator) -> Mutation:
    """One random mutation of `data` (a file's bytes)."""
    gzipped = data[:2] == b"\x1f\x8b"
    inner = gzipped and rng.random() < 0.8
    body = gzip.decompress(data) if inner else data
    kinds = ["truncate", "header_bytes", "pixel_bytes", "tail", "length", "vr", "dimension"]
    kind = kinds[rng.integers(len(kinds))]
    end = _header_end(body)

    def hexbytes(n: int) -> str:
        return rng.integers(0, 256, n, dtype=np.uint8).tobytes().hex()

    edits: list[list] = []
    if kind == "truncate":
        edits.append(["cut", int(rng.integers(0, len(body)))])
    elif kind == "header_bytes":
        for _ in range(int(rng.integers(1, 9))):
            edits.append(["put", int(rng.integers(0, max(end, 1))), hexbytes(1)])
    elif kind == "pixel_bytes":
        for _ in range(int(rng.integers(1, 65))):
            edits.append(["put", int(rng.integers(min(end, len(body) - 1), len(body))), hexbytes(1)])
    elif kind == "tail":
        edits.append(["tail", hexbytes(int(rng.integers(1, 4096)))])
    elif kind in ("length", "vr"):
        headers = _element_headers(body, end)
        if not headers:
            return mutate(data, rng)
        offset, vr = headers[rng.integers(len(headers))]
        if kind == "vr":
            edits.append(["put", offset, ALL_VRS[rng.integers(len(ALL_VRS))].hex()])
        else:
            lying = [0, 1, 0xFFFF, 0xFFFFFFFF, int(rng.integers(0, 1 << 32)), len(body), len(body) * 7]
            value = lying[rng.integers(len(lying))]
            if vr in LONG_VRS:
                edits.append(["put", offset + 4, struct.pack("<I", value & 0xFFFFFFFF).hex()])
            else:
                edits.append(["put", offset + 2, struct.pack("<H", value & 0xFFFF).hex()])
    else:  # dimension
        edits.extend(_lying_dimensions(body, rng))
    return Mutation(kind, edits, inner)


def _lying_dimensions(body: bytes, rng: np.random.Generator) -> list[list]:
    """Edits that make a header claim other (often huge) image dimensions."""
    sizes = [0, 1, 7, 65535, 1 << 20, 1 << 31, int(rng.integers(0, 1 << 16))]
    value = sizes[rng.integers(len(sizes))]
    if body[:4] == b"\x89PNG":  # IHDR width or height, with a recomputed CRC so the chunk still parses
        ihdr = bytearray(body[12:29])
        offset = 4 + 4 * int(rng.integers(2))
        ihdr[offset : offset + 4] = struct.pack(">I", value & 0x7FFFFFFF)
        return [["put", 12, bytes(ihdr).hex() + struct.pack(">I", zlib.crc32(bytes(ihdr))).hex()]]
    if body[:6] == b"\x93NUMPY":
        header_length = struct.unpack("<H", body[8:10])[0]
        header = body[10 : 10 + header_length].decode("latin1")
        lies = [f"({value}, {value})", f"({value},)", f"(2, {value}, 3)", "()", f"({value}, -1)"]
        new = re.sub(r"\([^)]*\)", lies[rng.integers(len(lies))], header, count=1)
        new = new.rstrip().ljust(header_length - 1) + "\n"
        return [["put", 10, new[:header_length].encode("latin1").hex()]]
    if len(body) >= 348 and struct.unpack("<i", body[:4])[0] == 348:  # NIfTI-1 dim[0..7] at 40
        index = int(rng.integers(0, 8))
        return [["put", 40 + 2 * index, struct.pack("<h", value & 0x7FFF if rng.random() < 0.8 else -1).hex()]]
    # DICOM Rows (0028,0010), Columns (0028,0011) or NumberOfFrames (0028,0008)
    tags = [b"\x28\x00\x10\x00US", b"\x28\x00\x11\x00US", b"\x28\x00\x08\x00IS"]
    tag = tags[rng.integers(len(tags))]
    position = body.find(tag)
    if position < 0:
        return [["put", int(rng.integers(0, len(body))), "ff"]]
    if tag.endswith(b"US"):
        return [["put", position + 8, struct.pack("<H", value & 0xFFFF).hex()]]
    length = struct.unpack("<H", body[position + 6 : position + 8])[0]
    text = str(value).encode()[:length].ljust(length)
    return [["put", position + 8, text.hex()]]


def write_case(source: Path, mutation: Mutation, folder: Path) -> Path:
    """The mutated copy of `source` in `folder`, under the same file name (suffixes matter)."""
    target = folder / source.name
    target.write_bytes(mutation.apply(source.read_bytes()))
    return target
