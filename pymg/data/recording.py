"""Untrimmed recordings: whole videos with the segments (start, end, class) of their gestures.

A *recording* is a dict with PYSKL's names, the untrimmed twin of a clip annotation::

    {"frame_dir": str,                      # the video id
     "keypoint": float32 [M, T, V, 2],      # pixel coordinates, the whole video
     "keypoint_score": float32 [M, T, V],   # 0: not detected in that frame
     "img_shape": (H, W),
     "total_frames": int,                   # T
     "segments": int64 [S, 3],              # rows (start, end, label), sorted by start
     "labelled": bool}                      # False: an unlabelled (test) video, S = 0

Segment frames are 0-based and inclusive (``end`` is the last frame of the gesture, so a segment
holds ``end - start + 1`` frames); labels are 0-based classes. A video without gestures has
``segments`` of shape [0, 3]. Segments of *different* classes may overlap (two micro-gestures at
once); two segments of the *same* class may not (that is a duplicated or mistyped row).

:func:`check_recording` validates and normalises one; :func:`check_segments` checks a segment
table against its video; :class:`RecordingSet` reads the native file that
``pymg prepare --untrimmed`` writes (:mod:`pymg.data.formats.native_recordings`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.checks import (
    MalformedClipError,
    check_annotation,
    resolve_max_array_bytes,
)
from pymg.data.formats.joints import joint_index_map, resolve_layout
from pymg.data.formats.native_recordings import read_recordings_file, write_recordings

__all__ = ["RecordingSet", "check_recording", "check_segments", "save_recordings"]


def check_segments(
    segments: Any,
    total_frames: int,
    *,
    num_classes: int | None = None,
    where: str = "segments",
    lines: Sequence[int] | None = None,
) -> np.ndarray:
    """Check a video's segment table and return it sorted by start (stable).

    Args:
        segments: int array-like [S, 3] of (start, end, label) rows, 0-based, end inclusive.
        total_frames: T of the video; every frame must lie in ``[0, T)``.
        num_classes: labels must lie in ``[0, num_classes)`` (None: only ``>= 0``).
        where: names the source in messages (a file, or a video id).
        lines: the source line of each row (messages then say ``where:line``).

    Returns:
        int64 [S, 3], sorted by start (rows with equal starts keep their order).

    Raises:
        ValueError: a non-integer table, ``end < start``, a frame outside the video, a class out
            of range, or two overlapping segments of the same class; the message names the
            source and the row's line (or index).
    """
    arr = np.asarray(segments)
    if arr.size == 0:
        return np.zeros((0, 3), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{where}: segments must have shape [S, 3], got {list(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{where}: segments must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)

    def at(i: int) -> str:
        return f"{where}:{lines[i]}" if lines is not None else f"{where} row {i}"

    for i, (s, e, c) in enumerate(arr.tolist()):
        if e < s:
            raise ValueError(f"{at(i)}: end frame {e} before start frame {s}")
        if s < 0 or e >= total_frames:
            raise ValueError(
                f"{at(i)}: segment {s}..{e} outside the video's frames 0..{total_frames - 1}"
            )
        if c < 0 or (num_classes is not None and c >= num_classes):
            bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            raise ValueError(f"{at(i)}: class {c} out of range {bound}")
    order = np.argsort(arr[:, 0], kind="stable")
    last_end: dict[int, tuple[int, int]] = {}
    for i in order.tolist():
        s, e, c = arr[i].tolist()
        prev = last_end.get(c)
        if prev is not None and s <= prev[0]:
            raise ValueError(
                f"{at(i)}: segment {s}..{e} of class {c} overlaps the one ending at frame "
                f"{prev[0]} ({at(prev[1])}); segments of one class must not overlap"
            )
        if prev is None or e > prev[0]:
            last_end[c] = (e, i)
    return np.ascontiguousarray(arr[order])


def check_recording(
    rec: Any,
    index: int = 0,
    *,
    num_joints: int | None = None,
    num_classes: int | None = None,
    nan_as_missing: bool = False,
) -> dict[str, Any]:
    """Validate one recording (see the module docstring) and return a normalised copy.

    Args:
        rec: the recording mapping; ``segments`` may be absent (no gestures) and ``labelled``
            defaults to True.
        index: its position, named in messages when it has no ``frame_dir``.
        num_joints: expected V (None: any).
        num_classes: segment labels must lie in ``[0, num_classes)``.
        nan_as_missing: NaN/inf points become missing (score 0) instead of an error.

    Returns:
        the recording with float32 C-contiguous arrays, ``total_frames`` = T, ``img_shape`` a
        pair of ints, ``segments`` int64 [S, 3] sorted by start and ``labelled`` a bool.

    Raises:
        MalformedClipError: bad arrays (NaN, shapes, T = 0...), bad segments, or segments on an
            unlabelled recording; the message names the video.
    """
    if isinstance(rec, Mapping) and "label" in rec:
        raise MalformedClipError(
            str(rec.get("frame_dir", f"#{index}")),
            "a recording has 'segments', not a clip's 'label'",
        )
    clip = check_annotation(
        rec, index, num_joints=num_joints, require_label=False, nan_as_missing=nan_as_missing
    )
    name = clip["frame_dir"]
    labelled = clip.get("labelled", True)
    if not isinstance(labelled, (bool, np.bool_)):
        raise MalformedClipError(name, f"labelled must be a bool, got {labelled!r}")
    try:
        segments = check_segments(
            clip.get("segments", np.zeros((0, 3), np.int64)),
            clip["total_frames"],
            num_classes=num_classes,
            where="segments",
        )
    except ValueError as exc:
        raise MalformedClipError(name, str(exc)) from None
    if not labelled and len(segments):
        raise MalformedClipError(name, f"unlabelled recording with {len(segments)} segments")
    clip.pop("label", None)
    clip.pop("original_shape", None)
    clip.update(segments=segments, labelled=bool(labelled))
    return clip


def save_recordings(
    path: str | os.PathLike[str],
    recordings: Iterable[Mapping[str, Any]],
    *,
    splits: Mapping[str, Sequence[str]] | None = None,
    layout: str | None = None,
    class_names: Sequence[str] | None = None,
    dtype: Any = np.float32,
    compress: bool = False,
) -> dict[str, Any]:
    """Check recordings (:func:`check_recording`) and write them to a native untrimmed file.

    Args:
        path: the ``.npz`` to write (read it back with :class:`RecordingSet`).
        recordings: recording dicts, all with the same V.
        splits: ``{name: [video id, ...]}``.
        layout: the name of the joint layout.
        class_names: the class names; segment labels must index them.
        dtype: float32 or float16 storage; compress: zip-deflate (no memory mapping).

    Returns:
        ``{"path", "videos", "frames", "segments"}``.

    Raises:
        MalformedClipError: a malformed recording (names it and the problem).
    """
    num_classes = len(class_names) if class_names is not None else None
    checked: list[dict[str, Any]] = []
    for i, rec in enumerate(recordings):
        v = checked[0]["keypoint"].shape[2] if checked else None
        checked.append(check_recording(rec, i, num_joints=v, num_classes=num_classes))
    return write_recordings(
        path, checked, splits=splits, layout=layout, class_names=class_names, dtype=dtype,
        compress=compress,
    )  # fmt: skip


class RecordingSet(Sequence[dict[str, Any]]):
    """The recordings of a native untrimmed file (``pymg prepare --untrimmed``).

    Args:
        path: the ``.npz``.
        split: keep only this split's videos (None: every video in the file).
        layout: return this layout's joints, selected from the stored ones (None: as stored).
        mmap: memory-map the keypoints (default) instead of reading them.
        max_array_bytes: cap on a member read into memory (see :class:`~pymg.data.NativeClips`).

    Attributes:
        names: the video ids in order; layout: the layout name of the returned joints;
        class_names, num_classes: as stored; splits: ``{name: [video id]}``; lengths: int64 [N].

    ``self[n]`` is recording ``n`` (see the module docstring): ``keypoint`` float32
    [M, T, V, 2], ``keypoint_score`` [M, T, V], ``segments`` int64 [S, 3], ... Pickling (e.g. to
    spawn-started DataLoader workers) stores only the path and the arguments, and reopens.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a clip file, an unknown split, or a layout the stored joints cannot give.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = None,
        layout: Any = None,
        *,
        mmap: bool = True,
        max_array_bytes: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._args = (split, layout, bool(mmap), max_array_bytes)
        arrays, meta = read_recordings_file(
            self.path, mmap, resolve_max_array_bytes(max_array_bytes)
        )
        self._a = arrays
        self.splits: dict[str, list[str]] = meta.get("splits") or {}
        self.class_names: list[str] | None = meta.get("class_names")
        self.num_classes: int | None = meta.get("num_classes")
        self._extra: dict[str, list[Any]] = meta.get("extra") or {}
        stored = meta.get("layout")
        all_names = [str(x) for x in arrays["name"]]
        if split is None:
            self._rows = list(range(len(all_names)))
        else:
            if split not in self.splits:
                raise ValueError(
                    f"{self.path}: no split {split!r}; the file has {sorted(self.splits) or 'none'}"
                )
            where = {n: i for i, n in enumerate(all_names)}
            self._rows = [where[n] for n in self.splits[split] if n in where]
        self.names = [all_names[i] for i in self._rows]
        self.lengths = np.asarray(arrays["length"], np.int64)[self._rows]
        self._index: np.ndarray | None = None
        self.layout: str | None = stored
        if layout is not None:
            target = resolve_layout(layout)
            v = int(arrays["keypoint"].shape[2])
            self._index = joint_index_map(stored, target, v)
            self.layout = target.name

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"recording index {index} out of range for {len(self)} recordings")
        i = self._rows[int(index)]
        a = self._a
        name = str(a["name"][i])
        off, t, p = int(a["offset"][i]), int(a["length"][i]), int(a["persons"][i])
        if (
            t <= 0
            or off < 0
            or off + t > a["keypoint"].shape[1]
            or not 0 < p <= a["keypoint"].shape[0]
        ):
            raise MalformedClipError(name, f"bad index entry (offset {off}, T {t}, persons {p})")
        kp = np.array(a["keypoint"][:p, off : off + t], np.float32)
        sc = np.array(a["score"][:p, off : off + t], np.float32)
        if self._index is not None:
            kp, sc = kp[:, :, self._index], sc[:, :, self._index]
        so, sn = int(a["seg_offset"][i]), int(a["seg_count"][i])
        segments = np.array(a["segment"][so : so + sn], np.int64).reshape(-1, 3)
        rec: dict[str, Any] = {k: v[i] for k, v in self._extra.items()}
        rec.update(
            frame_dir=name,
            keypoint=np.ascontiguousarray(kp),
            keypoint_score=np.ascontiguousarray(sc),
            img_shape=(int(a["img_shape"][i, 0]), int(a["img_shape"][i, 1])),
            total_frames=t,
            segments=segments,
            labelled=bool(a["labelled"][i]),
        )
        return rec

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "args": self._args}

    def __setstate__(self, state: dict[str, Any]) -> None:
        split, layout, mmap, max_bytes = state["args"]
        self.__init__(  # type: ignore[misc]
            state["path"], split, layout, mmap=mmap, max_array_bytes=max_bytes
        )

    def __repr__(self) -> str:
        return f"RecordingSet({self.path!r}, videos={len(self)}, layout={self.layout!r})"
