"""The MiGA'25 raw release: ``<video>_openpose.xlsx``, one sheet per long video.

The first row is a header; each following row is one frame holding the 137 OpenPose points x
(x, y, confidence) = 411 values (body-25 0-24, face-70 25-94, left hand 95-115, right hand
116-136), in pixels of the 1280x720 video. A leading frame-number column (412 values) is accepted
and dropped; empty cells read as 0 (a missed point). A first row is treated as the header only
when none of its cells is a number.

The sheets hold millions of cells, so they are read with ``python-calamine`` (a Rust reader,
``pip install 'pymg[data]'``); ``openpyxl`` is the fallback when calamine is not installed
(``engine="openpyxl"`` forces it) and is about 4x slower (measured in docs/data.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.sources import ALL_POINTS, VideoKeypoints
from pymg.data.formats.xlsx_size import check_xlsx_size
from pymg.topology.openpose import OPENPOSE_NUM_POINTS

__all__ = ["XLSX_ENGINES", "XLSX_SOURCE", "read_openpose_xlsx"]

XLSX_ENGINES = ("auto", "calamine", "openpyxl")
XLSX_SOURCE = "OpenPose xlsx"
"""The format's name in messages (:attr:`VideoKeypoints.source`); it carries all 137 points."""
_VALUES = OPENPOSE_NUM_POINTS * 3


def _rows_calamine(source: str) -> Iterable[Sequence[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(source)
        sheet = book.get_sheet_by_index(0)
        return sheet.iter_rows()
    except Exception as exc:  # noqa: BLE001 - calamine raises its own error types
        raise ValueError(f"{source}: unreadable .xlsx file ({type(exc).__name__}: {exc})") from exc


def _rows_openpyxl(source: str) -> Iterator[Sequence[Any]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise ValueError(f"{source}: unreadable .xlsx file ({type(exc).__name__}: {exc})") from exc
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def _engine(engine: str) -> str:
    if engine not in XLSX_ENGINES:
        raise ValueError(f"engine must be one of {XLSX_ENGINES}, got {engine!r}")
    if engine != "auto":
        return engine
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        pass
    else:
        return "calamine"
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise ImportError(
            "reading MiGA .xlsx files needs python-calamine (or openpyxl): pip install 'pymg[data]'"
        ) from None
    return "openpyxl"


def _cell(value: Any) -> float | None:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _is_header(row: Sequence[Any]) -> bool:
    cells = [c for c in row if c is not None and c != ""]
    return bool(cells) and all(isinstance(c, str) and _cell(c) is None for c in cells)


def _row_values(cells: list[Any], source: str, row: int) -> np.ndarray:
    if not any(isinstance(c, bool) for c in cells):  # a boolean cell would read as 1.0
        try:  # fast path: every cell is a number
            values = np.asarray(cells, np.float64)
            if values.dtype.kind == "f" and np.isfinite(values).all():
                return values
        except (TypeError, ValueError):
            pass
    out = np.zeros(len(cells), np.float64)
    for j, cell in enumerate(cells):
        if isinstance(cell, bool):
            raise ValueError(
                f"{source}: row {row}, column {j + 1}: {cell!r} is a boolean, not a number"
            )
        value = _cell(cell)
        if value is None or not math.isfinite(value):
            raise ValueError(
                f"{source}: row {row}, column {j + 1}: {cell!r} is not a finite number"
            )
        out[j] = value
    return out


def read_openpose_xlsx(path: str | os.PathLike[str], engine: str = "auto") -> VideoKeypoints:
    """Read a MiGA ``<video>_openpose.xlsx`` sheet.

    Args:
        path: the file.
        engine: ``"auto"`` (calamine, else openpyxl), ``"calamine"`` or ``"openpyxl"``.

    Returns:
        :class:`VideoKeypoints` with ``keypoint`` float32 [1, F, 137, 2] and ``score``
        [1, F, 137] (row ``r`` after the header is frame ``r``), all 137 points carried.

    Raises:
        ImportError: neither reader is installed.
        ValueError: an unreadable file, a row of the wrong width, a non-numeric, boolean or
            non-finite cell (names the file and the sheet row), a cell beyond the sheet's width.
        ArrayTooLargeError: the sheet (its declared range, its rows or a cell far outside them)
            would need more memory to read than the cap (checked before reading: spreadsheet
            readers abort the process when memory runs out).
    """
    source = os.fspath(path)
    chosen = _engine(engine)
    check_xlsx_size(source)
    rows = iter(_rows_calamine(source) if chosen == "calamine" else _rows_openpyxl(source))
    frames: list[np.ndarray] = []
    count = 0  # frames up to the last non-empty row (an empty row inside is a frame of zeros)
    start = 0
    for r, row in enumerate(rows):
        cells = list(row)
        if r == 0 and _is_header(cells):
            start = 1
            continue
        while cells and (cells[-1] is None or cells[-1] == ""):
            cells.pop()
        if not cells:
            frames.append(np.zeros(_VALUES, np.float32))
            continue
        if len(cells) == _VALUES + 1:
            cells = cells[1:]
        if len(cells) != _VALUES:
            raise ValueError(
                f"{source}: row {r + 1} has {len(cells)} values, expected {_VALUES} "
                "(137 points x (x, y, conf), optionally after a frame-number column)"
            )
        frames.append(_row_values(cells, source, r + 1).astype(np.float32))
        count = r - start + 1
    if count == 0:
        raise ValueError(f"{source}: no frame rows after the header")
    data = np.stack(frames[:count])
    pts = data[:count].reshape(1, count, OPENPOSE_NUM_POINTS, 3)
    return VideoKeypoints(
        keypoint=np.ascontiguousarray(pts[..., :2]),
        score=np.ascontiguousarray(pts[..., 2]),
        carried=ALL_POINTS,
        source=XLSX_SOURCE,
        path=source,
    )
