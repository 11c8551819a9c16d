"""Batching of clip dicts (:class:`~pymg.data.PoseDataset` items): pad T to the batch maximum.

The clip-dict schema uses PYSKL's names: ``keypoint`` ``[M, T, V, 2]``, ``keypoint_score``
``[M, T, V]``, ``label``, ``img_shape`` ``(H, W)``, ``frame_dir``; plus ``length`` (valid frames)
and ``meta`` (other per-clip values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from pymg.checks import check_int

__all__ = ["REQUIRED_KEYS", "collate"]

_LABEL = "an int class index >= 0 (or -1 = unknown)"
REQUIRED_KEYS = ("keypoint", "keypoint_score", "label")
"""Keys every clip dict must have; ``img_shape``, ``frame_dir``, ``length``, ``meta`` are
optional (``img_shape`` all or none)."""


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack clip dicts into a batch, zero-padding frames to the longest clip.

    Labels are checked here, once, where the data enters the engine (integers, -1 = unknown), so
    the training step never reads them back from the device.

    Args:
        samples: N clip dicts with ``keypoint`` [M, T_n, V, 2], ``keypoint_score`` [M, T_n, V],
            ``label`` int, and optional ``length`` (default T_n), ``img_shape`` (H, W),
            ``frame_dir`` str and ``meta`` dict.

    Returns:
        ``{"keypoint": float32 Tensor [N, M, Tmax, V, 2], "keypoint_score": float32
        [N, M, Tmax, V], "length": int64 [N], "label": int64 [N], "img_shape": int64 [N, 2]
        (when the items have it), "frame_dir": list of N str (None where absent), "meta": list
        of N dicts}``; frames ``t >= length[n]`` are zeros.

    Raises:
        ValueError / TypeError: empty batch, missing keys, a label that is not an integer >= -1,
            samples that disagree on M or V, or some with ``img_shape`` and some without.
    """
    if len(samples) == 0:
        raise ValueError("collate needs at least one sample")
    rows = [_check_sample(n, s) for n, s in enumerate(samples)]
    first = rows[0]["keypoint"]
    for n, row in enumerate(rows[1:], start=1):
        kp = row["keypoint"]
        if kp.shape[0] != first.shape[0]:
            raise ValueError(
                f"samples[{n}] has M={kp.shape[0]} persons but samples[0] has "
                f"{first.shape[0]}; use PoseDataset(num_persons=...) for a fixed M"
            )
        if kp.shape[2] != first.shape[2]:
            raise ValueError(
                f"samples[{n}] has V={kp.shape[2]} joints but samples[0] has {first.shape[2]}"
            )
    t_max = max(r["keypoint"].shape[1] for r in rows)
    m, v = first.shape[0], first.shape[2]
    keypoint = torch.zeros((len(rows), m, t_max, v, 2), dtype=torch.float32)
    score = torch.zeros((len(rows), m, t_max, v), dtype=torch.float32)
    for n, row in enumerate(rows):
        t = row["keypoint"].shape[1]
        keypoint[n, :, :t] = torch.from_numpy(row["keypoint"])
        score[n, :, :t] = torch.from_numpy(row["keypoint_score"])
    batch: dict[str, Any] = {
        "keypoint": keypoint,
        "keypoint_score": score,
        "length": torch.tensor([r["length"] for r in rows], dtype=torch.int64),
        "label": torch.tensor([r["label"] for r in rows], dtype=torch.int64),
        "frame_dir": [r["frame_dir"] for r in rows],
        "meta": [r["meta"] for r in rows],
    }
    shapes = [r["img_shape"] for r in rows]
    if all(s is not None for s in shapes):
        batch["img_shape"] = torch.tensor(shapes, dtype=torch.int64)
    elif any(s is not None for s in shapes):
        missing = next(n for n, s in enumerate(shapes) if s is None)
        raise ValueError(f"samples[{missing}] lacks 'img_shape' (H, W) that other samples have")
    return batch


def _check_sample(n: int, s: Any) -> dict[str, Any]:
    """One clip dict, checked, as numpy arrays and plain values."""
    if not isinstance(s, Mapping):
        raise TypeError(f"samples[{n}] must be a dict, got {type(s).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in s]
    if missing:
        hint = " (the scores are 'keypoint_score', PYSKL's name)" if "score" in s else ""
        raise ValueError(f"samples[{n}] lacks keys {missing}{hint}")
    kp = np.asarray(s["keypoint"], np.float32)
    sc = np.asarray(s["keypoint_score"], np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3]:
        raise ValueError(
            f"samples[{n}]: keypoint must be [M, T, V, 2] and keypoint_score [M, T, V], got "
            f"{list(kp.shape)} and {list(sc.shape)}"
        )
    length = int(s.get("length", kp.shape[1]))
    if not 0 <= length <= kp.shape[1]:
        raise ValueError(f"samples[{n}]: length {length} outside [0, T={kp.shape[1]}]")
    label = check_int(s["label"], f"samples[{n}]: label", minimum=-1, expected=_LABEL)
    shape = s.get("img_shape")
    if shape is not None and (len(shape) != 2 or min(int(x) for x in shape) <= 0):
        raise ValueError(f"samples[{n}]: img_shape must be a positive (H, W), got {shape!r}")
    frame_dir = s.get("frame_dir")
    return {
        "keypoint": kp,
        "keypoint_score": sc,
        "length": length,
        "label": label,
        "img_shape": None if shape is None else (int(shape[0]), int(shape[1])),
        "frame_dir": None if frame_dir is None else str(frame_dir),
        "meta": dict(s.get("meta", {})),
    }
