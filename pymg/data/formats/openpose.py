"""Raw OpenPose-137 sources: MiGA ``.xlsx`` sheets, OpenPose JSON folders and MiGA label CSVs.

MiGA'25 raw release, per long video ``<vid>``:

* ``<vid>_openpose.xlsx``: one header row, then one row per frame holding 137 x (x, y, conf)
  values (411 columns; a 412th leading frame-index column is tolerated and dropped). Empty cells
  read as 0 (missing point). Points: body-25 0-24, face-70 25-94, left hand 95-115, right hand
  116-136, pixels of the 1280x720 video.
* ``<vid>_label.csv``: rows ``label,start_frame,end_frame`` (end inclusive, 0-based frame
  numbers by default: ``frame_base``); raw labels 1..31 -> 0..30 and 99 (or 32) -> 31. A
  non-numeric first row is taken as a header.

OpenPose's own output, one ``*_keypoints.json`` per frame (frame order = the last number in the
file name): ``people[p]`` holds ``pose_keypoints_2d`` (25*3), ``face_keypoints_2d`` (70*3),
``hand_left_keypoints_2d`` and ``hand_right_keypoints_2d`` (21*3); absent arrays are zeros.

All readers return ``keypoint`` float32 [M, T, 137, 2] and ``score`` float32 [M, T, 137].
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pymg.data.formats.checks import MalformedClipError

__all__ = [
    "IMIGUE_TRAIN_SUBJECTS",
    "clips_from_video",
    "default_subject_parser",
    "imigue_split",
    "map_miga_label",
    "read_label_csv",
    "read_openpose_json_dir",
    "read_openpose_xlsx",
]

NUM_POINTS = 137
_PARTS = (
    ("pose_keypoints_2d", 0, 25),
    ("face_keypoints_2d", 25, 70),
    ("hand_left_keypoints_2d", 95, 21),
    ("hand_right_keypoints_2d", 116, 21),
)

IMIGUE_TRAIN_SUBJECTS: tuple[int, ...] = (
    2,
    4,
    5,
    6,
    9,
    10,
    12,
    13,
    14,
    15,
    17,
    18,
    20,
    21,
    22,
    23,
    25,
    28,
    29,
    30,
    31,
    35,
    36,
    38,
    39,
    41,
    42,
    43,
    44,
    46,
    47,
    48,
    52,
    53,
    59,
    61,
    62,
)
"""The 37 training subjects of iMiGUE's cross-subject protocol (the other ids of 1-72 are test)."""


def imigue_split(subject: int, train_subjects: Sequence[int] = IMIGUE_TRAIN_SUBJECTS) -> str:
    """``"train"`` if ``subject`` is a training subject else ``"test"``."""
    return "train" if int(subject) in set(train_subjects) else "test"


def default_subject_parser(video: str) -> int | None:
    """Subject id of a video name: ``subject12``/``sub_12``/``s12``/``p12`` prefixes, else the
    first integer in the name (``"12_0003"`` -> 12); None if the name has no digits.

    The iMiGUE release does not fix a naming scheme; pass ``subject_of=`` (a callable or a
    ``{video: subject}`` mapping) to :func:`pymg.data.prepare.prepare_miga` when yours differs.
    """
    stem = Path(video).name
    match = re.search(r"(?:subject|sub|person|s|p)[_-]?(\d+)", stem, flags=re.IGNORECASE)
    if match is None:
        match = re.search(r"(\d+)", stem)
    return int(match.group(1)) if match else None


def map_miga_label(raw: int) -> int:
    """MiGA raw label -> 0-based class: 1..31 -> 0..30, 99 or 32 -> 31."""
    if 1 <= raw <= 31:
        return raw - 1
    if raw in (32, 99):
        return 31
    raise ValueError(f"raw MiGA label must be 1..32 or 99, got {raw}")


def read_label_csv(path: str | os.PathLike[str]) -> list[tuple[int, int, int]]:
    """Read ``label,start_frame,end_frame`` rows.

    Returns:
        ``[(raw_label, start, end), ...]`` as stored (map labels with :func:`map_miga_label`).

    Raises:
        ValueError: a row that is not three integers (names the file and line).
    """
    rows: list[tuple[int, int, int]] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row if c.strip() != ""]
            if not cells:
                continue
            try:
                values = [int(float(c)) for c in cells]
            except ValueError:
                if line_no == 1:  # header
                    continue
                raise ValueError(f"{path}:{line_no}: expected integers, got {row}") from None
            if len(values) != 3:
                raise ValueError(f"{path}:{line_no}: expected label,start,end, got {row}")
            rows.append((values[0], values[1], values[2]))
    return rows


def _frames_from_rows(rows: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    t = rows.shape[0]
    pts = rows.reshape(1, t, NUM_POINTS, 3)
    if not np.isfinite(pts).all():
        raise ValueError(f"{source}: non-numeric or NaN values in keypoint cells")
    return np.ascontiguousarray(pts[..., :2]), np.ascontiguousarray(pts[..., 2])


def read_openpose_xlsx(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a MiGA ``<vid>_openpose.xlsx`` sheet (needs ``openpyxl``: ``pip install pymg[data]``).

    Returns:
        ``keypoint`` float32 [1, T, 137, 2], ``score`` float32 [1, T, 137].
    """
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading MiGA .xlsx files needs openpyxl: pip install 'pymg[data]'"
        ) from exc
    source = os.fspath(path)
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise ValueError(f"{source}: unreadable .xlsx file ({type(exc).__name__}: {exc})") from exc
    try:
        sheet = book.worksheets[0]
        data: list[list[float]] = []
        for r, row in enumerate(sheet.iter_rows(values_only=True)):
            if r == 0:
                continue  # header
            cells = list(row)
            while cells and cells[-1] is None:
                cells.pop()
            if not cells:
                continue
            if len(cells) == NUM_POINTS * 3 + 1:
                cells = cells[1:]
            if len(cells) != NUM_POINTS * 3:
                raise ValueError(
                    f"{source}: row {r + 1} has {len(cells)} values, expected {NUM_POINTS * 3} "
                    "(137 points x (x, y, conf))"
                )
            try:
                data.append([0.0 if c is None or c == "" else float(c) for c in cells])
            except (TypeError, ValueError):
                raise ValueError(f"{source}: row {r + 1} holds a non-numeric cell") from None
    finally:
        book.close()
    if not data:
        raise ValueError(f"{source}: no frame rows after the header")
    return _frames_from_rows(np.asarray(data, np.float32), source)


def _frame_number(name: str) -> int:
    numbers = re.findall(r"\d+", name.replace("_keypoints.json", ""))
    return int(numbers[-1]) if numbers else -1


def read_openpose_json_dir(
    folder: str | os.PathLike[str], max_persons: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of OpenPose ``*_keypoints.json`` files (one per frame).

    Args:
        folder: the folder.
        max_persons: keep at most this many people per frame (in file order); None keeps all.

    Returns:
        ``keypoint`` float32 [M, T, 137, 2], ``score`` float32 [M, T, 137] with M the most people
        in any frame (at least 1; frames with fewer are zero-padded).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"OpenPose JSON folder not found: {root}")
    files = sorted(root.glob("*_keypoints.json"), key=lambda p: (_frame_number(p.name), p.name))
    if not files:
        raise ValueError(f"{root}: no *_keypoints.json files")
    frames: list[list[np.ndarray]] = []
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            people = doc["people"]
            if not isinstance(people, list):
                raise TypeError("'people' is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: unreadable OpenPose JSON ({exc})") from None
        persons = []
        for p, person in enumerate(people[:max_persons]):
            pts = np.zeros((NUM_POINTS, 3), np.float32)
            for key, start, count in _PARTS:
                values = person.get(key) or []
                if len(values) != count * 3:
                    if values:
                        raise ValueError(
                            f"{path}: person {p} {key} has {len(values)} values, "
                            f"expected {count * 3}"
                        )
                    continue
                pts[start : start + count] = np.asarray(values, np.float32).reshape(count, 3)
            persons.append(pts)
        frames.append(persons)
    m = max(1, max(len(f) for f in frames))
    out = np.zeros((m, len(frames), NUM_POINTS, 3), np.float32)
    for t, persons in enumerate(frames):
        for p, pts in enumerate(persons):
            out[p, t] = pts
    if not np.isfinite(out).all():
        raise ValueError(f"{root}: NaN or inf in keypoints")
    return np.ascontiguousarray(out[..., :2]), np.ascontiguousarray(out[..., 2])


def clips_from_video(
    keypoint: np.ndarray,
    score: np.ndarray,
    segments: Sequence[tuple[int, int, int]],
    *,
    video: str,
    joint_indices: Sequence[int] | np.ndarray | None = None,
    subject: int | None = None,
    img_shape: tuple[int, int] = (720, 1280),
    frame_base: int = 0,
    label_map: Callable[[int], int] | Mapping[int, int] | None = map_miga_label,
) -> list[dict[str, Any]]:
    """Cut a long video's OpenPose-137 frames into labelled clip annotations.

    Args:
        keypoint: float32 [M, F, 137, 2]; score: float32 [M, F, 137] (F video frames).
        segments: ``(raw_label, start, end)`` with ``end`` inclusive, numbered from
            ``frame_base``.
        video: video id; clip ``k`` is named ``f"{video}_{k:04d}"``.
        joint_indices: OpenPose-137 index per output joint (``Skeleton.source_indices``); None
            keeps all 137.
        subject: subject id stored as ``"subject"`` (for the cross-subject split).
        img_shape: (H, W) of the video.
        label_map: raw label -> class index (callable or mapping); None keeps raw labels.

    Returns:
        One PYSKL-style annotation per segment (``keypoint`` [M, T, V, 2], ``keypoint_score``
        [M, T, V], ``label``, ``frame_dir``, ``total_frames``, ``img_shape``, ``original_shape``,
        ``video``, ``start_frame``, ``subject``).

    Raises:
        MalformedClipError: a segment is empty/reversed or outside the video, or has an unknown
            label (names the clip).
    """
    frames = keypoint.shape[1]
    idx = None if joint_indices is None else np.asarray(joint_indices, np.int64)
    out = []
    for k, (raw, start, end) in enumerate(segments):
        name = f"{video}_{k:04d}"
        s, e = start - frame_base, end - frame_base
        if e < s:
            raise MalformedClipError(name, f"end_frame {end} before start_frame {start}")
        if s < 0 or e >= frames:
            raise MalformedClipError(
                name,
                f"frames {start}..{end} outside the video's {frames} frames (base {frame_base})",
            )
        try:
            if label_map is None:
                label = int(raw)
            elif callable(label_map):
                label = int(label_map(int(raw)))
            else:
                label = int(label_map[int(raw)])
        except (KeyError, ValueError) as exc:
            raise MalformedClipError(name, f"unknown raw label {raw} ({exc})") from None
        kp, sc = keypoint[:, s : e + 1], score[:, s : e + 1]
        if idx is not None:
            kp, sc = kp[:, :, idx], sc[:, :, idx]
        out.append(
            {
                "frame_dir": name,
                "label": label,
                "total_frames": e - s + 1,
                "img_shape": tuple(img_shape),
                "original_shape": tuple(img_shape),
                "keypoint": np.ascontiguousarray(kp, np.float32),
                "keypoint_score": np.ascontiguousarray(sc, np.float32),
                "video": video,
                "start_frame": int(start),
                "subject": subject,
            }
        )
    return out
