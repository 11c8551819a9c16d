"""OpenPose's own output: a folder of ``*_keypoints.json`` files, one per video frame.

Each file holds ``{"people": [person, ...]}``; a person holds ``pose_keypoints_2d`` (25 x 3),
``face_keypoints_2d`` (70 x 3), ``hand_left_keypoints_2d`` and ``hand_right_keypoints_2d``
(21 x 3 each), flat ``x, y, confidence`` lists. An empty or absent array means that part was off
or not detected. The frame number is the last run of digits before ``_keypoints.json``
(``video_000000000123_keypoints.json`` is frame 123). OpenPose writes no file for a frame it
skipped, so the numbering can have gaps: a gap is frames *without detections*, not missing time,
and is kept as frames of zeros so that the label files' frame numbers still point at the right
frames. OpenPose JSON carries no image size (pass it to ``pymg prepare --img-shape``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pymg.data.formats.checks import FileBudget
from pymg.data.formats.sources import ALL_POINTS, VideoKeypoints, check_frame_count
from pymg.data.formats.text import read_text
from pymg.topology.openpose import (
    OPENPOSE_FACE_OFFSET,
    OPENPOSE_LEFT_HAND_OFFSET,
    OPENPOSE_NUM_POINTS,
    OPENPOSE_RIGHT_HAND_OFFSET,
)

__all__ = ["JSON_SOURCE", "JSON_SUFFIX", "json_frame_number", "read_openpose_json_dir"]

JSON_SUFFIX = "_keypoints.json"
JSON_SOURCE = "OpenPose JSON"
"""The format's name in messages (:attr:`VideoKeypoints.source`); it carries all 137 points."""
_PARTS = (
    ("pose_keypoints_2d", 0, 25),
    ("face_keypoints_2d", OPENPOSE_FACE_OFFSET, 70),
    ("hand_left_keypoints_2d", OPENPOSE_LEFT_HAND_OFFSET, 21),
    ("hand_right_keypoints_2d", OPENPOSE_RIGHT_HAND_OFFSET, 21),
)


def json_frame_number(name: str) -> int:
    """Frame number of an OpenPose JSON file name (``..._000000000123_keypoints.json`` -> 123).

    Raises:
        ValueError: the name has no digits before the suffix.
    """
    stem = name[: -len(JSON_SUFFIX)] if name.endswith(JSON_SUFFIX) else name
    numbers = re.findall(r"\d+", stem)
    if not numbers:
        raise ValueError(f"{name}: no frame number in the file name")
    return int(numbers[-1])


def _person_points(person: object, path: Path, p: int, present: list[bool]) -> np.ndarray:
    """[137, 3] points of one person; sets ``present[0]`` when any part holds values."""
    if not isinstance(person, Mapping):
        raise ValueError(f"{path}: person {p} is a {type(person).__name__}, not an object")
    pts = np.zeros((OPENPOSE_NUM_POINTS, 3), np.float32)
    for key, start, count in _PARTS:
        values = person.get(key)
        if values is None or (isinstance(values, list) and not values):
            continue
        present[0] = True
        if not isinstance(values, list) or len(values) != count * 3:
            size = len(values) if isinstance(values, list) else type(values).__name__
            raise ValueError(f"{path}: person {p} {key} has {size} values, expected {count * 3}")
        if any(isinstance(x, bool) for x in values):  # JSON true/false would read as 1.0/0.0
            raise ValueError(f"{path}: person {p} {key} holds booleans, not numbers")
        try:
            arr = np.asarray(values, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: person {p} {key} holds non-numeric values") from None
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise ValueError(f"{path}: person {p} {key} holds NaN, inf or nested values")
        pts[start : start + count] = arr.reshape(count, 3)
    return pts


def _frame_people(path: Path, max_persons: int | None) -> list[np.ndarray]:
    """The people of one frame file, up to the last one with any points (people without points
    are no detection, and a frame of 20,000 of them must not make 20,000 person rows)."""
    try:
        doc = json.loads(read_text(path, "OpenPose JSON"))
    except RecursionError:
        raise ValueError(f"{path}: unreadable OpenPose JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: unreadable OpenPose JSON ({exc})") from None
    people = doc.get("people") if isinstance(doc, Mapping) else None
    if not isinstance(people, list):
        raise ValueError(f"{path}: expected an object with a 'people' list")
    persons: list[np.ndarray] = []
    kept = 0
    for p, person in enumerate(people):
        present = [False]
        persons.append(_person_points(person, path, p, present))
        if present[0]:
            kept = p + 1
    return persons[:kept][:max_persons]


def read_openpose_json_dir(
    folder: str | os.PathLike[str], max_persons: int | None = None
) -> VideoKeypoints:
    """Read a folder of OpenPose ``*_keypoints.json`` files (one per frame).

    Args:
        folder: the folder.
        max_persons: keep at most this many people per frame (in file order); None keeps all.

    Returns:
        :class:`VideoKeypoints`: ``keypoint`` float32 [M, F, 137, 2], ``score`` [M, F, 137]
        with F = highest frame number + 1 (numbering starts at frame 0; frames without a file
        and people absent from a frame are zeros) and M the most people in any frame (>= 1;
        people without any points after the last one with points are not counted).

    Raises:
        FileNotFoundError: no such folder.
        ValueError: no JSON files, a repeated frame number, a frame number far beyond the files
            present, unreadable or too deeply nested JSON, text that is not UTF-8, a person that
            is not an object, a part with the wrong number of values or with booleans (names
            the file).
        ArrayTooLargeError: the keypoints would need more than the memory cap.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"OpenPose JSON folder not found: {root}")
    files = sorted(root.glob("*" + JSON_SUFFIX))
    if not files:
        raise ValueError(f"{root}: no *{JSON_SUFFIX} files")
    numbered: dict[int, Path] = {}
    for path in files:
        number = json_frame_number(path.name)
        if number in numbered:
            raise ValueError(
                f"{root}: files {numbered[number].name} and {path.name} are both frame {number}"
            )
        numbered[number] = path
    last = max(numbered)
    num_frames = check_frame_count(last + 1, len(numbered), os.fspath(numbered[last]))
    frames = {number: _frame_people(path, max_persons) for number, path in numbered.items()}
    m = max(1, max(len(f) for f in frames.values()))
    FileBudget(os.fspath(root)).charge(
        f"keypoints of {m} person(s) x {num_frames} frames x 137 points x (x, y, score) float32",
        m * num_frames * OPENPOSE_NUM_POINTS * 3 * 4,
    )
    out = np.zeros((m, num_frames, OPENPOSE_NUM_POINTS, 3), np.float32)
    for number, persons in frames.items():
        for p, pts in enumerate(persons):
            out[p, number] = pts
    return VideoKeypoints(
        keypoint=np.ascontiguousarray(out[..., :2]),
        score=np.ascontiguousarray(out[..., 2]),
        carried=ALL_POINTS,
        source=JSON_SOURCE,
        path=os.fspath(root),
    )
