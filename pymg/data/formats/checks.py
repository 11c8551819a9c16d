"""Validation of clip annotations and the ``on_error`` policy shared by every loader.

A *clip annotation* is a PYSKL-style dict::

    {"frame_dir": str, "label": int, "total_frames": int, "img_shape": (H, W),
     "original_shape": (H, W), "keypoint": float32 [M, T, V, 2],
     "keypoint_score": float32 [M, T, V]}

:func:`check_annotation` turns such a dict into a normalised copy (float32 C-contiguous arrays,
Python ``int`` label, tuple shapes) or raises :class:`MalformedClipError` naming the clip and the
problem. :class:`SkipLog` counts the clips skipped under ``on_error="skip"`` and warns once.

The file readers that size arrays from the file's own description (the safe unpickler, the native
``.npz`` reader) cap the size of any one array they allocate (:data:`DEFAULT_MAX_ARRAY_BYTES`,
overridable per call with ``max_array_bytes=`` or with the ``PYMG_MAX_ARRAY_BYTES`` environment
variable, see :func:`resolve_max_array_bytes`) and raise :class:`ArrayTooLargeError` *before*
allocating, so a small hostile file cannot demand gigabytes of memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from pymg.checks import check_int
from pymg.limits import (
    DEFAULT_MAX_ARRAY_BYTES,
    MAX_ARRAY_BYTES_ENV,
    SizeLimitError,
    check_nbytes,
    resolve_max_array_bytes,
)

__all__ = [
    "DEFAULT_MAX_ARRAY_BYTES",
    "MAX_ARRAY_BYTES_ENV",
    "ArrayTooLargeError",
    "FileBudget",
    "MalformedClipError",
    "MalformedDataWarning",
    "OnError",
    "SkipLog",
    "check_annotation",
    "check_on_error",
    "clip_name",
    "count_nested",
    "resolve_max_array_bytes",
]

OnError = Literal["raise", "skip"]


class ArrayTooLargeError(SizeLimitError):
    """An array in a data file (or all the arrays of one file together) needs more bytes than the
    cap allows (:mod:`pymg.limits`).

    Raised from the array's header, pickled shape or the file's own description, before anything
    is allocated.

    Attributes:
        source: the file; member: the array within it (``.npz`` member, pickled array, sheet);
        nbytes: bytes the array would need; limit: the cap in force.
    """


class FileBudget:
    """The running total of bytes that reading one file allocates, held to the cap.

    Every array a reader makes from a file's description is :meth:`charge`d; the first one that
    takes the total over the cap raises :class:`ArrayTooLargeError` naming the file, what was
    asked and the limit, so many arrays just under the per-array cap cannot add up to gigabytes.

    Args:
        source: the file (named in messages).
        limit: the cap in bytes; None resolves it (:func:`resolve_max_array_bytes`).
    """

    def __init__(self, source: str, limit: int | None = None) -> None:
        self.source = source
        self.limit = resolve_max_array_bytes(limit)
        self.total = 0

    def charge(self, member: str, nbytes: int) -> None:
        """Count ``nbytes`` for ``member``; raise if it or the file total is over the cap."""
        check_nbytes(self.source, member, nbytes, self.limit, error=ArrayTooLargeError)
        total = self.total + nbytes
        if total > self.limit:
            check_nbytes(
                self.source,
                f"{member} (with the {self.total} bytes already read from this file)",
                total,
                self.limit,
                error=ArrayTooLargeError,
            )
        self.total = total


class MalformedClipError(ValueError):
    """A clip (or a whole file) cannot be used; ``.clip`` names it and ``.problem`` says why.

    ``.source`` is the file the clip was read from, when known (it leads the message).
    """

    def __init__(self, clip: str, problem: str, source: str | None = None) -> None:
        where = f"{source}: " if source else ""
        super().__init__(f"{where}clip {clip!r}: {problem}")
        self.clip = clip
        self.problem = problem
        self.source = source

    def in_file(self, source: str) -> MalformedClipError:
        """This error with ``source`` (the file read) named in its message."""
        if self.source is not None:
            return self
        return MalformedClipError(self.clip, self.problem, source)


def count_nested(value: Any, stop: int) -> int:
    """Numbers held by nested lists/tuples ``value`` (1 for a scalar), counted without recursion.

    A list referenced many times (pickle's memo makes that cheap: a few hundred bytes can nest
    doubling lists 30 deep) is counted once per reference but walked once, so the count is as
    fast as the file is small; the walk stops as soon as the count passes ``stop``.

    Returns:
        The count, or a number > ``stop`` as soon as one is reached.

    Raises:
        ValueError: the lists contain themselves (a cycle, which numpy cannot convert either).
    """
    if not isinstance(value, (list, tuple)):
        return 1
    done: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, finish = stack.pop()
        key = id(node)
        if finish:
            total = sum(done[id(c)] if isinstance(c, (list, tuple)) else 1 for c in node)
            done[key] = total
            open_.discard(key)
            if total > stop:
                return total
            continue
        if key in done:
            continue
        if key in open_:
            raise ValueError("a list that contains itself")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in node if isinstance(c, (list, tuple)) and id(c) not in done)
    return done[id(value)]


class MalformedDataWarning(UserWarning):
    """Issued once per load when ``on_error="skip"`` skipped malformed clips."""


def check_on_error(on_error: str) -> OnError:
    """Validate an ``on_error`` argument: ``"raise"`` or ``"skip"``."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error  # type: ignore[return-value]


class SkipLog:
    """Collects ``(clip, problem)`` pairs of skipped clips.

    Attributes:
        skipped: list of ``(clip, problem)`` in the order met.
    """

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []

    @property
    def count(self) -> int:
        """Number of skipped clips."""
        return len(self.skipped)

    def add(self, err: MalformedClipError) -> None:
        """Record one skipped clip."""
        self.skipped.append((err.clip, err.problem))

    def warn(self, source: str, stacklevel: int = 3) -> None:
        """Warn (``MalformedDataWarning``) with the count, if anything was skipped."""
        if not self.skipped:
            return
        clip, problem = self.skipped[0]
        warnings.warn(
            f"skipped {self.count} malformed clip(s) from {source}; first: {clip!r}: {problem}",
            MalformedDataWarning,
            stacklevel=stacklevel,
        )


def clip_name(ann: Any, index: int) -> str:
    """The clip's ``frame_dir`` if it has a usable one, else ``"#<index>"``."""
    if isinstance(ann, Mapping):
        name = ann.get("frame_dir")
        if isinstance(name, (str, np.str_)) and name:
            return str(name)
    return f"#{index}"


def _shape_pair(value: Any, clip: str, key: str) -> tuple[int, int]:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is a data problem
        raise MalformedClipError(clip, f"{key} is not a (h, w) pair: {exc}") from None
    if arr.shape != (2,) or not np.issubdtype(arr.dtype, np.number):
        raise MalformedClipError(clip, f"{key} must be a (h, w) pair of numbers, got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or np.any(arr != np.round(arr)):
        raise MalformedClipError(clip, f"{key} must hold two positive integers, got {value!r}")
    return int(arr[0]), int(arr[1])


def _clip_int(value: Any, key: str, clip: str) -> int:
    """``value`` as an int (:func:`pymg.checks.check_int`); MalformedClipError names the clip."""
    try:
        out: int = check_int(value, key, minimum=-(2**63), expected="an int")
    except ValueError as exc:
        raise MalformedClipError(clip, str(exc)) from None
    return out


def check_annotation(
    ann: Any,
    index: int = 0,
    *,
    num_joints: int | None = None,
    num_classes: int | None = None,
    require_label: bool = True,
    nan_as_missing: bool = False,
) -> dict[str, Any]:
    """Validate one clip annotation and return a normalised copy.

    Args:
        ann: the annotation mapping (see module docstring). ``keypoint`` may also be
            ``[M, T, V, 3]`` with the score in the last channel when ``keypoint_score`` is absent;
            without any score, scores are 1 for every point.
        index: position of the clip in its source, used in messages when it has no ``frame_dir``.
        num_joints: expected V, or None for any.
        num_classes: labels must lie in ``[0, num_classes)`` or be -1 (an unlabelled clip, e.g.
            a challenge test split); None checks only ``label >= -1``.
        require_label: if False a missing label becomes -1.
        nan_as_missing: treat NaN/inf coordinates as missing points (set to 0 with score 0)
            instead of rejecting the clip.

    Returns:
        dict with ``frame_dir`` (str), ``label`` (int), ``total_frames`` (int, = T),
        ``img_shape``/``original_shape`` ((H, W) ints), ``keypoint`` float32 [M, T, V, 2],
        ``keypoint_score`` float32 [M, T, V] and every other key copied unchanged.

    Raises:
        MalformedClipError: missing keys, wrong shapes/dtypes, NaN/inf, negative or inconsistent
            lengths, empty clips, out-of-range labels; the message names the clip and the problem.
    """
    clip = clip_name(ann, index)
    if not isinstance(ann, Mapping):
        raise MalformedClipError(clip, f"expected an annotation dict, got {type(ann).__name__}")
    if "keypoint" not in ann:
        raise MalformedClipError(clip, "missing key 'keypoint'")
    try:
        kp = np.asarray(ann["keypoint"])
    except Exception as exc:  # noqa: BLE001
        raise MalformedClipError(clip, f"keypoint is not an array: {exc}") from None
    if not np.issubdtype(kp.dtype, np.number) or np.issubdtype(kp.dtype, np.complexfloating):
        raise MalformedClipError(clip, f"keypoint must be a real array, got dtype {kp.dtype}")
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise MalformedClipError(
            clip, f"keypoint must have shape [M, T, V, 2] (or [..., 3]), got {list(kp.shape)}"
        )
    m, t, v = kp.shape[:3]
    if m == 0 or v == 0:
        raise MalformedClipError(clip, f"keypoint has no persons or joints: {list(kp.shape)}")
    if t == 0:
        raise MalformedClipError(clip, "empty clip (T = 0 frames)")
    if num_joints is not None and v != num_joints:
        raise MalformedClipError(clip, f"expected V={num_joints} joints, got {v}")
    if "keypoint_score" in ann:
        try:
            score = np.asarray(ann["keypoint_score"], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001
            raise MalformedClipError(clip, f"keypoint_score is not a float array: {exc}") from None
        if score.shape != (m, t, v):
            raise MalformedClipError(
                clip, f"keypoint_score must have shape {[m, t, v]}, got {list(score.shape)}"
            )
    elif kp.shape[-1] == 3:
        score = kp[..., 2].astype(np.float32)
    else:
        score = np.ones((m, t, v), np.float32)
    xy = np.ascontiguousarray(kp[..., :2], dtype=np.float32)
    finite = np.asarray(np.isfinite(xy).all(-1))
    if not finite.all():
        if not nan_as_missing:
            raise MalformedClipError(clip, "keypoint holds NaN or inf")
        xy = np.where(finite[..., None], xy, np.float32(0))
        score = np.where(finite, score, np.float32(0))
    if not np.isfinite(score).all():
        raise MalformedClipError(clip, "keypoint_score holds NaN or inf")
    if (score < 0).any():
        raise MalformedClipError(clip, "keypoint_score holds negative values")

    if "total_frames" in ann:
        total = _clip_int(ann["total_frames"], "total_frames", clip)
        if total < 0:
            raise MalformedClipError(clip, f"negative total_frames {int(total)}")
        if total != t:
            raise MalformedClipError(clip, f"total_frames={int(total)} but keypoint has T={t}")

    if "label" in ann:
        label = ann["label"]
        if isinstance(label, np.ndarray) and label.size == 1:
            label = label.reshape(()).item()
        label = _clip_int(label, "label", clip)
        if label < -1 or (num_classes is not None and label >= num_classes):
            bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise MalformedClipError(
                clip, f"label {label} out of range {bound} (-1 marks an unlabelled clip)"
            )
    elif require_label:
        raise MalformedClipError(clip, "missing key 'label'")
    else:
        label = -1

    if "img_shape" in ann:
        img_shape = _shape_pair(ann["img_shape"], clip, "img_shape")
    elif "original_shape" in ann:
        img_shape = _shape_pair(ann["original_shape"], clip, "original_shape")
    else:  # smallest image holding every point
        img_shape = (
            int(np.ceil(xy[..., 1].max(initial=0.0))) + 1,
            int(np.ceil(xy[..., 0].max(initial=0.0))) + 1,
        )
    original = (
        _shape_pair(ann["original_shape"], clip, "original_shape")
        if "original_shape" in ann
        else img_shape
    )
    out = dict(ann)
    out.update(
        frame_dir=clip,
        label=label,
        total_frames=t,
        img_shape=img_shape,
        original_shape=original,
        keypoint=xy,
        keypoint_score=np.ascontiguousarray(score, dtype=np.float32),
    )
    return out
