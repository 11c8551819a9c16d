"""Reading the release's text files (CSV, JSON) with their size and encoding checked first.

:func:`read_text` is the one way the readers open a text file: the file's size is held to the
memory cap (:mod:`pymg.limits`) *before* it is read, so a 2 GB sparse file fails at once with the
size and the limit, and text that is not UTF-8 (a Latin-1 or UTF-16 export) fails with the file,
the line and the encoding expected instead of a bare ``UnicodeDecodeError``.
"""

from __future__ import annotations

import codecs
import os

from pymg.data.formats.checks import ArrayTooLargeError
from pymg.limits import check_nbytes

__all__ = ["PARSE_FACTOR", "read_text"]

PARSE_FACTOR = 4
"""Bytes of memory that parsing one byte of text needs at most (the text, its lines, the
numbers): a text file may be at most 1/4 of the memory cap."""

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def read_text(path: str | os.PathLike[str], what: str, limit: int | None = None) -> str:
    """The text of a UTF-8 file (a UTF-8 byte-order mark is dropped).

    Args:
        path: the file.
        what: the kind of file, for messages (``"label CSV"``).
        limit: the memory cap; None resolves it (:func:`pymg.limits.resolve_max_array_bytes`).

    Raises:
        ArrayTooLargeError: parsing the file would need more than the cap (checked from its size,
            before reading).
        ValueError: the text is UTF-16/32 or not UTF-8 (names the file, line and the encoding
            expected).
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    size = os.path.getsize(source)
    check_nbytes(
        source,
        f"parsing this {what} of {size} bytes (about {PARSE_FACTOR}x its size)",
        PARSE_FACTOR * size,
        limit,
        error=ArrayTooLargeError,
    )
    with open(source, "rb") as f:
        data = f.read()
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ValueError(
                f"{source}: a {name} text file (byte-order mark {bom.hex()}); {what} files are "
                "read as UTF-8: save it as UTF-8"
            )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{source}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}; a Latin-1 or Windows-1252 export?); {what} files are read as UTF-8: "
            "save it as UTF-8"
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ValueError(
            f"{source}:{line}: holds NUL characters (UTF-16 text without a byte-order mark?); "
            f"{what} files are read as UTF-8: save it as UTF-8"
        )
    return text
