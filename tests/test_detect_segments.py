"""The detector's segment post-process on hand-made and random per-frame score sequences."""

from __future__ import annotations

import numpy as np
import pytest

from pymg.engine.segments import (
    Segment,
    SegmentBuilder,
    SegmentParams,
    segments_from_scores,
    temporal_iou,
)


def _params(**kw):
    base = {"thresholds": (0.5,), "hysteresis": 0.2, "min_len": 1, "merge_gap": 0,
            "max_len": 100, "nms_iou": 0.5}  # fmt: skip
    base.update(kw)
    return SegmentParams(**base)


def _one(values, **kw):
    return segments_from_scores(np.asarray(values, float)[:, None], _params(**kw))


def test_hysteresis_extends_below_high_until_low():
    out = _one([0.1, 0.6, 0.45, 0.35, 0.1])
    assert out == [Segment(1, 3, 0, pytest.approx((0.6 + 0.45 + 0.35) / 3))]
    # both sides: frames before the high frame that are above low belong to the region
    assert _one([0.35, 0.6, 0.1])[0][:2] == (0, 1)


def test_region_without_a_high_frame_is_dropped():
    assert _one([0.1, 0.45, 0.49, 0.45, 0.1]) == []


def test_plain_threshold_when_hysteresis_is_zero():
    out = _one([0.1, 0.6, 0.45, 0.6, 0.1], hysteresis=0.0)
    assert [s[:2] for s in out] == [(1, 1), (3, 3)]


def test_min_len_drops_short_segments():
    assert _one([0.1, 0.6, 0.6, 0.1], min_len=3) == []
    assert [s[:2] for s in _one([0.1, 0.6, 0.6, 0.6, 0.1], min_len=3)] == [(1, 3)]


def test_merge_gap_joins_same_class_neighbours_and_scores_the_gap():
    values = [0.6, 0.6, 0.0, 0.0, 0.6, 0.6]  # gap of 2 frames
    merged = _one(values, merge_gap=2)
    assert merged == [Segment(0, 5, 0, pytest.approx(2.4 / 6))]
    assert [s[:2] for s in _one(values, merge_gap=1)] == [(0, 1), (4, 5)]


def test_merge_happens_before_the_minimum_length():
    values = [0.6, 0.6, 0.0, 0.6, 0.6]
    assert [s[:2] for s in _one(values, merge_gap=1, min_len=4)] == [(0, 4)]
    assert _one(values, merge_gap=0, min_len=4) == []


def test_max_len_cuts_long_regions_and_blocks_merges():
    out = _one([0.9] * 10, max_len=4, merge_gap=3)
    assert [s[:2] for s in out] == [(0, 3), (4, 7), (8, 9)]


def test_classes_are_independent():
    scores = np.array([[0.9, 0.1], [0.9, 0.8], [0.1, 0.8], [0.1, 0.1]])
    out = segments_from_scores(scores, _params())
    assert [(s.start, s.end, s.label) for s in out] == [(0, 1, 0), (1, 2, 1)]


def test_per_class_nms_over_nested_levels():
    values = [0.6, 0.6, 0.9, 0.9, 0.6, 0.6]  # level 0.5 -> frames 0..5, level 0.8 -> 2..3
    both = _one(values, thresholds=(0.5, 0.8), hysteresis=0.0, nms_iou=0.5)
    assert [s[:2] for s in both] == [(0, 5), (2, 3)]  # IoU 2/6 <= 0.5: both kept
    one = _one(values, thresholds=(0.5, 0.8), hysteresis=0.0, nms_iou=0.3)
    assert one == [Segment(2, 3, 0, pytest.approx(0.9))]  # the higher-scored one wins


def test_temporal_iou_counts_frames_inclusively():
    assert temporal_iou((0, 9), (5, 14)) == pytest.approx(5 / 15)
    assert temporal_iou((0, 0), (0, 0)) == 1.0
    assert temporal_iou((0, 4), (5, 9)) == 0.0


def _reference(scores: np.ndarray, p: SegmentParams) -> list[Segment]:
    """A plain whole-sequence version: regions per class and level, merge, min length, then
    greedy NMS over all candidates of a class."""
    out = []
    t_len, k = scores.shape
    for c in range(k):
        x = scores[:, c]
        cands = []
        for high, low in zip(p.thresholds, p.lows, strict=True):
            regions, start, hit = [], None, False
            for t in range(t_len + 1):
                on = t < t_len and x[t] >= low
                if start is not None and (not on or t - start >= p.max_len):
                    if hit:
                        regions.append([start, t - 1])
                    start, hit = None, False
                if start is None and on:
                    start = t
                if start is not None:
                    hit = hit or x[t] >= high
            merged: list[list[int]] = []
            for a, b in regions:
                if (
                    merged
                    and a - merged[-1][1] - 1 <= p.merge_gap
                    and b - merged[-1][0] + 1 <= (p.max_len)
                ):
                    merged[-1][1] = b
                else:
                    merged.append([a, b])
            cands += [(a, b) for a, b in merged if b - a + 1 >= p.min_len]
        ranked = sorted(cands, key=lambda r: (-x[r[0] : r[1] + 1].mean(), r[0], r[1]))
        kept: list[tuple[int, int]] = []
        for r in ranked:
            if all(temporal_iou(r, q) <= p.nms_iou for q in kept):
                kept.append(r)
        out += [Segment(a, b, c, float(x[a : b + 1].mean())) for a, b in kept]
    return sorted(out, key=lambda s: (s.start, s.label, s.end))


@pytest.mark.parametrize("seed", range(6))
def test_incremental_builder_matches_a_whole_sequence_reference(seed):
    rng = np.random.default_rng(seed)
    t_len, k = 70, 3
    # smooth random scores so regions, gaps and nested levels all occur
    raw = rng.random((t_len + 6, k))
    scores = np.stack([np.convolve(raw[:, c], np.ones(7) / 7, "valid") for c in range(k)], 1)
    scores = (scores - scores.min()) / (scores.max() - scores.min())
    params = SegmentParams(
        thresholds=tuple(sorted(rng.choice([0.5, 0.6, 0.7, 0.8], 2, replace=False))),
        hysteresis=float(rng.choice([0.0, 0.1, 0.2])),
        min_len=int(rng.integers(1, 5)),
        merge_gap=int(rng.integers(0, 4)),
        max_len=40,  # settle = 2 * 40 + gap + 2 > T: NMS never forced, so equal to the reference
        nms_iou=float(rng.choice([0.2, 0.5])),
    )
    got = segments_from_scores(scores, params)
    want = _reference(scores, params)
    assert [(s.start, s.end, s.label) for s in got] == [(s.start, s.end, s.label) for s in want]
    assert [s.score for s in got] == pytest.approx([s.score for s in want], abs=1e-12)
    assert got, "the random sequence should give some segments"


@pytest.mark.parametrize("seed", range(3))
def test_segments_are_returned_within_the_settle_bound(seed):
    rng = np.random.default_rng(seed)
    raw = rng.random((2000, 2))
    scores = np.stack([np.convolve(raw[:, c], np.ones(9) / 9, "same") for c in range(2)], 1)
    scores = (scores - scores.min()) / (scores.max() - scores.min())
    params = SegmentParams((0.45, 0.6), 0.1, 2, 3, 30, 0.4)
    builder = SegmentBuilder(2, params)
    emitted = []
    for f, row in enumerate(scores):
        emitted += [(f, s) for s in builder.push(row)]
    assert emitted
    assert max(f - s.start for f, s in emitted) <= params.settle
    assert all(s.end < f for f, s in emitted)  # a segment is final only after its last frame


def test_bad_parameters_and_scores_are_refused():
    with pytest.raises(ValueError, match="thresholds must be"):
        SegmentParams(thresholds=())
    with pytest.raises(ValueError, match=r"thresholds must be .* \(0, 1\]"):
        SegmentParams(thresholds=(1.5,))
    with pytest.raises(ValueError, match="max_len .* must be >= min_len"):
        SegmentParams(min_len=10, max_len=5)
    with pytest.raises(ValueError, match="nms_iou must be in"):
        SegmentParams(nms_iou=2.0)
    builder = SegmentBuilder(2, SegmentParams())
    with pytest.raises(ValueError, match=r"scores must have shape \[2\]"):
        builder.push(np.zeros(3))
    with pytest.raises(ValueError, match="frame 0 hold NaN or inf"):
        builder.push(np.array([np.nan, 0.1]))
