"""The SMG release's Kinect v2 skeletons: ``SampleNNNN/SampleNNNN_skeleton.csv`` and friends.

Per video (``Sample0001``) a folder holds, as the SMG starter kit reads them:

``SampleNNNN_skeleton.csv``
    No header, one row per frame (row ``r`` is the kit's frame ``r + 1``), 25 joints x 11 values
    in the Kinect v2 SDK's joint order (:data:`pymg.topology.KINECT25`): 3 world coordinates
    (metres), 4 joint-orientation values, then two pixel pairs. The kit reads the first pair and
    skips the second. Kinect v2 maps every joint into two images: the 512 x 424 depth image and
    the 1920 x 1080 colour image. pymg needs the *colour* position (heatmaps are drawn in image
    coordinates; the colour image is the video people watch), and picks it per file from the
    values themselves (``pixel="auto"``): a pair whose x exceeds 512 or y exceeds 424 cannot be
    a depth position, so it is the colour one. When neither pair shows it (a subject in the left
    quarter of the image, or no tracked frame), the second pair is taken: exporters write the
    depth position before the colour one (NTU RGB+D's ``depthX, depthY, colorX, colorY``).
    ``pixel="first"`` / ``"second"`` force a pair.
``SampleNNNN_data.csv``
    One row ``frames, fps, max depth``. Frames beyond the skeleton rows are frames without a
    skeleton (zeros).
``SampleNNNN_finelabels.csv``
    Rows ``class, start, end``, class 1..17 (pymg: 0..16). The kit reads a gesture as
    ``getSkeleton(start) .. getSkeleton(end)`` with frames numbered from 1, so pymg's 0-based
    inclusive segment is ``start - 1 .. end - 1`` (``frame_base=1``).

The file carries no per-joint tracking state: a joint counts as detected (score 1) when its
chosen pixel pair is finite and its 11 values are not all zero (the SDK writes zeros when no body
is tracked, and an infinite position for a joint it cannot map into an image); otherwise score 0
and coordinates 0.
NaN and inf values are such undetected joints, not errors; text that is not a number is an
error naming the file, line and value.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path

import numpy as np

from pymg.data.formats.sources import VideoKeypoints, check_frame_count

__all__ = [
    "SMG_CLASSES",
    "SMG_COLOR_SHAPE",
    "SMG_DEPTH_SHAPE",
    "SMG_SOURCE",
    "map_smg_label",
    "read_smg_skeleton_csv",
]

_log = logging.getLogger("pymg.data.smg")

SMG_SOURCE = "SMG Kinect CSV"
SMG_JOINTS = 25
SMG_VALUES = 11
SMG_COLOR_SHAPE = (1080, 1920)
"""(H, W) of the Kinect v2 colour image."""
SMG_DEPTH_SHAPE = (424, 512)
"""(H, W) of the Kinect v2 depth image."""
SMG_CLASSES = tuple(f"SMG class {k}" for k in range(1, 18))
"""The 17 classes, 0-based index k = the release's class k + 1 (the kit names none)."""
_PAIRS = {"first": 7, "second": 9}


def map_smg_label(raw: int) -> int:
    """SMG's 1-based class (1..17) -> 0-based index.

    Raises:
        ValueError: any other value.
    """
    if 1 <= raw <= len(SMG_CLASSES):
        return raw - 1
    raise ValueError(f"SMG class must be 1..{len(SMG_CLASSES)}, got {raw}")


def _parse(path: str) -> np.ndarray:
    width = SMG_JOINTS * SMG_VALUES
    try:  # the fast path; the slow one below names the first bad line
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2, encoding="utf-8-sig")
        if table.shape[1] == width and len(table):
            return table
    except ValueError:
        pass
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise ValueError(f"{path}: no skeleton rows")
    out = np.zeros((len(rows), width), np.float64)
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "":
            cells.pop()
        if len(cells) != width:
            raise ValueError(
                f"{path}:{i + 1}: expected {width} values (25 joints x 11), got {len(cells)}"
            )
        for j, cell in enumerate(cells):
            try:
                out[i, j] = float(cell)
            except ValueError:
                raise ValueError(
                    f"{path}:{i + 1}: value {j + 1} (joint {j // SMG_VALUES}) is not a number: "
                    f"{cell!r}"
                ) from None
    return out


def _choose_pair(values: np.ndarray, path: str) -> str:
    """Which pixel pair is the colour position (see the module docstring)."""
    beyond = {}
    for name, at in _PAIRS.items():
        xy = values[:, at : at + 2]
        xy = xy[np.isfinite(xy).all(-1)]
        beyond[name] = bool(
            len(xy)
            and ((xy[:, 0] > SMG_DEPTH_SHAPE[1]).any() or (xy[:, 1] > SMG_DEPTH_SHAPE[0]).any())
        )
    if beyond["first"] and not beyond["second"]:
        return "first"
    if not beyond["first"] and not beyond["second"]:
        _log.warning(
            "%s: neither pixel pair leaves the 512x424 depth image; taking the second as the "
            "colour position", path
        )  # fmt: skip
    return "second"


def _data_frames(path: Path) -> int | None:
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: empty; expected one row 'frames, fps, max depth'")
    try:
        frames = float(rows[0][0])
    except ValueError:
        raise ValueError(f"{path}:1: frame count is not a number: {rows[0][0]!r}") from None
    if not math.isfinite(frames) or frames != int(frames) or frames < 0:
        raise ValueError(
            f"{path}:1: frame count must be a non-negative integer, got {rows[0][0]!r}"
        )
    return int(frames)


def read_smg_skeleton_csv(
    path: str | os.PathLike[str], pixel: str = "auto"
) -> tuple[VideoKeypoints, tuple[int, int]]:
    """Read one ``SampleNNNN_skeleton.csv`` (and its ``_data.csv`` beside it, if present).

    Args:
        path: the skeleton file.
        pixel: ``"auto"`` (find the colour pair), ``"first"`` or ``"second"``.

    Returns:
        ``(keys, img_shape)``: :class:`VideoKeypoints` with ``keypoint`` float32 [1, F, 25, 2]
        (the ``kinect25`` joints), ``score`` [1, F, 25] and ``carried`` all True [25]; and the
        (H, W) of the image the chosen pair lives in (1080 x 1920 for the colour image, 424 x 512
        when a forced pair only holds depth positions).

    Raises:
        ValueError: a row with the wrong number of values, a non-numeric value, a bad
            ``_data.csv`` (names the file and line), or an unknown ``pixel``.
    """
    if pixel not in ("auto", *_PAIRS):
        raise ValueError(f"pixel must be 'auto', 'first' or 'second', got {pixel!r}")
    source = os.fspath(path)
    table = _parse(source)
    rows = len(table)
    values = table.reshape(rows, SMG_JOINTS, SMG_VALUES)
    chosen = _choose_pair(values.reshape(-1, SMG_VALUES), source) if pixel == "auto" else pixel
    at = _PAIRS[chosen]
    xy = values[:, :, at : at + 2]
    seen = np.isfinite(xy).all(-1) & (np.nan_to_num(values) != 0).any(-1)
    base = Path(source)
    stem = base.name[: -len("_skeleton.csv")] if base.name.endswith("_skeleton.csv") else base.stem
    declared = _data_frames(base.with_name(f"{stem}_data.csv"))
    frames = check_frame_count(max(rows, declared or 0), rows, source)
    kp = np.zeros((1, frames, SMG_JOINTS, 2), np.float32)
    sc = np.zeros((1, frames, SMG_JOINTS), np.float32)
    kp[0, :rows] = np.where(seen[..., None], xy, 0.0)
    sc[0, :rows] = seen
    pts = xy[seen]
    depth_only = len(pts) > 0 and bool(
        (pts[:, 0] <= SMG_DEPTH_SHAPE[1]).all() and (pts[:, 1] <= SMG_DEPTH_SHAPE[0]).all()
    )
    img_shape = SMG_DEPTH_SHAPE if pixel != "auto" and depth_only else SMG_COLOR_SHAPE
    keys = VideoKeypoints(
        keypoint=kp, score=sc, carried=np.ones(SMG_JOINTS, bool), source=SMG_SOURCE, path=source
    )
    return keys, img_shape
