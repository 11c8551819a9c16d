"""Training windows cut from untrimmed recordings: how every clip classifier learns to detect.

A RECORDING is a dict with PYSKL's names: ``frame_dir`` (str), ``keypoint`` float32
[M, T, V, 2] (pixels), ``keypoint_score`` float32 [M, T, V], ``img_shape`` (H, W),
``total_frames`` T, ``segments`` int64 [S, 3] rows ``(start, end, label)`` (0-based inclusive
frames, 0-based classes, sorted by start; shape [0, 3] when none) and ``labelled`` (bool).

:class:`RecordingWindows` turns recordings into clip annotations that
:class:`pymg.data.PoseDataset` reads like any other clip source, so the training loop, the
transforms and every model family are used unchanged: a detector is a classifier with one more
class, K = "background".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BACKGROUND", "RecordingWindows", "check_recording"]

BACKGROUND = "background"
"""Name of the extra class (the last one) of a detector."""


def check_recording(rec: Any, where: str = "recording", num_classes: int | None = None) -> None:
    """Check the recording contract (module docstring); raises ValueError naming ``where``.

    Checks: the keys, ``keypoint`` [M, T, V, 2] with T = ``total_frames`` >= 1, scores [M, T, V],
    ``segments`` [S, 3] with 0 <= start <= end < T, sorted by start, labels in 0..K-1.
    """
    if not isinstance(rec, Mapping):
        raise ValueError(f"{where}: expected a recording dict, got {type(rec).__name__}")
    missing = [k for k in ("keypoint", "img_shape", "segments") if k not in rec]
    if missing:
        raise ValueError(f"{where}: the recording has no {', '.join(missing)}")
    name = f"{where} {rec.get('frame_dir', '?')!r}"
    kp = np.asarray(rec["keypoint"])
    if kp.ndim != 4 or kp.shape[-1] != 2 or kp.shape[1] < 1:
        raise ValueError(f"{name}: keypoint must be [M, T, V, 2] with T >= 1, got {kp.shape}")
    t = int(rec.get("total_frames", kp.shape[1]))
    if t != kp.shape[1]:
        raise ValueError(f"{name}: total_frames = {t} but keypoint holds {kp.shape[1]} frames")
    score = rec.get("keypoint_score")
    if score is not None and np.shape(score) != kp.shape[:-1]:
        raise ValueError(f"{name}: keypoint_score must be {kp.shape[:-1]}, got {np.shape(score)}")
    seg = np.asarray(rec["segments"])
    if seg.ndim != 2 or seg.shape[1] != 3 or (seg.size and seg.dtype.kind not in "iu"):
        raise ValueError(f"{name}: segments must be int [S, 3] (start, end, label), got {seg!r}")
    for row, (start, end, label) in enumerate(seg.tolist()):
        if not 0 <= start <= end < t:
            raise ValueError(
                f"{name}: segment {row} = ({start}, {end}) is not inside frames 0..{t - 1}"
            )
        if label < 0 or (num_classes is not None and label >= num_classes):
            top = "" if num_classes is None else f"..{num_classes - 1}"
            raise ValueError(f"{name}: segment {row} has class {label}, expected 0{top}")
        if row and start < seg[row - 1, 0]:
            raise ValueError(f"{name}: segments are not sorted by start (row {row})")


class RecordingWindows(Sequence[dict[str, Any]]):
    """Labelled windows of ``window`` frames from recordings (a clip source for PoseDataset).

    Per gesture ``(start, end, label)``: ``per_gesture`` windows whose centre is drawn uniformly
    in ``start..end`` (shifted to fit the recording), labelled with the gesture that overlaps the
    window most. Per recording: ``round(background_ratio * its gesture windows)`` windows that
    overlap no gesture (fewer when the recording has no room), labelled K (``background``).

    Args:
        recordings: a Sequence of recording dicts (``splits``, ``class_names`` and ``layout``
            attributes are used when present).
        window: W frames (>= 1). A recording shorter than W gives one window of all its frames.
        per_gesture, background_ratio: see above (>= 1 and >= 0).
        num_classes: K gesture classes (default: ``len(recordings.class_names)``).
        seed: the window positions come from ``default_rng([seed, 31, recording index])``.

    Items: clip dicts ``{"frame_dir": "<video>@<first frame>", "label", "total_frames",
    "img_shape", "keypoint" [M, W, V, 2], "keypoint_score" [M, W, V]}``.

    Attributes:
        labels: the label of each window.
        splits: the recordings' splits mapped to their windows.
        class_names: the K names + ``"background"``.
        num_classes: K + 1.
        layout: the Skeleton of the keypoints.
    """

    def __init__(
        self,
        recordings: Sequence[Mapping[str, Any]],
        window: int,
        *,
        per_gesture: int = 3,
        background_ratio: float = 1.0,
        num_classes: int | None = None,
        seed: int = 0,
    ) -> None:
        for name, value, low in (("window", window, 1), ("per_gesture", per_gesture, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not isinstance(background_ratio, int | float) or not 0 <= background_ratio <= 100:
            raise ValueError(f"background_ratio must be in [0, 100], got {background_ratio!r}")
        names = getattr(recordings, "class_names", None)
        if num_classes is None:
            if names is None:
                raise ValueError("num_classes is required when the recordings have no class_names")
            num_classes = len(names)
        self.recordings = recordings
        self.window = window
        self.layout = getattr(recordings, "layout", None)
        self.num_classes = int(num_classes) + 1
        gesture_names = [str(n) for n in names] if names else [f"class {i}" for i in range(
            int(num_classes))]  # fmt: skip
        self.class_names = [*gesture_names, BACKGROUND]
        self._windows: list[tuple[int, int, int, int]] = []  # recording, start, length, label
        self._video: list[str] = []
        for r in range(len(recordings)):
            self._add_recording(r, per_gesture, float(background_ratio), seed)
        self.labels = [w[3] for w in self._windows]
        self._recording_splits = {
            k: list(v) for k, v in dict(getattr(recordings, "splits", None) or {}).items()
        }

    def _add_recording(self, r: int, per_gesture: int, ratio: float, seed: int) -> None:
        rec = self.recordings[r]
        video = str(rec.get("frame_dir", f"#{r}"))
        check_recording(rec, f"recording #{r}", self.num_classes - 1)
        t = int(np.shape(rec["keypoint"])[1])
        w = min(self.window, t)
        seg = np.asarray(rec["segments"], np.int64).reshape(-1, 3)
        rng = np.random.default_rng([seed, 31, r])
        count = 0
        for start, end, _ in seg.tolist():
            for _ in range(per_gesture):
                centre = int(rng.integers(start, end + 1))
                first = int(np.clip(centre - w // 2, 0, t - w))
                overlap = np.minimum(seg[:, 1], first + w - 1) - np.maximum(seg[:, 0], first) + 1
                self._windows.append((r, first, w, int(seg[int(np.argmax(overlap)), 2])))
                self._video.append(video)
                count += 1
        free = np.ones(t - w + 1, bool)  # window starts that overlap no gesture
        for start, end, _ in seg.tolist():
            free[max(start - w + 1, 0) : end + 1] = False
        starts = np.flatnonzero(free)
        wanted = min(int(round(ratio * count)) if seg.size else int(round(ratio * per_gesture)),
                     starts.size)  # fmt: skip
        for first in np.sort(rng.choice(starts, size=wanted, replace=False)).tolist():
            self._windows.append((r, int(first), w, self.num_classes - 1))
            self._video.append(video)

    def __len__(self) -> int:
        return len(self._windows)

    def frame_dir(self, index: int) -> str:
        """Name of window ``index``: ``"<video>@<first frame>"``."""
        r, first, _, _ = self._windows[index]
        return f"{self._video[index]}@{first}"

    @property
    def splits(self) -> dict[str, list[str]]:
        """The recordings' splits, each mapped to the names of its recordings' windows."""
        out: dict[str, list[str]] = {}
        for split, videos in self._recording_splits.items():
            wanted = set(videos)
            out[split] = [self.frame_dir(i) for i, v in enumerate(self._video) if v in wanted]
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        r, first, w, label = self._windows[int(index)]
        rec = self.recordings[r]
        kp = np.asarray(rec["keypoint"], np.float32)[:, first : first + w]
        score = rec.get("keypoint_score")
        sc = (
            np.ones(kp.shape[:-1], np.float32)
            if score is None
            else np.asarray(score, np.float32)[:, first : first + w]
        )
        h, wd = rec["img_shape"]
        return {
            "frame_dir": self.frame_dir(int(index)),
            "label": label,
            "total_frames": int(w),
            "img_shape": (int(h), int(wd)),
            "original_shape": (int(h), int(wd)),
            "keypoint": np.ascontiguousarray(kp),
            "keypoint_score": np.ascontiguousarray(sc),
        }
