"""Detection and ground-truth CSV files: one segment per row, ``video,start,end,label[,score]``.

Both files start with a header row naming their columns (any order; extra columns such as the
``class_name`` that ``pymg detect`` writes are accepted and ignored). Frames are 0-based and
inclusive, labels 0-based classes. Ground truth needs ``video,start,end,label``; detections need
``score`` as well. Parsing is strict: every bad row is a :class:`ValueError` naming the file and its
line (a missing column, a non-integer frame, ``end < start``, a negative frame or class, a score
that is not a finite number). A file holding only its header has no rows (an empty detections
file is valid: nothing was detected); a file without even a header is an error.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DETECTION_COLUMNS",
    "GROUND_TRUTH_COLUMNS",
    "SegmentRow",
    "read_detections_csv",
    "read_ground_truth_csv",
    "write_segments_csv",
]

GROUND_TRUTH_COLUMNS = ("video", "start", "end", "label")
DETECTION_COLUMNS = (*GROUND_TRUTH_COLUMNS, "score")


@dataclass(frozen=True)
class SegmentRow:
    """One row of a detections or ground-truth file.

    Attributes:
        video: the video id.
        start, end: first and last frame (0-based, inclusive).
        label: the 0-based class.
        score: the detection's confidence (1.0 for ground truth).
        line: the 1-based line of the file (0 when the row did not come from a file).
    """

    video: str
    start: int
    end: int
    label: int
    score: float = 1.0
    line: int = 0

    @property
    def where(self) -> str:
        """``"line N"`` or ``"row"`` for messages."""
        return f"line {self.line}" if self.line else "row"


def _integer(cell: str, where: str, what: str) -> int:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {what} must be an integer, got {cell!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{where}: {what} must be an integer, got {cell!r}")
    return int(value)


def _read(
    path: str | os.PathLike[str], needed: Sequence[str], num_classes: int | None
) -> list[SegmentRow]:
    source = os.fspath(path)
    try:
        with open(source, newline="", encoding="utf-8-sig") as f:
            rows = list(enumerate(csv.reader(f), start=1))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not a text CSV file ({exc})") from None
    rows = [(n, [c.strip() for c in r]) for n, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{source}: empty file; expected a header row {','.join(needed)}")
    head_line, header = rows[0]
    columns = {name.lower(): i for i, name in enumerate(header)}
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValueError(
            f"{source}:{head_line}: header {','.join(header)} lacks column(s) {', '.join(missing)} "
            f"(expected {','.join(needed)})"
        )
    out = []
    for line, cells in rows[1:]:
        where = f"{source}:{line}"
        if len(cells) < len(header):
            raise ValueError(f"{where}: {len(cells)} cells, the header names {len(header)}")
        video = cells[columns["video"]]
        if not video:
            raise ValueError(f"{where}: empty video id")
        start = _integer(cells[columns["start"]], where, "start frame")
        end = _integer(cells[columns["end"]], where, "end frame")
        label = _integer(cells[columns["label"]], where, "label")
        if start < 0:
            raise ValueError(f"{where}: negative start frame {start}")
        if end < start:
            raise ValueError(f"{where}: end frame {end} before start frame {start}")
        if label < 0 or (num_classes is not None and label >= num_classes):
            bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise ValueError(f"{where}: label {label} out of range {bound}")
        score = 1.0
        if "score" in needed:
            text = cells[columns["score"]]
            try:
                score = float(text)
            except ValueError:
                raise ValueError(f"{where}: score must be a number, got {text!r}") from None
            if not math.isfinite(score):
                raise ValueError(f"{where}: score must be finite, got {text!r}")
        out.append(SegmentRow(video, start, end, label, score, line))
    return out


def read_detections_csv(
    path: str | os.PathLike[str], num_classes: int | None = None
) -> list[SegmentRow]:
    """Read a detections file (header with ``video,start,end,label,score``), rows in file order.

    Raises:
        ValueError: an empty file, a missing column, or a bad row (names the file and line).
    """
    return _read(path, DETECTION_COLUMNS, num_classes)


def read_ground_truth_csv(
    path: str | os.PathLike[str], num_classes: int | None = None
) -> list[SegmentRow]:
    """Read a ground-truth file (header with ``video,start,end,label``), rows in file order.

    Overlaps are checked by the evaluator
    (:func:`pymg.engine.detection_metrics.check_ground_truth`).

    Raises:
        ValueError: an empty file, a missing column, or a bad row (names the file and line).
    """
    return _read(path, GROUND_TRUTH_COLUMNS, num_classes)


def write_segments_csv(
    path: str | os.PathLike[str],
    rows: Iterable[SegmentRow],
    *,
    scores: bool = True,
    class_names: Sequence[str] | None = None,
) -> str:
    """Write rows as a detections (``scores=True``) or ground-truth file; returns the path.

    With ``class_names`` a ``class_name`` column follows ``label`` (readers ignore it).
    """
    target = os.fspath(path)
    header = list(GROUND_TRUTH_COLUMNS) + (["class_name"] if class_names else [])
    header += ["score"] if scores else []
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in rows:
            row: list[object] = [r.video, r.start, r.end, r.label]
            if class_names:
                row.append(class_names[r.label] if 0 <= r.label < len(class_names) else "")
            if scores:
                row.append(repr(float(r.score)))
            writer.writerow(row)
    return target
