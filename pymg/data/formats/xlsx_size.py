"""How much memory reading an ``.xlsx`` sheet will take, found before it is read.

Spreadsheet readers build a dense table of every cell between the first and the last one, and
python-calamine reserves it from the sheet's declared ``<dimension>``; both abort the process
(not a Python exception) when the memory is not there. So the size is decided from the file
first: the zip members and their declared sizes are checked, then the sheet XML is streamed (it
is never held whole) to find its declared range, its rows and any cell far outside them, and the
table the reader would build is held to the memory cap (:mod:`pymg.limits`).
"""

from __future__ import annotations

import re
import zipfile

from pymg.data.formats.checks import FileBudget

__all__ = ["CELL_BYTES", "MAX_COLUMNS", "check_xlsx_size", "column_number"]

CELL_BYTES = 72
"""Bytes python-calamine needs per cell of a dense sheet (measured: 72 on a 20,000 x 411 sheet,
CPython 3.11, python-calamine 0.9)."""

MAX_COLUMNS = 416
"""Widest sheet read (a MiGA sheet has 411 or 412 columns; column ``PA``, the 417th, is refused)."""

_DIMENSION = re.compile(rb'<dimension\s+ref="([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})(\d+))?"')
_ROW_NUMBER = re.compile(rb'<row [^>]*?r="(\d{1,12})"')
_WIDE_CELL = re.compile(rb' r="((?:[P-Z][A-Z])|(?:[A-Z]{3,}))\d')
_CHUNK = 1 << 22
_OVERLAP = 256


def column_number(letters: str) -> int:
    """1-based column number of spreadsheet letters (``A`` -> 1, ``OV`` -> 412)."""
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number


def _far_cell(digits: int) -> re.Pattern[bytes]:
    """Cells whose row number has more than ``digits`` digits."""
    return re.compile(rb' r="[A-Z]{1,3}(\d{%d,12})' % (digits + 1))


def _scan_sheet(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, room: int
) -> tuple[int, int, str]:
    """``(rows, columns, what)``: the extent of the table a reader would build for the sheet
    (the scan stops early once that table needs more than ``room`` bytes)."""
    rows = columns = 0
    declared = ""
    elements = 0
    tail = b""
    first = True
    with zf.open(info) as f:
        while chunk := f.read(_CHUNK):
            data = tail + chunk
            if first:
                match = _DIMENSION.search(data)
                if match and match.group(3):
                    declared = f"{match.group(3).decode()}{match.group(4).decode()}"
                    rows = int(match.group(4))
                    columns = column_number(match.group(3).decode())
                first = False
            elements += (tail[-3:] + chunk).count(b"<row")
            for number in _ROW_NUMBER.findall(data):
                rows = max(rows, int(number))
            wide = _WIDE_CELL.search(data)
            if wide:
                raise ValueError(
                    f"{source}: sheet {info.filename} has a cell in column {wide.group(1).decode()}"
                    f" (beyond column {MAX_COLUMNS}; a MiGA sheet has 411 or 412 columns)"
                )
            for number in _far_cell(len(str(rows))).findall(data):
                rows = max(rows, int(number))
            tail = data[-_OVERLAP:]
            if max(rows, elements) * max(columns, MAX_COLUMNS) * CELL_BYTES > room:
                declared = declared or "?"
                break  # already too large: refused without reading the rest
    what = f"declared range A1:{declared}, " if declared and declared != "?" else ""
    what += "at least " if declared == "?" else ""
    rows = max(rows, elements)
    return rows, max(columns, MAX_COLUMNS if rows else 0), what


def check_xlsx_size(source: str, limit: int | None = None) -> None:
    """Refuse an ``.xlsx`` whose first sheets would need more memory than the cap to read.

    Args:
        source: the file.
        limit: the cap; None resolves it (:func:`pymg.limits.resolve_max_array_bytes`).

    Raises:
        ArrayTooLargeError: the sheet's table (rows x columns x :data:`CELL_BYTES`) or the shared
            strings would need more than the cap (names the file, the sheet, the size and the cap).
        ValueError: not a zip file, or a cell beyond :data:`MAX_COLUMNS`.
    """
    budget = FileBudget(source, limit)
    try:
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                name = info.filename
                if name == "xl/sharedStrings.xml":
                    budget.charge(f"{name} ({info.file_size} bytes of text)", 2 * info.file_size)
                elif name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    room = budget.limit - budget.total
                    rows, columns, what = _scan_sheet(zf, info, source, room)
                    budget.charge(
                        f"sheet {name} ({what}{rows} rows x {columns} columns, "
                        f"{CELL_BYTES} bytes per cell to read)",
                        rows * columns * CELL_BYTES,
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise ValueError(f"{source}: unreadable .xlsx file ({type(exc).__name__}: {exc})") from None
