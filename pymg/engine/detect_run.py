"""Running a detector over a set of recordings: segments, window scores, baselines, timelines.

:func:`detect_recordings` runs :meth:`pymg.engine.Detector.run` on every recording and keeps what
the report needs (:class:`RecordingResult`); :func:`window_argmax_segments` is the trivial
baseline "one segment per window at the classifier's arg-max" computed from the same window
scores; :func:`plot_timeline` draws ground truth above predictions (matplotlib, the viz extra);
:func:`run_detect` is what ``pymg detect`` does.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pymg.engine.detect_data import detection_scores, load_recordings, write_detections
from pymg.engine.detector import Detector
from pymg.engine.segments import Segment

__all__ = [
    "RecordingResult",
    "detect_recordings",
    "open_input",
    "plot_timeline",
    "run_detect",
    "window_argmax_segments",
]

log = logging.getLogger("pymg.detect")


@dataclass
class RecordingResult:
    """One recording's detections: ``segments``, every window's ``(start, length, probs
    [K + 1])``, the frame scores ``[T, K + 1]`` when kept, the ground truth [S, 3] or None."""

    video: str
    total_frames: int
    segments: list[Segment]
    windows: list[tuple[int, int, np.ndarray]] = field(default_factory=list)
    scores: np.ndarray | None = None
    ground_truth: np.ndarray | None = None


def detect_recordings(
    detector: Detector,
    recordings: Sequence[Any],
    *,
    keep_scores: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[RecordingResult]:
    """Detect in every recording; ``progress(frames)`` is called after each scored window."""
    out = []
    for i in range(len(recordings)):
        rec = recordings[i]
        windows: list[tuple[int, int, np.ndarray]] = []

        def on_window(start: int, length: int, probs: np.ndarray, _w: list = windows) -> None:
            _w.append((start, length, probs.copy()))
            if progress is not None:
                progress(detector.windows.stride)

        segments, stream = detector.run(rec, on_window=on_window, keep_scores=keep_scores)
        labelled = bool(rec.get("labelled", True))
        gt = np.asarray(rec["segments"], np.int64).reshape(-1, 3) if labelled else None
        out.append(
            RecordingResult(
                video=str(rec.get("frame_dir", f"#{i}")),
                total_frames=int(np.shape(rec["keypoint"])[1]),
                segments=segments,
                windows=windows,
                scores=stream.scores if keep_scores else None,
                ground_truth=gt,
            )
        )
        log.info("%s: %d segments", out[-1].video, len(segments))
    return out


def window_argmax_segments(result: RecordingResult, background: int) -> list[Segment]:
    """Baseline: one segment per window whose arg-max class is not ``background``."""
    segs = []
    for start, length, probs in result.windows:
        label = int(np.argmax(probs))
        if label != background:
            segs.append(Segment(start, start + length - 1, label, float(probs[label])))
    return segs


def plot_timeline(
    result: RecordingResult, class_names: Sequence[str], path: str | Path, fps: float = 25.0
) -> Path:
    """A timeline picture: ground truth (top row, when known) above the detections (one colour
    per class, the score as opacity) and the frame scores when kept. Needs matplotlib."""
    import matplotlib
    from matplotlib.patches import Patch

    from pymg.viz import new_figure, save_figure

    k = len(class_names)
    colours = matplotlib.colormaps["tab20" if k > 10 else "tab10"]
    rows = 3 if result.scores is not None else 2
    fig = new_figure(12, 1.2 + 1.0 * rows, dpi=100)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    seconds = result.total_frames / fps

    def bars(ax: Any, segs: list[tuple[int, int, int, float]], title: str) -> None:
        for start, end, label, alpha in segs:
            ax.axvspan(start / fps, (end + 1) / fps, color=colours(label % 20), alpha=alpha)
        ax.set_yticks([])
        ax.set_ylabel(title, rotation=0, ha="right", va="center")
        ax.set_xlim(0, seconds)

    gt = [] if result.ground_truth is None else result.ground_truth.tolist()
    bars(axes[0, 0], [(s, e, c, 0.9) for s, e, c in gt], "ground truth" if gt else "(no labels)")
    preds = [(s.start, s.end, s.label, 0.3 + 0.7 * min(max(s.score, 0.0), 1.0))
             for s in result.segments]  # fmt: skip
    bars(axes[1, 0], preds, "detections")
    if result.scores is not None:
        ax = axes[2, 0]
        t = np.arange(result.scores.shape[0]) / fps
        for c in range(k):
            ax.plot(t, result.scores[:, c], color=colours(c % 20), lw=0.8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("scores", rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("seconds")
    used = sorted({int(c) for _, _, c in gt} | {s.label for s in result.segments})
    handles = [Patch(color=colours(c % 20), label=class_names[c]) for c in used]
    if handles:
        fig.legend(handles=handles, loc="upper right", fontsize=7, ncol=min(len(handles), 4))
    fig.suptitle(result.video, x=0.01, ha="left", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path)


def open_input(
    path: str, split: str | None, detector: Detector, config: Any, work: Path | None = None
) -> Any:
    """The recordings of one ``pymg detect`` INPUT: ``"synthetic_untrimmed"`` (the checkpoint
    config's synthetic set), a native untrimmed file (``pymg prepare --untrimmed``), or what a
    release holds: a release folder, one video's folder, an OpenPose JSON folder, or one keypoint
    file (``_light_hand.csv``, ``_openpose.xlsx``, SMG's ``_skeleton.csv``, an mmpose ``.json``)
    with its label file beside it. Release inputs are converted with
    :func:`pymg.data.prepare_untrimmed` into ``work`` (a temporary folder) at the checkpoint's
    layout.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: an input no reader takes (the message names it).
    """
    if path == "synthetic_untrimmed":
        from pymg.engine.detect_data import synthetic_recordings

        recs = synthetic_recordings(config)
        if split is None:
            return recs
        names = set(recs.splits.get(split, []))
        if not names:
            raise ValueError(f"split {split!r} not in the synthetic recordings: train or test")
        return [recs[i] for i in range(len(recs)) if recs.frame_dir(i) in names]
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".npz":
        return load_recordings(str(p), split, detector.layout.name)
    if not p.exists():
        raise FileNotFoundError(f"INPUT {path}: no such file or folder")
    if work is None:
        raise ValueError(f"INPUT {path}: a release input needs a work folder to convert it in")
    out = work / f"input{len(list(work.glob('input*.npz')))}.npz"
    _prepare_input(p, out, split, detector.layout.name, work)
    return load_recordings(str(out), split, detector.layout.name)


def _prepare_input(path: Path, out: Path, split: str | None, layout: str, work: Path) -> None:
    """Convert a release folder or one keypoint file to a native untrimmed file at ``out``; a
    folder without train/validate/test folders becomes one split of every video (``--split``
    then names none of them)."""
    from pymg.data import prepare_untrimmed
    from pymg.data.splits import SplitError

    mmpose = path.is_file() and path.suffix == ".json" and not path.name.endswith("_keypoints.json")
    root = path if path.is_dir() else _single_file_folder(path, work)
    try:
        prepare_untrimmed(root, out, layout, mmpose=mmpose)
    except SplitError:
        if split is not None:
            raise
        prepare_untrimmed(
            root, out, layout, split_files={"input": []}, split_rest="input", mmpose=mmpose
        )


def _single_file_folder(path: Path, work: Path) -> Path:
    """A folder in ``work`` holding links to ``path`` and the files of the same video beside it
    (its label file; SMG's ``_data.csv``)."""
    from pymg.data.release import SOURCE_SUFFIXES

    suffix = next((s for s in SOURCE_SUFFIXES if path.name.endswith(s)), path.suffix)
    video = path.name[: -len(suffix)]
    folder = work / f"video{len(list(work.glob('video*')))}"
    folder.mkdir()
    for sibling in path.parent.glob(f"{video}*"):
        if sibling.is_file() and sibling.name[len(video) :][:1] in ("_", "."):
            (folder / sibling.name).symlink_to(sibling.resolve())
    return folder


def run_detect(
    detector: Detector,
    config: Any,
    inputs: Sequence[str],
    out_dir: str | Path,
    *,
    split: str | None = None,
    iou: float = 0.3,
    pictures: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """``pymg detect``: detections.csv, one timeline per video, metrics.json when labelled.

    Returns:
        ``{"detections": path, "rows", "videos", "timelines": [paths], "metrics": dict or None}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: list[RecordingResult] = []
    with tempfile.TemporaryDirectory(prefix="pymg-detect-") as work:
        for path in inputs:
            recs = open_input(path, split, detector, config, Path(work))
            results += detect_recordings(detector, recs, keep_scores=pictures, progress=progress)
    names = detector.class_names
    rows = [(r.video, s) for r in results for s in r.segments]
    csv_path = out / "detections.csv"
    count = write_detections(csv_path, rows, names)
    timelines = []
    if pictures:
        for r in results:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in r.video)
            timelines.append(str(plot_timeline(r, names, out / f"timeline_{safe}.png")))
    metrics = None
    labelled = [r for r in results if r.ground_truth is not None]
    if labelled and len(labelled) == len(results):
        metrics = detection_scores(
            {r.video: r.segments for r in results},
            {r.video: r.ground_truth for r in labelled if r.ground_truth is not None},
            iou,
        )
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return {
        "detections": str(csv_path),
        "rows": count,
        "videos": len(results),
        "timelines": timelines,
        "metrics": metrics,
    }
