"""Label files of the MiGA / iMiGUE releases: ``<video>_label.csv``.

One row per clip, no header in the real releases: ``class,start,end`` (class 1..31 or 99 for
"illustrative body language", frames numbered from 0, ``end`` inclusive). A file whose rows have
only ``start,end`` describes unlabelled clips (a challenge test split): their label is -1.

Parsing is strict, because a silently dropped or shifted row moves every clip id after it:

* a first row is taken as a header only when *none* of its cells is a number (``label,start,end``);
  a row with a typo (``1,0,9O``) is an error, not a header;
* frame numbers and classes must be integers: ``12`` and ``12.0`` are accepted, ``12.5``, ``inf``
  and ``nan`` are errors;
* every error is a :class:`ValueError` naming the file and the line; text that is not UTF-8 and
  cells over the csv module's field limit included;
* a file with no data row (empty, or a header only) gives no clips and warns
  (:class:`~pymg.data.formats.checks.MalformedDataWarning`) naming the file.

Clip ``k`` of a video is the ``k``-th data row (0-based), whatever other rows hold.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from dataclasses import dataclass

from pymg.data.formats.checks import MalformedDataWarning
from pymg.data.formats.sources import MAX_VIDEO_FRAMES
from pymg.data.formats.text import read_text

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
            labelled and unlabelled rows, ``end < start``, a negative frame or one past
            :data:`~pymg.data.formats.sources.MAX_VIDEO_FRAMES`, a cell over the csv field
            limit, text that is not UTF-8 (names file:line).
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    rows: list[Segment] = []
    widths: set[int] = set()
    reader = csv.reader(io.StringIO(read_text(source, "label CSV"), newline=""))
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. "field larger than field limit (131072)"
            raise ValueError(f"{source}:{reader.line_num}: not a label CSV row ({exc})") from None
        line_no = reader.line_num
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
        rows.append(_segment(cells, row, where, line_no))
        widths.add(len(cells))
        if len(widths) > 1:
            raise ValueError(f"{where}: mixes labelled (3-cell) and unlabelled (2-cell) rows")
    if not rows:
        warnings.warn(
            f"{source}: no label rows (an empty or header-only label file): its video gives no "
            "clips",
            MalformedDataWarning,
            stacklevel=2,
        )
    return rows


def _segment(cells: list[str], row: list[str], where: str, line_no: int) -> Segment:
    if len(cells) not in (2, 3):
        shown = row if sum(len(c) for c in row) <= 200 else f"{str(row)[:200]}..."
        raise ValueError(
            f"{where}: expected class,start,end (or start,end for unlabelled clips), "
            f"got {len(cells)} cells {shown}"
        )
    raw = _integer(cells[0], where, "class") if len(cells) == 3 else None
    start = _integer(cells[-2], where, "start frame")
    end = _integer(cells[-1], where, "end frame")
    if start < 0:
        raise ValueError(f"{where}: negative start frame {start}")
    if end < start:
        raise ValueError(f"{where}: end frame {end} before start frame {start}")
    if end >= MAX_VIDEO_FRAMES:
        raise ValueError(
            f"{where}: end frame {cells[-1]} is past the {MAX_VIDEO_FRAMES} frames a video may have"
        )
    return Segment(raw, start, end, line_no)
