"""What a raw keypoint source carries, and which layouts can be built from it.

Every raw reader (MiGA'25 ``.xlsx``, iMiGUE ``_light_hand.csv``, OpenPose JSON) returns a
:class:`VideoKeypoints`: the video's frames in the OpenPose-137 point space plus ``carried``, a
boolean mask of the points the *format* holds at all. A point that the format carries but that
OpenPose did not detect in a frame has score 0 in that frame (a missed detection); a point the
format does not carry (the face in ``_light_hand.csv``) can never be detected, so a layout that
needs it cannot be built from that source: :func:`layout_indices` refuses it and names the missing
points and the layouts the source *can* build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pymg.data.formats.joints import resolve_layout
from pymg.topology.openpose import (
    OPENPOSE_FACE_OFFSET,
    OPENPOSE_LEFT_HAND_OFFSET,
    OPENPOSE_NAMES,
    OPENPOSE_NUM_POINTS,
    OPENPOSE_RIGHT_HAND_OFFSET,
)

if TYPE_CHECKING:
    from pymg.topology import Skeleton

__all__ = [
    "ALL_POINTS",
    "BODY_PARTS",
    "LayoutSourceError",
    "VideoKeypoints",
    "FRAME_GAP_MARGIN",
    "MAX_VIDEO_FRAMES",
    "buildable_layouts",
    "check_frame_count",
    "layout_indices",
    "point_part",
]

BODY_PARTS: tuple[tuple[str, int, int], ...] = (
    ("body", 0, OPENPOSE_FACE_OFFSET),
    ("face", OPENPOSE_FACE_OFFSET, OPENPOSE_LEFT_HAND_OFFSET),
    ("left hand", OPENPOSE_LEFT_HAND_OFFSET, OPENPOSE_RIGHT_HAND_OFFSET),
    ("right hand", OPENPOSE_RIGHT_HAND_OFFSET, OPENPOSE_NUM_POINTS),
)
"""``(part, first, end)`` ranges of the OpenPose-137 point space."""

ALL_POINTS = np.ones(OPENPOSE_NUM_POINTS, bool)
"""``carried`` mask of a source that holds all 137 points (xlsx, JSON)."""
ALL_POINTS.flags.writeable = False


MAX_VIDEO_FRAMES = 1_000_000
"""Most frames a raw video may number (11 hours at 25 fps): a larger frame number is refused
before memory is allocated for it."""

FRAME_GAP_MARGIN = 1500
"""Frames without a row (or file) that a video may have beyond as many as it has rows: a reader
makes ``F = highest frame number + 1`` frames, and ``F`` may be at most ``2 * rows +
FRAME_GAP_MARGIN`` (one minute at 25 fps more than half the video undetected). A larger frame
number is a corrupt one (999,999 in a 5 KB file), refused naming its file and line before memory
is allocated for it."""


def check_frame_count(num_frames: int, present: int, where: str) -> int:
    """Return ``num_frames`` (highest frame number + 1) if ``present`` rows can account for it.

    Args:
        num_frames: F, the frames the reader would allocate.
        present: the rows (or files) the input really holds.
        where: the file and line (or file) of the highest frame number, for the message.

    Raises:
        ValueError: F is over ``2 * present + FRAME_GAP_MARGIN`` or :data:`MAX_VIDEO_FRAMES`.
    """
    if num_frames > MAX_VIDEO_FRAMES:
        raise ValueError(
            f"{where}: frame numbers reach {num_frames - 1}, more than the "
            f"{MAX_VIDEO_FRAMES} frames a video may have (a corrupt frame number?)"
        )
    allowed = 2 * present + FRAME_GAP_MARGIN
    if num_frames > allowed:
        raise ValueError(
            f"{where}: frame number {num_frames - 1} is far beyond the {present} frame(s) present "
            f"(at most {allowed - 1}: frames without detections may number at most the frames "
            f"present plus {FRAME_GAP_MARGIN}); a corrupt frame number?"
        )
    return num_frames


class LayoutSourceError(ValueError):
    """A layout needs OpenPose points that the keypoint source does not carry."""


@dataclass(frozen=True)
class VideoKeypoints:
    """One video's keypoints as read from a raw source.

    Attributes:
        keypoint: float32 [M, F, 137, 2] pixel coordinates (F = frames of the video).
        score: float32 [M, F, 137]; 0 = not detected in that frame.
        carried: bool [137], the points this source format holds at all.
        source: short name of the format (``"OpenPose xlsx"``, ``"light_hand CSV"``...).
        path: the file or folder read.
    """

    keypoint: np.ndarray
    score: np.ndarray
    carried: np.ndarray
    source: str
    path: str

    @property
    def num_frames(self) -> int:
        """F, the number of frames of the video."""
        return int(self.keypoint.shape[1])


def point_part(index: int) -> str:
    """Body part (``"body"``, ``"face"``, ``"left hand"``, ``"right hand"``) of a 137-index."""
    for part, first, end in BODY_PARTS:
        if first <= index < end:
            return part
    raise ValueError(f"OpenPose-137 index must be in [0, 137), got {index}")


def _layout_points(layout: Skeleton | str) -> tuple[str, tuple[int, ...]]:
    skeleton = resolve_layout(layout)
    if skeleton.source_indices is None:
        raise LayoutSourceError(
            f"layout {skeleton.name!r} has no source_indices: it cannot be read from "
            "OpenPose-137 keypoints (define it with Skeleton.from_openpose)"
        )
    return skeleton.name, tuple(int(i) for i in skeleton.source_indices)


def buildable_layouts(carried: np.ndarray) -> list[str]:
    """Names of the shipped layouts whose every point ``carried`` [137] holds."""
    from pymg.topology import list_layouts, resolve_layout

    out = []
    for name in list_layouts():
        indices = resolve_layout(name).source_indices
        if indices is not None and bool(np.all(carried[list(indices)])):
            out.append(name)
    return out


def layout_indices(layout: Skeleton | str, carried: np.ndarray, source: str) -> np.ndarray:
    """The OpenPose-137 index of each of ``layout``'s joints, checked against a source.

    Args:
        layout: a Skeleton or layout name with ``source_indices``.
        carried: bool [137], the points the source holds (:attr:`VideoKeypoints.carried`).
        source: the source's name, for the message.

    Returns:
        int64 [V] indices into the 137 points.

    Raises:
        LayoutSourceError: the layout needs points the source does not carry; the message lists
            them (by part and name) and the layouts this source can build.
    """
    name, indices = _layout_points(layout)
    missing = [i for i in indices if not carried[i]]
    if missing:
        by_part: dict[str, list[str]] = {}
        for i in missing:
            by_part.setdefault(point_part(i), []).append(OPENPOSE_NAMES[i])
        listed = "; ".join(f"{part}: {', '.join(names)}" for part, names in by_part.items())
        can = buildable_layouts(carried)
        raise LayoutSourceError(
            f"layout {name!r} needs {len(missing)} OpenPose point(s) that {source} files do not "
            f"carry ({listed}); layouts this source can build: {', '.join(can) or 'none'}"
        )
    return np.asarray(indices, np.int64)
