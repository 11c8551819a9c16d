"""``pymg demo --untrimmed``: a detector trained and run on synthetic untrimmed recordings (CPU).

Trains the small PoseC3D of the shipped ``detect_demo`` config on windows of
:class:`pymg.data.SyntheticUntrimmed` recordings, detects in the recordings of the held-out
subjects and writes into the work dir: ``detections.csv``, ``timeline_<video>.png`` (ground truth
above the detections and the frame scores; needs matplotlib), ``detect_metrics.json`` (F1 at
temporal IoU 0.3 of the detector and of the two trivial baselines) and ``latest.pt`` (loadable
with :meth:`pymg.engine.Detector.from_checkpoint`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pymg.engine.config import Config, load_config

__all__ = ["QUICK_UNTRIMMED", "run_untrimmed_demo", "untrimmed_demo_config"]

QUICK_UNTRIMMED = (
    "detect.synthetic_recordings=3",
    "detect.synthetic_seconds=20.0",
    "schedule.epochs=1",
    "model.clip_len=8",
    "data.train_size=16",
    "data.test_size=16",
)
"""``--quick``: the ``detect_demo`` config shrunk for CI (seconds)."""


def untrimmed_demo_config(
    work_dir: str | Path, *, epochs: int | None = None, quick: bool = False, seed: int = 0
) -> Config:
    """The shipped ``detect_demo`` config with the command-line choices applied."""
    overrides = [f"runtime.work_dir={json.dumps(str(work_dir))}", f"runtime.seed={seed}"]
    if quick:
        overrides += QUICK_UNTRIMMED
    if epochs is not None:
        if isinstance(epochs, bool) or epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {epochs}")
        overrides.append(f"schedule.epochs={epochs}")
    return load_config("detect_demo", overrides)


def run_untrimmed_demo(
    work_dir: str | Path = "pymg-detect-demo",
    *,
    epochs: int | None = None,
    quick: bool = False,
    seed: int = 0,
    pictures: bool = True,
) -> dict[str, Any]:
    """Train, detect and measure (module docstring).

    Returns:
        ``{"work_dir", "seconds", "train_seconds", "videos", "gestures", "detector",
        "window_argmax", "no_detections" (metric dicts), "timelines": [paths]}``.
    """
    from pymg.engine.detect_data import detection_scores, synthetic_recordings, write_detections
    from pymg.engine.detect_run import detect_recordings, plot_timeline, window_argmax_segments
    from pymg.engine.detector import Detector
    from pymg.engine.trainer import train

    cfg = untrimmed_demo_config(work_dir, epochs=epochs, quick=quick, seed=seed)
    out = Path(cfg.runtime.work_dir)
    start = time.perf_counter()
    train(cfg, final_test=False)
    train_seconds = time.perf_counter() - start
    det = Detector.from_checkpoint(out / "latest.pt")
    recs = synthetic_recordings(cfg)
    wanted = set(recs.splits[cfg.data.test_split])
    test = [recs[i] for i in range(len(recs)) if recs.frame_dir(i) in wanted]
    results = detect_recordings(det, test, keep_scores=pictures)
    names = det.class_names
    write_detections(out / "detections.csv", [(r.video, s) for r in results for s in r.segments],
                     names)  # fmt: skip
    gt = {r.video: r.ground_truth for r in results if r.ground_truth is not None}
    metrics = {
        "detector": detection_scores({r.video: r.segments for r in results}, gt),
        "window_argmax": detection_scores(
            {r.video: window_argmax_segments(r, det.num_classes) for r in results}, gt
        ),
        "no_detections": detection_scores({}, gt),
    }
    (out / "detect_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", "utf-8")
    timelines = []
    if pictures:
        for r in results:
            timelines.append(str(plot_timeline(r, names, out / f"timeline_{r.video}.png")))
    return {
        "work_dir": str(out),
        "seconds": time.perf_counter() - start,
        "train_seconds": train_seconds,
        "videos": len(results),
        "gestures": int(sum(len(g) for g in gt.values())),
        "frames": int(sum(r.total_frames for r in results)),
        **metrics,
        "timelines": timelines,
    }
