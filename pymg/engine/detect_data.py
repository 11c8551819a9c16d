"""Recordings for the detector: where they come from, the training windows, detections files.

* :func:`load_recordings` reads the recordings named by a config (``"synthetic_untrimmed"`` or a
  native untrimmed file, through :class:`pymg.data.RecordingSet` when this build has it);
* :func:`build_window_datasets` is what the training loop calls when ``detect.train`` is on:
  :class:`pymg.data.RecordingWindows` of the train and test recordings, read by
  :class:`pymg.data.PoseDataset` with the usual transforms;
* :func:`write_detections` writes the detections CSV (``video,start,end,label,class_name,score``;
  0-based inclusive frames, 0-based classes); :func:`detection_scores` scores in-memory segments
  with :func:`pymg.engine.detection_metrics.evaluate_detections`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pymg.engine.config import Config, ConfigError
from pymg.engine.segments import Segment

__all__ = [
    "DETECTION_HEADER",
    "build_window_datasets",
    "detection_scores",
    "load_recordings",
    "synthetic_recordings",
    "write_detections",
]

DETECTION_HEADER = ("video", "start", "end", "label", "class_name", "score")
"""Columns of a detections CSV."""


def synthetic_recordings(cfg: Config) -> Any:
    """The :class:`pymg.data.SyntheticUntrimmed` set of ``cfg`` (``detect.synthetic_*``)."""
    from pymg.data.synthetic_untrimmed import DEFAULT_CLASSES, SyntheticUntrimmed

    det = cfg.detect
    n = det.synthetic_classes
    if isinstance(n, bool) or not 0 <= n <= len(DEFAULT_CLASSES):
        raise ConfigError(
            "detect.synthetic_classes must be 0 (all 32 iMiGUE classes) or "
            f"1..{len(DEFAULT_CLASSES)}, got {n!r}"
        )
    classes = list(range(32)) if n == 0 else list(DEFAULT_CLASSES[:n])
    return SyntheticUntrimmed(
        num_recordings=det.synthetic_recordings,
        seconds=det.synthetic_seconds,
        classes=classes,
        layout=cfg.data.layout,
        seed=cfg.data.synthetic_seed,
    )


def load_recordings(source: str, split: str | None, layout: str) -> Any:
    """Recordings of ``split`` from a native untrimmed file (a Sequence of recording dicts).

    Raises:
        FileNotFoundError: no such file.
        ValueError: this build cannot read untrimmed files (no :class:`pymg.data.RecordingSet`).
    """
    path = Path(source).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"untrimmed file not found: {path} (`pymg prepare --untrimmed` writes one)"
        )
    try:
        from pymg.data.recording import RecordingSet
    except ImportError:
        raise ValueError(
            f"{path}: reading untrimmed files needs pymg.data.RecordingSet, which this build of "
            "pymg does not have yet; use data.source = 'synthetic_untrimmed'"
        ) from None
    return RecordingSet(str(path), split=split, layout=layout)


def _windows(cfg: Config, recordings: Any, seed: int) -> Any:
    from pymg.data.windows import RecordingWindows

    det = cfg.detect
    return RecordingWindows(
        recordings,
        det.window,
        per_gesture=det.windows_per_gesture,
        background_ratio=det.background_ratio,
        num_classes=cfg.model.num_classes - 1,
        seed=seed,
    )


def build_window_datasets(cfg: Config, *, train: bool = True) -> tuple[Any, Any, list[str]]:
    """Training windows (None when ``train=False``), test windows and the K + 1 class names.

    The counterpart of :func:`pymg.engine.builders.build_datasets` for ``detect.train = true``.

    Raises:
        ConfigError: ``model.num_classes`` is not the recordings' classes + 1 (background).
    """
    from pymg.data import PoseDataset
    from pymg.engine.builders import _test_transform, _train_transform, config_layout

    d = cfg.data
    layout = config_layout(cfg)
    if d.source == "synthetic_untrimmed":
        recordings = synthetic_recordings(cfg)
        sets = {d.train_split: recordings, d.test_split: recordings}
        split_of: dict[str, str | None] = {d.train_split: d.train_split, d.test_split: d.test_split}
    else:
        if not d.source:
            raise ConfigError("data.source is empty: an untrimmed file or 'synthetic_untrimmed'")
        sets = {s: load_recordings(d.source, s, d.layout) for s in (d.train_split, d.test_split)}
        split_of = {d.train_split: None, d.test_split: None}
    wanted = cfg.model.num_classes - 1
    found = getattr(sets[d.test_split], "class_names", None)
    if found is not None and len(found) != wanted:
        raise ConfigError(
            f"the recordings have {len(found)} gesture classes, so model.num_classes must be "
            f"{len(found) + 1} (+1 for background); got {cfg.model.num_classes}"
        )
    out: list[Any] = []
    names: list[str] = []
    for split, transform, use in (
        (d.train_split, _train_transform(cfg, layout), train),
        (d.test_split, _test_transform(cfg), True),
    ):
        if not use:
            out.append(None)
            continue
        windows = _windows(cfg, sets[split], cfg.runtime.seed)
        names = list(windows.class_names)
        out.append(
            PoseDataset(
                windows,
                split=split_of[split],
                layout=layout,
                transform=transform,
                num_persons=d.num_persons,
                seed=cfg.runtime.seed,
            )
        )
    if out[0] is not None and d.repeat > 1:
        from pymg.engine.builders import RepeatedDataset

        out[0] = RepeatedDataset(out[0], d.repeat)
    return out[0], out[1], names


def write_detections(
    path: str | Path, rows: Iterable[tuple[str, Segment]], class_names: Sequence[str]
) -> int:
    """Write ``(video, segment)`` rows as a detections CSV; returns the number of rows."""
    count = 0
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(DETECTION_HEADER)
        for video, seg in rows:
            name = class_names[seg.label]
            writer.writerow([video, seg.start, seg.end, seg.label, name, f"{seg.score:.6f}"])
            count += 1
    return count


def detection_scores(
    detections: Mapping[str, Sequence[Segment]],
    ground_truth: Mapping[str, np.ndarray],
    iou: float = 0.3,
) -> dict[str, Any]:
    """Precision, recall, F1 (and mAP) of detections against ground-truth segments at ``iou``:
    :func:`pymg.engine.detection_metrics.evaluate_detections` on in-memory segments.

    Args:
        detections: video -> segments; ground_truth: video -> int [S, 3] (start, end, label).

    Returns:
        ``evaluate_detections``' dict (``"precision"``, ``"recall"``, ``"f1"``, ``"tp"``,
        ``"detections"``, ``"ground_truths"``, ``"iou"``, ``"mAP"``, ...).
    """
    from pymg.data.formats.detections_csv import SegmentRow
    from pymg.engine.detection_metrics import evaluate_detections

    det_rows = [
        SegmentRow(video, s.start, s.end, s.label, float(s.score))
        for video, segs in detections.items()
        for s in segs
    ]
    gt_rows = [
        SegmentRow(video, int(a), int(b), int(c))
        for video, gt in ground_truth.items()
        for a, b, c in np.asarray(gt, np.int64).reshape(-1, 3).tolist()
    ]
    return evaluate_detections(det_rows, gt_rows, iou)
