"""Scoring temporal detections of micro-gestures against ground-truth segments.

Segments are ``(video, start, end, label)`` with 0-based inclusive frames; detections add a
``score``. Two scores are computed:

* **F1 at one tIoU threshold** (default 0.3). Per video, detections sorted by descending score
  (ties keep file order) are matched greedily: each takes the *unmatched* ground-truth segment of
  the same class with the highest tIoU, and counts as a true positive when that tIoU is at least
  the threshold; a ground-truth segment is matched at most once. tIoU counts frames inclusively:
  ``overlap = min(e1, e2) - max(s1, s2) + 1`` (0 if negative), ``union = len1 + len2 - overlap``
  with ``len = end - start + 1``. Precision = TP / detections and recall = TP / ground truths, both
  summed over all videos (micro), F1 = 2PR / (P + R) (0 when P + R = 0). Detections of a video
  that has no ground truth are false positives.
* **mAP** at tIoU 0.3 / 0.5 / 0.7, as ActivityNet and THUMOS compute it: per class, all detections
  of that class sorted by score, matched as above, AP = the area under the precision-recall curve
  with precision made monotone (interpolated), averaged over the classes that have ground truth.

``kit_compat=True`` computes the F1 exactly as the SMG starter kit does instead: per video, for
each ground truth *in file order*, the *first* detection in file order with the same class and
``(min(ends) - max(starts)) / (max(ends) - min(starts))`` strictly above the threshold counts one
TP. Detections are not used up (the kit's ``numpy.delete`` result is discarded), so one detection
can match several ground truths and precision can exceed 1. F1 = 2PR / (P + R + 1e-7), as in the
kit. A zero denominator (two one-frame segments on the same frame) is no match (the kit's numpy
division gives NaN there).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.detections_csv import (
    SegmentRow,
    read_detections_csv,
    read_ground_truth_csv,
)

__all__ = [
    "MAP_THRESHOLDS",
    "SegmentRow",
    "average_precision",
    "check_ground_truth",
    "evaluate_detections",
    "ground_truth_rows",
    "read_detections_csv",
    "read_ground_truth_csv",
    "tiou",
]

MAP_THRESHOLDS = (0.3, 0.5, 0.7)
"""tIoU thresholds of the mAP (those of temporal action detection papers)."""

_KIT_EPS = 1e-7


def tiou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Temporal IoU of two inclusive frame ranges ``(start, end)``: shared / union frames."""
    overlap = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if overlap <= 0:
        return 0.0
    union = (a[1] - a[0] + 1) + (b[1] - b[0] + 1) - overlap
    return overlap / union


def _kit_alpha(det: SegmentRow, gt: SegmentRow) -> float:
    den = max(det.end, gt.end) - min(det.start, gt.start)
    if den == 0:
        return float("nan")
    return (min(det.end, gt.end) - max(det.start, gt.start)) / den


def check_ground_truth(rows: Sequence[SegmentRow], source: str = "ground truth") -> None:
    """Refuse two overlapping ground-truth segments of one class in one video.

    Raises:
        ValueError: names both rows' lines (or the video and frames).
    """
    by_key: dict[tuple[str, int], list[SegmentRow]] = defaultdict(list)
    for r in rows:
        by_key[(r.video, r.label)].append(r)
    for (video, label), group in by_key.items():
        group = sorted(group, key=lambda r: (r.start, r.end))
        for prev, cur in zip(group[:-1], group[1:], strict=True):
            if cur.start <= prev.end:
                raise ValueError(
                    f"{source}: {cur.where}: video {video!r} class {label}: segment "
                    f"{cur.start}..{cur.end} overlaps {prev.start}..{prev.end} ({prev.where}); "
                    "segments of one class must not overlap"
                )


def _rows(
    value: Any, reader: Any, num_classes: int | None, what: str
) -> tuple[list[SegmentRow], str]:
    if isinstance(value, (str, os.PathLike)):
        return reader(value, num_classes), os.fspath(value)
    rows = list(value)
    for r in rows:
        if not isinstance(r, SegmentRow):
            raise TypeError(
                f"{what} must be a CSV path or SegmentRow items, got {type(r).__name__}"
            )
        if r.end < r.start or r.start < 0 or r.label < 0:
            raise ValueError(f"{what}: bad segment {r}")
        if num_classes is not None and r.label >= num_classes:
            raise ValueError(
                f"{what}: {r.where}: label {r.label} out of range 0..{num_classes - 1}"
            )
    return rows, what


def _match_greedy(
    dets: Sequence[SegmentRow], gts: Sequence[SegmentRow], threshold: float
) -> list[bool]:
    """Per detection (in the given order), whether it matches an unmatched ground truth."""
    used = [False] * len(gts)
    hits = []
    for d in dets:
        best, best_iou = -1, -1.0
        for j, g in enumerate(gts):
            if used[j] or g.label != d.label:
                continue
            value = tiou((d.start, d.end), (g.start, g.end))
            if value > best_iou:
                best, best_iou = j, value
        hit = best >= 0 and best_iou >= threshold
        if hit:
            used[best] = True
        hits.append(hit)
    return hits


def _by_score(rows: Iterable[SegmentRow]) -> list[SegmentRow]:
    return sorted(rows, key=lambda r: -r.score)  # stable: ties keep file order


def average_precision(hits: Sequence[bool], num_gt: int) -> float:
    """ActivityNet's interpolated AP of detections already sorted by descending score.

    Args:
        hits: [D] whether each detection is a true positive.
        num_gt: ground-truth segments of the class (> 0).
    """
    tp = np.cumsum(np.asarray(hits, np.float64))
    if len(tp) == 0:
        return 0.0
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / num_gt
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def _mean_ap(
    dets: Sequence[SegmentRow], gts: Sequence[SegmentRow], threshold: float
) -> tuple[float, dict[int, float]]:
    per_class: dict[int, float] = {}
    for label in sorted({g.label for g in gts}):
        cls_dets = _by_score(d for d in dets if d.label == label)
        gt_by_video: dict[str, list[SegmentRow]] = defaultdict(list)
        for g in gts:
            if g.label == label:
                gt_by_video[g.video].append(g)
        used = {v: [False] * len(g) for v, g in gt_by_video.items()}
        hits = []
        for d in cls_dets:
            cands = gt_by_video.get(d.video, [])
            best, best_iou = -1, -1.0
            for j, g in enumerate(cands):
                if not used[d.video][j]:
                    value = tiou((d.start, d.end), (g.start, g.end))
                    if value > best_iou:
                        best, best_iou = j, value
            hit = best >= 0 and best_iou >= threshold
            if hit:
                used[d.video][best] = True
            hits.append(hit)
        per_class[label] = average_precision(hits, sum(len(g) for g in gt_by_video.values()))
    mean = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return mean, per_class


def _kit_true_positives(dets: Sequence[SegmentRow], gts: Sequence[SegmentRow], thr: float) -> int:
    tp = 0
    for g in gts:  # file order
        for d in dets:  # file order, never used up
            if d.label == g.label and _kit_alpha(d, g) > thr:
                tp += 1
                break
    return tp


def evaluate_detections(
    detections: str | os.PathLike[str] | Iterable[SegmentRow],
    ground_truth: str | os.PathLike[str] | Iterable[SegmentRow],
    iou: float = 0.3,
    kit_compat: bool = False,
    *,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Score detections against ground truth (see the module docstring for both metrics).

    Args:
        detections: a detections CSV (``video,start,end,label,score``) or :class:`SegmentRow` s.
        ground_truth: a ground-truth CSV (``video,start,end,label``) or :class:`SegmentRow` s.
        iou: the tIoU threshold of the F1 (in [0, 1]).
        kit_compat: compute the F1 as the SMG starter kit does (file order, no use-up, strict
            ``>``, the kit's IoU without the +1 frame).
        num_classes: labels must lie in ``[0, num_classes)`` (None: any label >= 0).

    Returns:
        ``{"iou", "kit_compat", "tp", "detections", "ground_truths", "videos", "precision",
        "recall", "f1", "mAP": {"0.3": ..., "0.5": ..., "0.7": ...}, "mAP_mean",
        "ap_per_class": {"0.3": {label: ap}, ...}, "videos_without_ground_truth": [ids]}``.

    Raises:
        ValueError: a bad file or row (names the file and line), overlapping ground truth of one
            class, or a threshold outside [0, 1].
    """
    if not 0.0 <= float(iou) <= 1.0:
        raise ValueError(f"iou must be in [0, 1], got {iou}")
    dets, _ = _rows(detections, read_detections_csv, num_classes, "detections")
    gts, gt_source = _rows(ground_truth, read_ground_truth_csv, num_classes, "ground truth")
    check_ground_truth(gts, gt_source)
    det_by_video: dict[str, list[SegmentRow]] = defaultdict(list)
    gt_by_video: dict[str, list[SegmentRow]] = defaultdict(list)
    for d in dets:
        det_by_video[d.video].append(d)
    for g in gts:
        gt_by_video[g.video].append(g)
    tp = 0
    for video, video_gts in gt_by_video.items():
        video_dets = det_by_video.get(video, [])
        if kit_compat:
            tp += _kit_true_positives(video_dets, video_gts, float(iou))
        else:
            ordered = sorted(video_gts, key=lambda g: (g.start, g.end))
            tp += sum(_match_greedy(_by_score(video_dets), ordered, float(iou)))
    n_det, n_gt = len(dets), len(gts)
    precision = tp / n_det if n_det else 0.0
    recall = tp / n_gt if n_gt else 0.0
    if kit_compat:
        f1 = 2 * precision * recall / (precision + recall + _KIT_EPS)
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    maps, per_class = {}, {}
    for thr in MAP_THRESHOLDS:
        maps[f"{thr:g}"], aps = _mean_ap(dets, gts, thr)
        per_class[f"{thr:g}"] = {str(k): v for k, v in aps.items()}
    return {
        "iou": float(iou),
        "kit_compat": bool(kit_compat),
        "tp": int(tp),
        "detections": n_det,
        "ground_truths": n_gt,
        "videos": len(set(gt_by_video) | set(det_by_video)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "mAP": maps,
        "mAP_mean": float(np.mean(list(maps.values()))),
        "ap_per_class": per_class,
        "videos_without_ground_truth": sorted(set(det_by_video) - set(gt_by_video)),
    }


def ground_truth_rows(recordings: Iterable[Any]) -> list[SegmentRow]:
    """The ground-truth rows of labelled recordings (e.g. a :class:`~pymg.data.RecordingSet`)."""
    rows = []
    for rec in recordings:
        if not rec.get("labelled", True):
            continue
        for start, end, label in np.asarray(rec["segments"], np.int64).reshape(-1, 3).tolist():
            rows.append(SegmentRow(str(rec["frame_dir"]), start, end, label))
    return rows
