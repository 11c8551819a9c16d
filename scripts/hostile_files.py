"""Hostile files for the reliability probe and its tests: zip bombs built without writing or
compressing gigabytes (a deflate block of zeros is made once and repeated)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["npy_header", "npz_bomb", "write_zip"]

_CHUNK = 64 << 20


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """The ``.npy`` v1.0 magic + header of a C-order array (what ``np.save`` writes first)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}"
    pad = 64 - (10 + len(text) + 1) % 64
    body = (text + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


def _deflated_zeros(head: bytes, size: int, crc: bool) -> tuple[bytes, int, int]:
    """Raw deflate of ``head`` + ``size`` zero bytes (``size`` a multiple of 64 MiB), its CRC-32
    (0 unless ``crc``) and its length."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(_CHUNK)) + comp.flush(zlib.Z_FULL_FLUSH)
    count = size // _CHUNK
    data = first + block * count + comp.flush(zlib.Z_FINISH)
    check = 0
    if crc:
        check = zlib.crc32(head)
        zeros = bytes(_CHUNK)
        for _ in range(count):
            check = zlib.crc32(zeros, check)
    return data, check, len(head) + count * _CHUNK


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
    raw = buf.getvalue()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return name, comp.compress(raw) + comp.flush(), zlib.crc32(raw), len(raw)


def npz_bomb(path: Path, gib: int = 3, crc: bool = False) -> Path:
    """A score-file-shaped ``.npz`` (``scores``, ``labels``, ``clip_ids``, ``class_names``) whose
    ``scores`` member inflates to ``gib`` GiB of float32 zeros; the file is about 1 MB per GiB.
    """
    n = gib * (1 << 30) // 4 // 2
    head = npy_header((n, 2))
    data, check, size = _deflated_zeros(head, gib << 30, crc)
    members = [
        ("scores.npy", data, check, size),
        _member("labels.npy", np.zeros(n % 1000, np.int64)),
        _member("clip_ids.npy", np.asarray(["a"], dtype=str)),
        _member("class_names.npy", np.asarray(["x", "y"], dtype=str)),
    ]
    write_zip(path, members)
    return path
