"""Input validation shared by the public ops (clear errors naming the argument).

The int check is :func:`pymg.checks.check_int`, the memory cap
:func:`pymg.limits.check_nbytes`; the rest are the ops' own kinds of argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from pymg.checks import describe
from pymg.limits import check_nbytes, resolve_max_array_bytes
from pymg.ops.constants import HEATMAP_DTYPES, MIN_SIGMA

_describe = describe


def check_keypoints(keypoints: Any, name: str = "keypoints") -> tuple[int, int, int, int]:
    """Check ``keypoints`` is a floating tensor [N, M, T, V, 2]; return (N, M, T, V).

    N = 0 (an empty batch) and M = 0 (clips without a person) are accepted, as in torch ops; T and
    V must be >= 1.
    """
    if not isinstance(keypoints, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor [N, M, T, V, 2], got {_describe(keypoints)}"
        )
    if not keypoints.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {keypoints.dtype}")
    if keypoints.dim() != 5 or keypoints.shape[-1] != 2:
        raise ValueError(f"{name} must have shape [N, M, T, V, 2], got {tuple(keypoints.shape)}")
    n, m, t, v, _ = keypoints.shape
    if min(t, v) == 0:
        raise ValueError(f"{name} must have T, V >= 1, got shape {tuple(keypoints.shape)}")
    return int(n), int(m), int(t), int(v)


def prepare_scores(scores: Any, keypoints: torch.Tensor, name: str = "scores") -> torch.Tensor:
    """Return contiguous float32 scores [N, M, T, V] (all ones when ``scores`` is None)."""
    expected = tuple(keypoints.shape[:-1])
    if scores is None:
        return torch.ones(expected, dtype=torch.float32, device=keypoints.device)
    if not isinstance(scores, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor [N, M, T, V] or None, got {_describe(scores)}"
        )
    if not scores.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {scores.dtype}")
    if tuple(scores.shape) != expected:
        raise ValueError(
            f"{name} must have shape [N, M, T, V] = {expected} to match keypoints, "
            f"got {tuple(scores.shape)}"
        )
    check_same_device(keypoints, scores, name)
    return scores.to(torch.float32).contiguous()


def as_float32(keypoints: torch.Tensor) -> torch.Tensor:
    """Contiguous float32 copy (or view) of a validated floating tensor."""
    return keypoints.to(torch.float32).contiguous()


def check_same_device(reference: torch.Tensor, other: torch.Tensor, name: str) -> None:
    """Raise ValueError when ``other`` is not on ``reference``'s device."""
    if other.device != reference.device:
        raise ValueError(
            f"{name} is on {other.device} but keypoints are on {reference.device}; "
            "all tensors must be on one device"
        )


def check_size(size: Any, name: str = "size") -> tuple[int, int]:
    """Check ``size`` is a pair of positive ints (H, W)."""
    if isinstance(size, torch.Tensor) or not isinstance(size, Sequence) or len(size) != 2:
        raise TypeError(f"{name} must be a pair of ints (H, W), got {_describe(size)}")
    for item in size:
        if isinstance(item, bool) or not isinstance(item, Integral):
            raise TypeError(f"{name} must be a pair of ints (H, W), got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be positive (H, W), got {(h, w)}")
    return h, w


def check_real(value: Any, name: str, *, positive: bool) -> float:
    """Check a finite real number, > 0 when ``positive`` else >= 0; return it as float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    out = float(value)
    # comparisons rather than math.isfinite: torch.compile traces them on symbolic floats too
    if not -math.inf < out < math.inf or (out <= 0.0 if positive else out < 0.0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return out


def check_sigma(value: Any, name: str = "sigma") -> float:
    """Check a finite heatmap sigma >= :data:`~pymg.ops.constants.MIN_SIGMA`; return it as float."""
    out = check_real(value, name, positive=True)
    if out < MIN_SIGMA:
        raise ValueError(f"{name} must be >= MIN_SIGMA = {MIN_SIGMA} pixels, got {value!r}")
    return out


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Check ``value`` is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_out_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """Check a heatmap output dtype (float32, float16 or bfloat16)."""
    if not isinstance(dtype, torch.dtype) or dtype not in HEATMAP_DTYPES:
        raise TypeError(f"{name} must be one of {HEATMAP_DTYPES}, got {dtype!r}")
    return dtype


def _to_int(item: Any, name: str, shape_text: str) -> int:
    if isinstance(item, (torch.Tensor, np.ndarray)) and item.ndim == 0:
        item = item.item()
    if isinstance(item, bool) or not isinstance(item, Integral):
        raise TypeError(f"{name} must hold ints {shape_text}, got an item {item!r}")
    return int(item)


def _index_rows(value: Any, name: str, shape_text: str) -> list[Any]:
    """A tensor, array or (nested) sequence of ints as nested Python lists of ints.

    Sequences of Python ints are converted without creating a tensor, so the checks below stay
    plain Python (``torch.compile`` traces them without a graph break).
    """
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers {shape_text}, got dtype {value.dtype}")
        if value.dim() not in (1, 2):
            raise ValueError(f"{name} must have shape {shape_text}, got {tuple(value.shape)}")
        rows: list[Any] = value.detach().cpu().tolist()
        return rows
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be a sequence or tensor of ints {shape_text}, got {_describe(value)}"
        )
    rows = []
    for item in value:
        if isinstance(item, (Sequence, torch.Tensor, np.ndarray)) and not isinstance(item, str):
            rows.append([_to_int(i, name, shape_text) for i in item])
        else:
            rows.append(_to_int(item, name, shape_text))
    return rows


def check_limbs(limbs: Any, num_joints: int, name: str = "limbs") -> list[int]:
    """Check limb pairs [L, 2] with indices in [0, V); return them flat: [a0, b0, a1, b1, ...]."""
    rows = _index_rows(limbs, name, "[L, 2]")
    pairs = [r for r in rows if isinstance(r, list) and len(r) == 2]
    if not rows or len(pairs) != len(rows):
        shape = (len(rows),) if any(not isinstance(r, list) for r in rows) else None
        got = shape if shape is not None else [len(r) for r in rows]
        raise ValueError(f"{name} must have shape [L, 2] with L >= 1, got {got!r}")
    flat = [int(i) for pair in pairs for i in pair]
    low, high = min(flat), max(flat)
    if low < 0 or high >= num_joints:
        raise ValueError(
            f"{name} indices must be in [0, V) = [0, {num_joints}), got values in [{low}, {high}]"
        )
    return flat


def check_perm(perm: Any, num_channels: int, name: str = "perm") -> list[int]:
    """Check ``perm`` is a permutation of range(C); return it as a list of ints [C]."""
    rows = _index_rows(perm, name, f"[C] = [{num_channels}]")
    if len(rows) != num_channels or any(isinstance(r, list) for r in rows):
        shape = [len(r) if isinstance(r, list) else 1 for r in rows]
        raise ValueError(f"{name} must have length C = {num_channels}, got rows {shape}")
    if sorted(rows) != list(range(num_channels)):
        raise ValueError(f"{name} must be a permutation of range({num_channels}), got {rows}")
    return [int(r) for r in rows]


def check_lengths(
    lengths: Any,
    batch: int | None,
    max_len: int | None,
    name: str = "lengths",
    *,
    values: bool = True,
) -> None:
    """Check an integer tensor [N] (N >= 0) with 1 <= lengths <= T (bounds that are given).

    ``values=False`` checks only type, dtype and shape (no reading of the tensor, so no device
    sync and nothing data-dependent for ``torch.compile``); the ops check the values where they
    run.
    """
    if not isinstance(lengths, torch.Tensor):
        raise TypeError(f"{name} must be an integer torch.Tensor [N], got {_describe(lengths)}")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must have an integer dtype, got {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"{name} must have shape [N], got {tuple(lengths.shape)}")
    if batch is not None and lengths.shape[0] != batch:
        raise ValueError(f"{name} must have shape [N] = [{batch}], got {tuple(lengths.shape)}")
    if not values or lengths.shape[0] == 0:
        return
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1:
        raise ValueError(f"{name} must be >= 1, got a minimum of {low}")
    if max_len is not None and high > max_len:
        raise ValueError(f"{name} must be <= T = {max_len}, got a maximum of {high}")


def check_output_size(shape: Sequence[int], dtype: torch.dtype, name: str) -> None:
    """Refuse an op output of ``shape`` and ``dtype`` over the memory cap (:mod:`pymg.limits`),
    before it is allocated; ``name`` is the op and argument, e.g. ``"joint_heatmaps(size=...)"``.
    """
    nbytes = dtype.itemsize
    for d in shape:  # no int(): symbolic sizes under torch.compile stay symbolic
        nbytes = nbytes * d
    if nbytes > resolve_max_array_bytes():  # the message is only built on failure
        dims = [int(d) for d in shape]
        check_nbytes(name, f"an output of shape {dims} and dtype {dtype}", int(nbytes))
