"""Whole-body keypoints of today's estimators (mmpose RTMPose/DWPose, rtmlib, DWPose).

They write the 133 COCO-WholeBody points: 0-16 COCO body (nose, l/r eye, l/r ear, l/r shoulder,
l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle), 17-22 feet (l big toe, l small toe, l heel,
r big toe, r small toe, r heel), 23-90 face (the 68 iBUG landmarks, in the order of OpenPose's face
points 0-67), 91-111 left hand, 112-132 right hand (OpenPose's 21-point hand order). "Left" is the
person's own left, as in OpenPose. :func:`wholebody_to_openpose` maps them onto the OpenPose-137
points pymg's layouts select from:

==================  ============================================================================
OpenPose-137        from COCO-WholeBody
==================  ============================================================================
0 nose              0
1 neck              midpoint of the shoulders 5 and 6, only where both are seen (score = min)
2-4 / 5-7 arms      right 6, 8, 10 / left 5, 7, 9
8 mid hip           midpoint of the hips 11 and 12, only where both are seen (score = min)
9-11 / 12-14 legs   right 12, 14, 16 / left 11, 13, 15
15-18 eyes, ears    right eye 2, left eye 1, right ear 4, left ear 3
19-24 feet          17-22 (the same order)
25-92 face 0-67     23-90
93, 94              OpenPose's two pupils (face 68, 69): not given -> not carried
95-115 left hand    91-111
116-136 right hand  112-132
==================  ============================================================================

Every point but the pupils is *carried* (:data:`WHOLEBODY_CARRIED`), so every shipped layout
builds (``imigue41`` included); a point the estimator gave with score 0, and a derived point
missing a parent, have score 0.

:func:`read_mmpose_json` reads what mmpose's ``MMPoseInferencer(..., pred_out_dir=DIR)`` writes:
for a video, one ``DIR/<video>.json`` holding ``[{"frame_id": 0, "instances": [...]}, ...]``; for
images (e.g. extracted frames), one ``DIR/<image>.json`` per image holding the instance list
itself. An instance is ``{"keypoints": [[x, y] x 133], "keypoint_scores": [s x 133],
"bbox": [[x1, y1, x2, y2]], "bbox_score": s}``. mmpose writes no image size.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pymg.data.formats.sources import VideoKeypoints, check_frame_count
from pymg.topology.openpose import (
    OPENPOSE_FACE_OFFSET,
    OPENPOSE_LEFT_HAND_OFFSET,
    OPENPOSE_NUM_POINTS,
    OPENPOSE_RIGHT_HAND_OFFSET,
)

__all__ = [
    "MMPOSE_SOURCE",
    "WHOLEBODY_CARRIED",
    "WHOLEBODY_NUM_POINTS",
    "WHOLEBODY_TO_OPENPOSE",
    "read_mmpose_json",
    "wholebody_to_openpose",
]

WHOLEBODY_NUM_POINTS = 133
MMPOSE_SOURCE = "mmpose whole-body JSON"


def _direct_map() -> dict[int, int]:
    body = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 9: 12, 10: 14, 11: 16, 12: 11, 13: 13,
            14: 15, 15: 2, 16: 1, 17: 4, 18: 3}  # fmt: skip
    body.update({19 + k: 17 + k for k in range(6)})
    body.update({OPENPOSE_FACE_OFFSET + k: 23 + k for k in range(68)})
    body.update({OPENPOSE_LEFT_HAND_OFFSET + k: 91 + k for k in range(21)})
    body.update({OPENPOSE_RIGHT_HAND_OFFSET + k: 112 + k for k in range(21)})
    return body


WHOLEBODY_TO_OPENPOSE: dict[int, int] = _direct_map()
"""OpenPose-137 index -> COCO-WholeBody index, for the points taken as they are."""
_DERIVED = {1: (5, 6), 8: (11, 12)}  # neck, mid hip: midpoints of two COCO points

WHOLEBODY_CARRIED = np.zeros(OPENPOSE_NUM_POINTS, bool)
WHOLEBODY_CARRIED[list(WHOLEBODY_TO_OPENPOSE) + list(_DERIVED)] = True
WHOLEBODY_CARRIED.flags.writeable = False
"""bool [137]: the OpenPose points a whole-body source gives (all but the two pupils)."""


def wholebody_to_openpose(
    keypoints: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Map COCO-WholeBody points onto OpenPose-137 (see the module docstring).

    Args:
        keypoints: float [..., 133, 2] (e.g. rtmlib's [N, 133, 2] per image).
        scores: float [..., 133].

    Returns:
        ``(keypoint float32 [..., 137, 2], score float32 [..., 137])``; points the source does
        not give (the pupils) and points not seen are 0 with score 0.

    Raises:
        ValueError: shapes other than [..., 133, 2] and [..., 133].
    """
    kp = np.asarray(keypoints, np.float32)
    sc = np.asarray(scores, np.float32)
    if kp.shape[-2:] != (WHOLEBODY_NUM_POINTS, 2) or sc.shape != kp.shape[:-1]:
        raise ValueError(
            f"whole-body keypoints must be [..., 133, 2] with scores [..., 133], got "
            f"{list(kp.shape)} and {list(sc.shape)}"
        )
    lead = kp.shape[:-2]
    out_kp = np.zeros((*lead, OPENPOSE_NUM_POINTS, 2), np.float32)
    out_sc = np.zeros((*lead, OPENPOSE_NUM_POINTS), np.float32)
    dst = np.fromiter(WHOLEBODY_TO_OPENPOSE.keys(), np.int64)
    src = np.fromiter(WHOLEBODY_TO_OPENPOSE.values(), np.int64)
    out_kp[..., dst, :] = kp[..., src, :]
    out_sc[..., dst] = sc[..., src]
    for target, (a, b) in _DERIVED.items():
        both = (sc[..., a] > 0) & (sc[..., b] > 0)
        mid = 0.5 * (kp[..., a, :] + kp[..., b, :])
        out_kp[..., target, :] = np.where(both[..., None], mid, 0.0)
        out_sc[..., target] = np.where(both, np.minimum(sc[..., a], sc[..., b]), 0.0)
    seen = out_sc > 0
    out_kp *= seen[..., None]
    return out_kp, out_sc


def _instance(inst: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(inst, Mapping) or "keypoints" not in inst or "keypoint_scores" not in inst:
        raise ValueError(f"{where}: expected an object with 'keypoints' and 'keypoint_scores'")
    try:
        kp = np.asarray(inst["keypoints"], np.float64)
        sc = np.asarray(inst["keypoint_scores"], np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: keypoints or keypoint_scores hold non-numbers") from None
    if kp.shape != (WHOLEBODY_NUM_POINTS, 2) or sc.shape != (WHOLEBODY_NUM_POINTS,):
        raise ValueError(
            f"{where}: keypoints {list(kp.shape)} / keypoint_scores {list(sc.shape)}, expected "
            "[133, 2] / [133] (COCO-WholeBody; a body-only model such as COCO-17 cannot give "
            "the hands and face)"
        )
    bad = ~(np.isfinite(kp).all(-1) & np.isfinite(sc))
    if bad.any():
        raise ValueError(f"{where}: point {int(np.flatnonzero(bad)[0])} holds NaN or inf")
    return kp, sc


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable JSON ({exc})") from None


def _video_frames(doc: list[Any], path: Path) -> dict[int, list[Any]]:
    frames: dict[int, list[Any]] = {}
    for i, item in enumerate(doc):
        if not isinstance(item, Mapping) or not isinstance(item.get("instances"), list):
            raise ValueError(f"{path}: item {i} is not {{'frame_id', 'instances': [...]}}")
        fid = item.get("frame_id", i)
        if isinstance(fid, bool) or not isinstance(fid, int) or fid < 0:
            raise ValueError(f"{path}: item {i} has frame_id {fid!r}, not an int >= 0")
        if fid in frames:
            raise ValueError(f"{path}: frame_id {fid} appears twice")
        frames[fid] = item["instances"]
    return frames


def _image_frames(folder: Path) -> dict[int, tuple[list[Any], Path]]:
    frames: dict[int, tuple[list[Any], Path]] = {}
    for path in sorted(folder.glob("*.json")):
        digits = re.findall(r"\d+", path.stem)
        if not digits:
            raise ValueError(f"{path}: no frame number in the file name")
        number = int(digits[-1])
        if number in frames:
            raise ValueError(
                f"{folder}: {frames[number][1].name} and {path.name} are both frame {number}"
            )
        doc = _load(path)
        if not isinstance(doc, list):
            raise ValueError(f"{path}: expected a list of instances (mmpose's per-image output)")
        frames[number] = (doc, path)
    if not frames:
        raise ValueError(f"{folder}: no *.json files")
    return frames


def read_mmpose_json(
    path: str | os.PathLike[str], max_persons: int | None = None
) -> VideoKeypoints:
    """Read mmpose inferencer predictions: one video's ``.json`` or a folder of per-image ones.

    Args:
        path: ``<video>.json`` (a list of ``{"frame_id", "instances"}``), or a folder of
            ``<image>.json`` files (each an instance list; the frame number is the last run of
            digits in the name, gaps are frames without detections).
        max_persons: keep at most this many instances per frame (in file order).

    Returns:
        :class:`VideoKeypoints` in the OpenPose-137 space: ``keypoint`` float32 [M, F, 137, 2],
        ``score`` [M, F, 137] (F = last frame + 1, M = most instances in a frame, >= 1),
        ``carried`` = :data:`WHOLEBODY_CARRIED`.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: unreadable JSON, a layout other than mmpose's, an instance without 133
            points, or NaN/inf values (names the file, frame and instance).
    """
    root = Path(path)
    if root.is_dir():
        listed = _image_frames(root)
        frames = {k: v[0] for k, v in listed.items()}
        names = {k: str(v[1]) for k, v in listed.items()}
    elif root.is_file():
        doc = _load(root)
        if not isinstance(doc, list):
            raise ValueError(
                f"{root}: expected a list of {{'frame_id', 'instances'}} (mmpose video)"
            )
        frames = _video_frames(doc, root)
        names = {k: f"{root}: frame {k}" for k in frames}
    else:
        raise FileNotFoundError(f"mmpose predictions not found: {root}")
    num_frames = check_frame_count(max(frames, default=-1) + 1, len(frames), os.fspath(root))
    if num_frames == 0:
        raise ValueError(f"{root}: no frames")
    kept = {k: v[:max_persons] if max_persons is not None else v for k, v in frames.items()}
    m = max(1, max(len(v) for v in kept.values()))
    kp = np.zeros((m, num_frames, WHOLEBODY_NUM_POINTS, 2), np.float32)
    sc = np.zeros((m, num_frames, WHOLEBODY_NUM_POINTS), np.float32)
    for number, instances in kept.items():
        for p, inst in enumerate(instances):
            kp[p, number], sc[p, number] = _instance(inst, f"{names[number]}, instance {p}")
    out_kp, out_sc = wholebody_to_openpose(kp, sc)
    return VideoKeypoints(
        keypoint=out_kp, score=out_sc, carried=WHOLEBODY_CARRIED, source=MMPOSE_SOURCE,
        path=os.fspath(root),
    )  # fmt: skip
