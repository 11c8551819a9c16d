"""pymg's native file of untrimmed recordings: whole videos with their ground-truth segments.

The same container as the clip file (:mod:`pymg.data.formats.native`: one ``.npz`` of plain numpy
members, no pickles, uncompressed members memory-mapped on load), with ``meta["kind"] ==
"recordings"`` so that neither reader opens the other's file by mistake. Members:

=================  ========================  =================================================
member             shape / dtype             meaning
=================  ========================  =================================================
``keypoint``       [M, S, V, 2] f32 or f16   all videos' frames concatenated along S = sum T
``score``          [M, S, V] same dtype      keypoint scores (0: not detected)
``offset``         [N] int64                 first frame of video n in S
``length``         [N] int64                 T of video n
``persons``        [N] int64                 persons stored for video n (<= M)
``name``           [N] unicode               video id (``frame_dir``)
``img_shape``      [N, 2] int64              (H, W) of the keypoint coordinate frame
``labelled``       [N] bool                  False: an unlabelled (test) video
``segment``        [G, 3] int64              all videos' segments (start, end, label) in order
``seg_offset``     [N] int64                 first row of video n in ``segment``
``seg_count``      [N] int64                 segments of video n
``meta``           0-d unicode (JSON)        format, version, ``kind``, layout, splits,
                                             class_names, num_classes, per-video ``extra``
=================  ========================  =================================================
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.native import (
    NATIVE_FORMAT,
    NATIVE_VERSION,
    extra_columns,
    pack_frames,
    read_native,
    write_npz,
)

__all__ = ["RECORDING_MEMBERS", "read_recordings_file", "write_recordings"]

RECORDING_MEMBERS = (
    "keypoint",
    "score",
    "offset",
    "length",
    "persons",
    "name",
    "img_shape",
    "labelled",
    "segment",
    "seg_offset",
    "seg_count",
    "meta",
)
_STANDARD = frozenset(
    ("frame_dir", "keypoint", "keypoint_score", "img_shape", "total_frames", "segments",
     "labelled", "original_shape")
)  # fmt: skip


def write_recordings(
    path: str | os.PathLike[str],
    recordings: Sequence[Mapping[str, Any]],
    *,
    splits: Mapping[str, Sequence[str]] | None = None,
    layout: str | None = None,
    class_names: Sequence[str] | None = None,
    dtype: Any = np.float32,
    compress: bool = False,
) -> dict[str, Any]:
    """Write recordings already checked by :func:`pymg.data.recording.check_recording`.

    Args:
        path: the ``.npz`` to write (atomically).
        recordings: recording dicts (``keypoint`` [M, T, V, 2], ``keypoint_score`` [M, T, V],
            ``segments`` int64 [S, 3], ``frame_dir``, ``img_shape``, ``labelled``); every
            recording must have the same V. Extra keys holding JSON scalars are kept per video.
        splits: ``{name: [video id, ...]}``.
        layout: the joint layout's name.
        class_names: the class names (``num_classes`` = their count).
        dtype: float32 or float16 storage of the keypoints.
        compress: zip-deflate the members (no memory mapping on load).

    Returns:
        ``{"path", "videos", "frames", "segments"}``.

    Raises:
        ValueError: no recordings, joint counts that differ, or a bad dtype.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"dtype must be float32 or float16, got {dtype}")
    if not recordings:
        raise ValueError(f"write_recordings: no recordings to write to {os.fspath(path)}")
    joints = {int(np.shape(r["keypoint"])[2]) for r in recordings}
    if len(joints) != 1:
        raise ValueError(f"write_recordings: recordings have different joint counts {joints}")
    n = len(recordings)
    packed = pack_frames(recordings, dtype)
    segs = [np.asarray(r["segments"], np.int64).reshape(-1, 3) for r in recordings]
    counts = np.array([len(g) for g in segs], np.int64)
    meta = {
        "format": NATIVE_FORMAT,
        "version": NATIVE_VERSION,
        "kind": "recordings",
        "layout": layout,
        "splits": {str(k): [str(x) for x in val] for k, val in (splits or {}).items()},
        "class_names": list(class_names) if class_names is not None else None,
        "num_classes": len(class_names) if class_names is not None else None,
        "extra": extra_columns(recordings, _STANDARD),
    }
    arrays = {
        **packed,
        "name": np.array([str(r["frame_dir"]) for r in recordings], dtype=str),
        "img_shape": np.array([r["img_shape"] for r in recordings], np.int64).reshape(n, 2),
        "labelled": np.array([bool(r.get("labelled", True)) for r in recordings], bool),
        "segment": np.concatenate(segs),
        "seg_offset": np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
        "seg_count": counts,
        "meta": np.array(json.dumps(meta)),
    }
    target = write_npz(path, arrays, compress)
    frames = int(packed["length"].sum())
    return {"path": target, "videos": n, "frames": frames, "segments": int(counts.sum())}


def read_recordings_file(
    path: str, mmap: bool, limit: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The members and meta of a recording file, their shapes checked against each other.

    Raises:
        ValueError: an unreadable file, a clip file, or members whose shapes disagree.
    """
    arrays, meta = read_native(path, RECORDING_MEMBERS, "recordings", mmap, limit)
    kp, sc = arrays["keypoint"], arrays["score"]
    n = len(arrays["name"])
    if kp.ndim != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3]:
        raise ValueError(
            f"{path}: keypoint/score shapes {kp.shape}/{sc.shape} do not match "
            "[M, S, V, 2]/[M, S, V]"
        )
    for name in ("offset", "length", "persons", "labelled", "seg_offset", "seg_count"):
        if arrays[name].shape != (n,):
            raise ValueError(f"{path}: member {name!r} has shape {arrays[name].shape}, want ({n},)")
    if arrays["img_shape"].shape != (n, 2):
        raise ValueError(f"{path}: member 'img_shape' has shape {arrays['img_shape'].shape}")
    segment = arrays["segment"]
    if segment.ndim != 2 or segment.shape[1] != 3:
        raise ValueError(f"{path}: member 'segment' has shape {segment.shape}, want [G, 3]")
    return arrays, meta
