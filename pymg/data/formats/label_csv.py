"""Label files of the MiGA / iMiGUE releases: ``<video>_label.csv``.

One row per clip, no header in the real releases: ``class,start,end`` (class 1..31 or 99 for
"illustrative body language", frames numbered from 0, ``end`` inclusive). A file whose rows have
only ``start,end`` describes unlabelled clips (a challenge test split): their label is -1.

Parsing is strict, because a silently dropped or shifted row moves every clip id after it:

* a first row is taken as a header only when *none* of its cells is a number (``label,start,end``);
  a row with a typo (``1,0,9O``) is an error, not a header;
* frame numbers and classes must be integers: ``12`` and ``12.0`` are accepted, ``12.5``, ``inf``
  and ``nan`` are errors;
* every error is a :class:`ValueError` naming the file and the line.

Clip ``k`` of a video is the ``k``-th data row (0-based), whatever other rows hold.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

__all__ = ["Segment", "map_miga_label", "read_label_csv"]


@dataclass(frozen=True)
class Segment:
    """One row of a label file.

    Attributes:
        raw_label: the class as written (1..31, 99), or None for an unlabelled row.
        start: first frame (as written, see ``frame_base`` of the readers).
        end: last frame, inclusive.
        line: the 1-based line of the file.
    """

    raw_label: int | None
    start: int
    end: int
    line: int


def map_miga_label(raw: int) -> int:
    """MiGA/iMiGUE raw class -> 0-based index: 1..31 -> 0..30, 99 (or 32) -> 31.

    Raises:
        ValueError: any other value.
    """
    if 1 <= raw <= 31:
        return raw - 1
    if raw in (32, 99):
        return 31
    raise ValueError(f"raw MiGA label must be 1..31, 32 or 99, got {raw}")


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _integer(cell: str, where: str, what: str) -> int:
    value = _number(cell)
    if value is None or not math.isfinite(value) or value != int(value):
        raise ValueError(f"{where}: {what} must be an integer, got {cell!r}")
    return int(value)


def read_label_csv(path: str | os.PathLike[str]) -> list[Segment]:
    """Read a ``<video>_label.csv`` file (see the module docstring for the rules).

    Args:
        path: the file.

    Returns:
        One :class:`Segment` per data row, in file order (clip ``k`` = item ``k``).

    Raises:
        ValueError: a row that is not ``class,start,end`` or ``start,end`` integers, a mix of
            labelled and unlabelled rows, ``end < start`` or a negative frame (names file:line).
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    rows: list[Segment] = []
    widths: set[int] = set()
    try:
        with open(source, newline="", encoding="utf-8-sig") as f:
            lines = list(enumerate(csv.reader(f), start=1))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not a text CSV file ({exc})") from None
    first = True
    for line_no, row in lines:
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if not cells:
            continue
        where = f"{source}:{line_no}"
        if first:
            first = False
            if all(_number(c) is None for c in cells):
                continue  # a header row: no cell is a number
        if len(cells) not in (2, 3):
            raise ValueError(
                f"{where}: expected class,start,end (or start,end for unlabelled clips), "
                f"got {len(cells)} cells {row}"
            )
        widths.add(len(cells))
        if len(widths) > 1:
            raise ValueError(f"{where}: mixes labelled (3-cell) and unlabelled (2-cell) rows")
        raw = _integer(cells[0], where, "class") if len(cells) == 3 else None
        start = _integer(cells[-2], where, "start frame")
        end = _integer(cells[-1], where, "end frame")
        if start < 0:
            raise ValueError(f"{where}: negative start frame {start}")
        if end < start:
            raise ValueError(f"{where}: end frame {end} before start frame {start}")
        rows.append(Segment(raw, start, end, line_no))
    return rows
