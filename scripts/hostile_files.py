"""Hostile files for the reliability probe and its tests: zip bombs built without writing or
compressing gigabytes (a deflate block of zeros is made once and repeated)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["deflate_member", "deflated_repeat", "npy_header", "npz_bomb", "write_zip"]

_CHUNK = 64 << 20


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """The ``.npy`` v1.0 magic + header of a C-order array (what ``np.save`` writes first)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = 64 - (10 + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


def deflated_repeat(
    head: bytes, chunk: bytes, count: int, tail: bytes = b"", crc: bool = True
) -> tuple[bytes, int, int]:
    """Raw deflate of ``head + chunk * count + tail`` made by compressing ``chunk`` once (a
    full flush resets the compressor, so the block repeats byte for byte); returns the data,
    its CRC-32 (0 unless ``crc``) and the uncompressed length."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    data = first + block * count + comp.compress(tail) + comp.flush(zlib.Z_FINISH)
    check = 0
    if crc:
        check = zlib.crc32(head)
        for _ in range(count):
            check = zlib.crc32(chunk, check)
        check = zlib.crc32(tail, check)
    return data, check, len(head) + count * len(chunk) + len(tail)


def deflate_member(name: str, raw: bytes) -> tuple[str, bytes, int, int]:
    """A ``write_zip`` member holding ``raw``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, comp.compress(raw) + comp.flush(), zlib.crc32(raw), len(raw)


def write_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """A zip of deflated ``(name, raw deflate data, crc32, uncompressed size)`` members (each
    under 4 GiB: no zip64 records)."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        raw = name.encode()
        offset = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data),
                             size, len(raw), 0) + raw + data  # fmt: skip
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                               len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw  # fmt: skip
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(local), 0)  # fmt: skip
    path.write_bytes(bytes(local + central + end))


def _member(name: str, array: np.ndarray) -> tuple[str, bytes, int, int]:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return deflate_member(name, buf.getvalue())


def npz_bomb(path: Path, gib: int = 3, crc: bool = False) -> Path:
    """A score-file-shaped ``.npz`` (``scores``, ``labels``, ``clip_ids``, ``class_names``) whose
    ``scores`` member inflates to ``gib`` GiB of float32 zeros; the file is about 1 MB per GiB.
    """
    n = gib * (1 << 30) // 4 // 2
    head = npy_header((n, 2))
    data, check, size = deflated_repeat(head, bytes(_CHUNK), (gib << 30) // _CHUNK, crc=crc)
    members = [
        ("scores.npy", data, check, size),
        _member("labels.npy", np.zeros(n % 1000, np.int64)),
        _member("clip_ids.npy", np.asarray(["a"], dtype=str)),
        _member("class_names.npy", np.asarray(["x", "y"], dtype=str)),
    ]
    write_zip(path, members)
    return path
