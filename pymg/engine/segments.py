"""Per-frame class scores -> temporal segments, one frame at a time (the detector's post-process).

:class:`SegmentBuilder` turns a stream of per-frame foreground class probabilities ``[K]`` into
segments ``(start, end, label, score)`` (0-based inclusive frames, 0-based classes). The same
object serves the offline detector (all frames pushed, then :meth:`SegmentBuilder.finish`) and
the online one (frames pushed as their scores become final), so both give the same segments.

For every class ``c`` and every threshold ``high`` in ``thresholds`` (a *level*):

1. **hysteresis**: a region opens at a frame with ``p_c >= low`` (``low = high - hysteresis``)
   and stays open while ``p_c >= low``; it is kept only when one of its frames reaches
   ``p_c >= high``. A region is cut after ``max_len`` frames (a new one may open at once);
2. **merging**: a kept region that starts at most ``merge_gap`` frames after the previous kept
   region of the same class and level ends is merged into it, unless the result would be longer
   than ``max_len`` frames;
3. **minimum length**: merged regions shorter than ``min_len`` frames are dropped;
4. **per-class temporal NMS**: the candidates of one class (from all levels, which nest) are
   sorted by score (the mean ``p_c`` over the segment's frames) and a candidate is dropped when
   its temporal IoU with a kept one of the same class is above ``nms_iou``.

NMS runs on groups of overlapping candidates of one class as soon as no later candidate can
overlap the group, or at the latest once the group's first frame is :meth:`SegmentParams.settle`
frames old; a segment starting at frame ``a`` is therefore returned before frame
``a + settle`` has been pushed (the bound of the online detector adds its window delay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["Segment", "SegmentBuilder", "SegmentParams", "segments_from_scores", "temporal_iou"]


class Segment(NamedTuple):
    """One detection: frames ``start..end`` (0-based, inclusive), 0-based ``label``, ``score``."""

    start: int
    end: int
    label: int
    score: float


def temporal_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Temporal IoU of two inclusive frame ranges ``(start, end)`` (frame counts, +1 convention)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return inter / union


def _positive_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SegmentParams:
    """The post-process settings (see the module docstring; the ``[detect]`` config keys).

    Attributes:
        thresholds: the ``high`` threshold of each level, each in (0, 1].
        hysteresis: ``low = high - hysteresis`` (>= 0; 0 = a plain threshold).
        min_len: the fewest frames of a segment (>= 1).
        merge_gap: the most frames between two regions that are merged (>= 0).
        max_len: the most frames of a segment (>= min_len).
        nms_iou: temporal IoU above which the lower-scored of two same-class segments goes.
    """

    thresholds: tuple[float, ...] = (0.3,)
    hysteresis: float = 0.05
    min_len: int = 8
    merge_gap: int = 8
    max_len: int = 250
    nms_iou: float = 0.5

    def __post_init__(self) -> None:
        th = tuple(self.thresholds)
        if not th or any(
            isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1 for t in th
        ):
            raise ValueError(f"thresholds must be one or more numbers in (0, 1], got {th!r}")
        object.__setattr__(self, "thresholds", tuple(sorted(float(t) for t in th)))
        if not math.isfinite(self.hysteresis) or self.hysteresis < 0:
            raise ValueError(f"hysteresis must be a number >= 0, got {self.hysteresis!r}")
        _positive_int("min_len", self.min_len, 1)
        _positive_int("merge_gap", self.merge_gap, 0)
        _positive_int("max_len", self.max_len, 1)
        if self.max_len < self.min_len:
            raise ValueError(f"max_len ({self.max_len}) must be >= min_len ({self.min_len})")
        if not 0 <= self.nms_iou <= 1:
            raise ValueError(f"nms_iou must be in [0, 1], got {self.nms_iou!r}")

    @property
    def lows(self) -> tuple[float, ...]:
        """The ``low`` threshold of each level."""
        return tuple(t - self.hysteresis for t in self.thresholds)

    @property
    def settle(self) -> int:
        """Frames after a segment's first frame by which it has been returned (latency bound)."""
        return 2 * self.max_len + self.merge_gap + 2


class _Run:
    """A frame range with the running score sums at its ends (score = mean over the range)."""

    __slots__ = ("start", "end", "sum0", "sum1", "high")

    def __init__(self, start: int, sum0: float, high: bool) -> None:
        self.start, self.end, self.sum0, self.sum1, self.high = start, start, sum0, sum0, high

    def close(self, end: int, sum1: float) -> None:
        self.end, self.sum1 = end, sum1

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class _Level:
    """Hysteresis and merging of one class at one threshold level."""

    __slots__ = ("low", "high", "open", "pending")

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self.open: _Run | None = None
        self.pending: _Run | None = None

    def earliest(self) -> int | None:
        """First frame of what this level may still turn into a candidate (None: nothing)."""
        starts = [r.start for r in (self.pending, self.open) if r is not None]
        return min(starts) if starts else None


class SegmentBuilder:
    """Incremental segments from per-frame scores (see the module docstring).

    Args:
        num_classes: K foreground classes (the scores pushed are ``[K]``).
        params: the :class:`SegmentParams`.

    >>> b = SegmentBuilder(2, SegmentParams(thresholds=(0.5,), hysteresis=0.2, min_len=2))
    >>> out = b.push_many(np.array([[0.1, 0], [0.6, 0], [0.4, 0], [0.1, 0]]))
    >>> out + b.finish()
    [Segment(start=1, end=2, label=0, score=0.5)]
    """

    def __init__(self, num_classes: int, params: SegmentParams) -> None:
        self.num_classes = _positive_int("num_classes", num_classes, 1)
        if not isinstance(params, SegmentParams):
            raise TypeError(f"params must be a SegmentParams, got {type(params).__name__}")
        self.params = params
        self.frame = 0  # frames pushed so far
        self._lowest = min(params.lows)
        self._sums = np.zeros(self.num_classes, np.float64)
        self._levels: dict[int, list[_Level]] = {}
        self._pools: dict[int, list[_Run]] = {}

    def push(self, scores: np.ndarray) -> list[Segment]:
        """Add the scores ``[K]`` of the next frame; returns the segments that became final."""
        p = np.asarray(scores, np.float64)
        if p.shape != (self.num_classes,):
            raise ValueError(f"scores must have shape [{self.num_classes}], got {list(p.shape)}")
        if not np.isfinite(p).all():
            raise ValueError(f"scores of frame {self.frame} hold NaN or inf")
        f = self.frame
        active = set(np.flatnonzero(p >= self._lowest).tolist()) | set(self._levels)
        active |= set(self._pools)
        out: list[Segment] = []
        for c in sorted(active):
            self._step_class(c, float(p[c]), f)
            out.extend(self._settle(c, f, final=False))
        self._sums += p
        self.frame = f + 1
        return out

    def push_many(self, scores: np.ndarray) -> list[Segment]:
        """:meth:`push` for each row of ``scores [T, K]``, in order."""
        arr = np.asarray(scores, np.float64)
        if arr.ndim != 2:
            raise ValueError(f"scores must have shape [T, {self.num_classes}], got {arr.shape}")
        out: list[Segment] = []
        for row in arr:
            out.extend(self.push(row))
        return out

    def finish(self) -> list[Segment]:
        """Close every open region at the last frame and return the remaining segments."""
        last = self.frame - 1
        out: list[Segment] = []
        for c in sorted(set(self._levels) | set(self._pools)):
            for level in self._levels.get(c, []):
                if level.open is not None:
                    run, level.open = level.open, None
                    run.close(last, float(self._sums[c]))
                    self._closed(c, level, run)
                if level.pending is not None:
                    self._candidate(c, level.pending)
                    level.pending = None
            self._levels.pop(c, None)
            out.extend(self._settle(c, self.frame, final=True))
        return out

    # ------------------------------------------------------------------ per class and level
    def _step_class(self, c: int, p: float, f: int) -> None:
        levels = self._levels.get(c)
        if levels is None:
            prm = self.params
            levels = [_Level(lo, hi) for lo, hi in zip(prm.lows, prm.thresholds, strict=True)]
            self._levels[c] = levels
        before = float(self._sums[c])  # sum of p_c over frames 0..f-1
        for level in levels:
            run = level.open
            if run is not None and (p < level.low or f - run.start >= self.params.max_len):
                level.open = None
                run.close(f - 1, before)
                self._closed(c, level, run)
                run = None
            if run is None and p >= level.low:
                level.open = run = _Run(f, before, False)
            if run is not None:
                run.high = run.high or p >= level.high
            self._maybe_finalize(c, level, f)
        if all(lv.open is None and lv.pending is None for lv in levels):
            del self._levels[c]

    def _closed(self, c: int, level: _Level, run: _Run) -> None:
        if not run.high:
            return
        prev = level.pending
        gap = run.start - (prev.end + 1) if prev is not None else None
        if prev is not None and gap is not None and gap <= self.params.merge_gap:
            if run.end - prev.start + 1 <= self.params.max_len:
                prev.close(run.end, run.sum1)
                prev.high = True
                return
        if prev is not None:
            self._candidate(c, prev)
        level.pending = run

    def _maybe_finalize(self, c: int, level: _Level, f: int) -> None:
        """Move the pending run to the candidates once nothing can merge into it any more."""
        prev = level.pending
        if prev is None:
            return
        run = level.open
        if run is None:
            if f - prev.end > self.params.merge_gap:  # a later region starts after the gap
                self._candidate(c, prev)
                level.pending = None
            return
        if f - prev.start + 1 > self.params.max_len:  # merging would be too long
            self._candidate(c, prev)
            level.pending = None

    def _candidate(self, c: int, run: _Run) -> None:
        if run.length >= self.params.min_len:
            self._pools.setdefault(c, []).append(run)

    # ------------------------------------------------------------------ NMS
    def _settle(self, c: int, f: int, *, final: bool) -> list[Segment]:
        """NMS over the groups of class ``c`` that no later candidate can join."""
        pool = self._pools.get(c)
        if not pool:
            return []
        pool.sort(key=lambda r: (r.start, r.end))
        bound = None
        if not final:
            starts = [lv.earliest() for lv in self._levels.get(c, [])]
            known = [s for s in starts if s is not None]
            bound = min(known) if known else None
        groups: list[list[_Run]] = []
        for run in pool:
            if groups and run.start <= max(r.end for r in groups[-1]):
                groups[-1].append(run)
            else:
                groups.append([run])
        out: list[Segment] = []
        keep: list[_Run] = []
        for group in groups:
            end = max(r.end for r in group)
            settled = final or bound is None or end < bound
            if not settled and f - group[0].start < self.params.settle:
                keep.extend(group)
                continue
            out.extend(self._nms(c, group))
        if keep:
            self._pools[c] = keep
        else:
            del self._pools[c]
        return out

    def _nms(self, c: int, group: list[_Run]) -> list[Segment]:
        segs = [Segment(r.start, r.end, c, (r.sum1 - r.sum0) / r.length) for r in group]
        segs.sort(key=lambda s: (-s.score, s.start, s.end))
        kept: list[Segment] = []
        for s in segs:
            if all(
                temporal_iou((s.start, s.end), (k.start, k.end)) <= self.params.nms_iou
                for k in kept
            ):
                kept.append(s)
        return sorted(kept, key=lambda s: (s.start, s.end))


def segments_from_scores(scores: np.ndarray, params: SegmentParams) -> list[Segment]:
    """All segments of per-frame foreground scores ``[T, K]``, sorted by (start, label, end).

    The offline form of :class:`SegmentBuilder` (all frames pushed, then finished).
    """
    arr = np.asarray(scores, np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"scores must have shape [T, K] with K >= 1, got {list(arr.shape)}")
    builder = SegmentBuilder(arr.shape[1], params)
    out = builder.push_many(arr) + builder.finish()
    return sort_segments(out)


def sort_segments(segments: list[Segment]) -> list[Segment]:
    """``segments`` in the order the detector reports them: by start, label, end."""
    return sorted(segments, key=lambda s: (s.start, s.label, s.end))
