"""Batching of :class:`~pymg.data.PoseDataset` items: pad T to the batch maximum, keep lengths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["collate"]


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack dataset items into a batch, zero-padding frames to the longest clip.

    Args:
        samples: N items with ``keypoint`` [M, T_n, V, 2], ``score`` [M, T_n, V], ``label`` int
            and optional ``length`` (default T_n) and ``meta`` dict.

    Returns:
        ``{"keypoint": float32 Tensor [N, M, Tmax, V, 2], "score": float32 [N, M, Tmax, V],
        "length": int64 [N], "label": int64 [N], "meta": list of N dicts}``; frames
        ``t >= length[n]`` are zeros.

    Raises:
        ValueError: empty batch, missing keys, or samples that disagree on M or V (names them).
    """
    if len(samples) == 0:
        raise ValueError("collate needs at least one sample")
    kps: list[np.ndarray] = []
    scs: list[np.ndarray] = []
    lengths: list[int] = []
    labels: list[int] = []
    metas: list[dict[str, Any]] = []
    for n, s in enumerate(samples):
        if not isinstance(s, Mapping):
            raise TypeError(f"samples[{n}] must be a dict, got {type(s).__name__}")
        missing = [k for k in ("keypoint", "score", "label") if k not in s]
        if missing:
            raise ValueError(f"samples[{n}] lacks keys {missing}")
        kp = np.asarray(s["keypoint"], np.float32)
        sc = np.asarray(s["score"], np.float32)
        if kp.ndim != 4 or kp.shape[-1] != 2 or sc.shape != kp.shape[:3]:
            raise ValueError(
                f"samples[{n}]: keypoint must be [M, T, V, 2] and score [M, T, V], got "
                f"{list(kp.shape)} and {list(sc.shape)}"
            )
        if n and kp.shape[0] != kps[0].shape[0]:
            raise ValueError(
                f"samples[{n}] has M={kp.shape[0]} persons but samples[0] has "
                f"{kps[0].shape[0]}; use PoseDataset(num_persons=...) for a fixed M"
            )
        if n and kp.shape[2] != kps[0].shape[2]:
            raise ValueError(
                f"samples[{n}] has V={kp.shape[2]} joints but samples[0] has {kps[0].shape[2]}"
            )
        length = int(s.get("length", kp.shape[1]))
        if not 0 <= length <= kp.shape[1]:
            raise ValueError(f"samples[{n}]: length {length} outside [0, T={kp.shape[1]}]")
        kps.append(kp)
        scs.append(sc)
        lengths.append(length)
        labels.append(int(s["label"]))
        metas.append(dict(s.get("meta", {})))
    n_total, t_max = len(kps), max(k.shape[1] for k in kps)
    m, v = kps[0].shape[0], kps[0].shape[2]
    keypoint = torch.zeros((n_total, m, t_max, v, 2), dtype=torch.float32)
    score = torch.zeros((n_total, m, t_max, v), dtype=torch.float32)
    for n, (kp, sc) in enumerate(zip(kps, scs, strict=True)):
        keypoint[n, :, : kp.shape[1]] = torch.from_numpy(kp)
        score[n, :, : sc.shape[1]] = torch.from_numpy(sc)
    return {
        "keypoint": keypoint,
        "score": score,
        "length": torch.tensor(lengths, dtype=torch.int64),
        "label": torch.tensor(labels, dtype=torch.int64),
        "meta": metas,
    }
