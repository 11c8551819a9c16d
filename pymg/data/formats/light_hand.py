"""The public iMiGUE / MiGA'23 skeleton release: ``<NNNN>/<NNNN>_light_hand.csv``.

One file per video, no header, one row per frame, 106 columns:

=========  =====================================================================
column     content
=========  =====================================================================
0          frame number (0-based; rows are placed at this frame)
1-75       25 BODY_25 points x (x, y, confidence), OpenPose order 0-24
76-90      5 fingertips (thumb, index, middle, ring, little) of one hand
91-105     5 fingertips of the other hand
=========  =====================================================================

The release writes the right hand's fingertips first (``hand_order="right_left"``, the default);
at least one later loader reads them the other way round, so the order is an explicit argument.
The file holds no face points: the 22-joint ``imigue22`` layout (and COCO-17, OpenPose-18) can be
built from it, ``imigue41`` cannot. Missing frame numbers are frames without a detection; a first
row is skipped as a header only when none of its cells is a number.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from pymg.data.formats.sources import VideoKeypoints, check_frame_count
from pymg.data.formats.text import read_text
from pymg.topology.openpose import (
    OPENPOSE_LEFT_HAND_OFFSET,
    OPENPOSE_NUM_POINTS,
    OPENPOSE_RIGHT_HAND_OFFSET,
)

__all__ = [
    "HAND_ORDERS",
    "LIGHT_HAND_CARRIED",
    "LIGHT_HAND_COLUMNS",
    "LIGHT_HAND_SOURCE",
    "light_hand_points",
    "read_light_hand_csv",
]

LIGHT_HAND_COLUMNS = 1 + 35 * 3
"""Columns of a ``_light_hand.csv`` row: frame number + 35 points x (x, y, conf)."""
HAND_ORDERS = ("right_left", "left_right")
"""Values of ``hand_order``: which hand's fingertips come first (columns 76-90)."""
_TIPS = (4, 8, 12, 16, 20)  # thumb, index, middle, ring, little tip in OpenPose's hand-21


def light_hand_points(hand_order: str = "right_left") -> np.ndarray:
    """OpenPose-137 index of each of the 35 points of a row, in file order.

    Args:
        hand_order: ``"right_left"`` (the release) or ``"left_right"``.

    Returns:
        int64 [35]: BODY_25 0-24, then the first hand's tips, then the second hand's.
    """
    if hand_order not in HAND_ORDERS:
        raise ValueError(f"hand_order must be one of {HAND_ORDERS}, got {hand_order!r}")
    right = [OPENPOSE_RIGHT_HAND_OFFSET + k for k in _TIPS]
    left = [OPENPOSE_LEFT_HAND_OFFSET + k for k in _TIPS]
    hands = right + left if hand_order == "right_left" else left + right
    return np.asarray(list(range(25)) + hands, np.int64)


LIGHT_HAND_SOURCE = "light_hand CSV"
"""The format's name in messages (:attr:`VideoKeypoints.source`)."""
LIGHT_HAND_CARRIED = np.isin(np.arange(OPENPOSE_NUM_POINTS), light_hand_points())
"""bool [137]: the 35 points the format holds (the same for either hand order)."""
LIGHT_HAND_CARRIED.flags.writeable = False


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _parse_rows(lines: list[str], first_line: int, source: str) -> np.ndarray:
    """Row-by-row parse (the slow path), naming the first bad line."""
    out = np.empty((len(lines), LIGHT_HAND_COLUMNS), np.float64)
    for i, text in enumerate(lines):
        where = f"{source}:{first_line + i}"
        cells = [c.strip() for c in text.split(",")]
        while cells and cells[-1] == "":
            cells.pop()
        if len(cells) != LIGHT_HAND_COLUMNS:
            raise ValueError(
                f"{where}: expected {LIGHT_HAND_COLUMNS} values (frame + 35 points x "
                f"(x, y, conf)), got {len(cells)}"
            )
        for j, cell in enumerate(cells):
            try:
                value = float(cell) if cell else 0.0
            except ValueError:
                raise ValueError(f"{where}: column {j} is not a number: {cell!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: column {j} is not finite: {cell!r}")
            out[i, j] = value
    return out


def read_light_hand_csv(
    path: str | os.PathLike[str], hand_order: str = "right_left"
) -> VideoKeypoints:
    """Read one ``<NNNN>_light_hand.csv`` file.

    Args:
        path: the file.
        hand_order: which hand's fingertips come first (see the module docstring).

    Returns:
        :class:`VideoKeypoints` with ``keypoint`` [1, F, 137, 2] and ``score`` [1, F, 137]
        (F = last frame number + 1; frames without a row are zeros) and ``carried`` marking the
        35 points of the file.

    Raises:
        ValueError: a row with the wrong number of values, a non-numeric or non-finite value,
            a fractional, negative or repeated frame number, a frame number far beyond the
            rows present (:func:`~pymg.data.formats.sources.check_frame_count`), text that is
            not UTF-8 (names the file and line).
        ArrayTooLargeError: the file is too large to parse under the memory cap.
    """
    source = os.fspath(path)
    index = light_hand_points(hand_order)
    lines = read_text(source, "light_hand CSV").splitlines()
    first_line = 1
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and not any(_is_number(c.strip()) for c in lines[0].split(",")):
        lines, first_line = lines[1:], 2  # a header row
    if not lines:
        raise ValueError(f"{source}: no frame rows")
    try:
        table = np.loadtxt(io.StringIO("\n".join(lines)), delimiter=",", dtype=np.float64, ndmin=2)
        if table.shape[1] != LIGHT_HAND_COLUMNS or not np.isfinite(table).all():
            raise ValueError("shape or values")
    except ValueError:
        table = _parse_rows(lines, first_line, source)  # raises with the line number
    frames = table[:, 0]
    if np.any(frames != np.round(frames)) or np.any(frames < 0):
        bad = int(np.flatnonzero((frames != np.round(frames)) | (frames < 0))[0])
        raise ValueError(
            f"{source}:{first_line + bad}: frame number must be a non-negative integer, "
            f"got {frames[bad]!r}"
        )
    last = int(np.argmax(frames))
    num_frames = check_frame_count(
        int(frames[last]) + 1 if frames[last] < 2**62 else 2**62,
        len(frames),
        f"{source}:{first_line + last}",
    )
    numbers = frames.astype(np.int64)
    unique, counts = np.unique(numbers, return_counts=True)
    if np.any(counts > 1):
        dup = int(unique[counts > 1][0])
        raise ValueError(f"{source}: frame {dup} appears in {int(counts.max())} rows")
    points = np.zeros((1, num_frames, OPENPOSE_NUM_POINTS, 3), np.float32)
    points[0, numbers[:, None], index[None, :]] = table[:, 1:].reshape(-1, 35, 3)
    return VideoKeypoints(
        keypoint=np.ascontiguousarray(points[..., :2]),
        score=np.ascontiguousarray(points[..., 2]),
        carried=LIGHT_HAND_CARRIED,
        source=LIGHT_HAND_SOURCE,
        path=source,
    )
