"""Detection in untrimmed recordings: sliding windows through any pymg classifier, online or not.

A detector is a classifier trained with one extra class, "background" (the last one; see
:class:`pymg.data.RecordingWindows`). :class:`OnlineDetector` is the one implementation:

* frames are pushed one at a time (or many at once); every ``stride`` frames a window of the last
  ``window`` frames is queued; each group of ``batch_windows`` windows goes through the test
  pipeline (per-window crop and resize in keypoint space), then ONE call of the model's
  ``make_input`` (temporal alignment to the model's T with its own strategy and heatmaps of the
  whole group) and one network call;
* a frame's class scores are the mean softmax of the windows covering it; they are final once
  the last window covering the frame has been scored, and go to a
  :class:`pymg.engine.segments.SegmentBuilder` that returns segments as soon as they are final;
* :meth:`OnlineDetector.flush` ends the stream: the frames after the last full window get one
  more window (the last ``window`` frames, or all frames of a stream shorter than one window).

:meth:`Detector.detect` (offline) is the stream fed a whole recording, then flushed, so both
give the same segments; the network runs on the same groups of windows in both (its arithmetic
can depend on the batch size in the last bits, so ``batch_windows`` must be equal).

Latency: a segment starting at frame ``a`` has been returned by the push of frame
``a + latency_bound`` (:attr:`OnlineDetector.latency_bound` = ``window - 1 + (batch_windows -
1) * stride + 2 * max_len + merge_gap + 2``); usually it comes ``merge_gap + window +
(batch_windows - 1) * stride`` frames after its last frame. Memory is bounded by ``window +
(batch_windows - 1) * stride`` frames, whatever the stream's length.

Frames: keypoints ``[M, V, 2]`` (pixels) and scores ``[M, V]`` (default 1); ``M`` may change
from frame to frame and may be 0 (nobody seen: the frame counts, all its points missing); per
frame the ``num_persons`` persons with the highest mean score are kept. NaN or inf coordinates
or scores make that point missing (0, 0 with score 0), as OpenPose writes a missing point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pymg.engine.config import DetectConfig
from pymg.engine.segments import Segment, SegmentBuilder, SegmentParams, sort_segments

__all__ = ["Detector", "OnlineDetector", "WindowParams"]


@dataclass(frozen=True)
class WindowParams:
    """Sliding windows: ``window`` W frames every ``stride`` S frames (1 <= S <= W), scored in
    groups of ``batch_windows``, with ``num_clips`` temporal views and ``flip``."""

    window: int = DetectConfig.window  # the defaults are the [detect] config's
    stride: int = DetectConfig.stride
    batch_windows: int = DetectConfig.batch_windows
    num_clips: int = DetectConfig.num_clips
    flip: bool = DetectConfig.flip

    def __post_init__(self) -> None:
        for name in ("window", "stride", "batch_windows", "num_clips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.stride > self.window:
            raise ValueError(
                f"stride ({self.stride}) must be <= window ({self.window}): every frame must lie "
                "in a window"
            )


class Detector:
    """A trained detector (a classifier whose last class is background) and its settings.

    Args:
        model: a :class:`pymg.models.interface.RecognizerModel` with K + 1 classes.
        class_names: the K + 1 names (the last is ``"background"``).
        layout: the model's Skeleton.
        windows, segments: :class:`WindowParams` and :class:`~pymg.engine.segments.SegmentParams`.
        size: heatmap side at test time (``data.test_size``); ``num_persons``: M slots.
        device: where the model runs; ``amp``: autocast mode (see :mod:`pymg.engine.runtime`).
    """

    def __init__(
        self,
        model: nn.Module,
        class_names: list[str],
        layout: Any,
        *,
        windows: WindowParams | None = None,
        segments: SegmentParams | None = None,
        size: int = 64,
        num_persons: int = 1,
        device: str | torch.device = "cpu",
        amp: str = "off",
    ) -> None:
        from pymg.data.windows import BACKGROUND

        names = [str(n) for n in class_names]
        if len(names) < 2 or names[-1] != BACKGROUND:
            raise ValueError(
                f"class_names must end with {BACKGROUND!r} (a detector is trained with an extra "
                f"background class: set detect.train = true); got {names[-3:]!r}"
            )
        k = int(getattr(model, "num_classes", len(names)))
        if k != len(names):
            raise ValueError(f"the model has {k} classes but {len(names)} class names were given")
        from pymg.topology import resolve_layout

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.layout = resolve_layout(layout) if isinstance(layout, str) else layout
        self.names_with_background = names
        self.windows = windows or WindowParams()
        self.segments = segments or SegmentParams()
        self.size = int(size)
        self.num_persons = int(num_persons)
        self.amp = amp
        self.config: Any = None  # the training Config when loaded from a checkpoint
        from pymg.data import test_transform

        self._transform = test_transform(size=self.size)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "cpu", **settings: Any
    ) -> Detector:
        """Load a detector checkpoint (trained with ``detect.train = true``).

        ``settings`` override the checkpoint's ``[detect]`` values by key (``window=64``,
        ``thresholds=(0.4,)``, ...).
        """
        from dataclasses import asdict, replace

        from pymg.engine.inference import Recognizer

        rec = Recognizer.from_checkpoint(path, device=device)
        det = rec.cfg.detect
        unknown = sorted(set(settings) - set(asdict(det)))
        if unknown:
            raise ValueError(f"unknown detector setting(s) {unknown}; known: {sorted(asdict(det))}")
        det = replace(det, **settings)
        out = cls(
            rec.model,
            rec.class_names,
            rec.layout,
            windows=window_params(det),
            segments=segment_params(det),
            size=rec.cfg.data.test_size,
            num_persons=rec.cfg.data.num_persons,
            device=rec.device,
        )
        out.config = replace(rec.cfg, detect=det)
        return out

    @property
    def class_names(self) -> list[str]:
        """The K gesture class names (background left out)."""
        return self.names_with_background[:-1]

    @property
    def num_classes(self) -> int:
        """K gesture classes."""
        return len(self.names_with_background) - 1

    def stream(
        self,
        img_shape: tuple[int, int],
        *,
        on_window: Callable[[int, int, np.ndarray], None] | None = None,
        keep_scores: bool = False,
    ) -> OnlineDetector:
        """A new :class:`OnlineDetector` for frames of size ``img_shape`` (H, W) in pixels."""
        return OnlineDetector(self, img_shape, on_window=on_window, keep_scores=keep_scores)

    def detect(self, recording: Mapping[str, Any]) -> list[Segment]:
        """Segments of one recording dict (:func:`pymg.data.windows.check_recording`), sorted by
        start, label, end: the stream fed every frame, then flushed."""
        return self.run(recording)[0]

    def run(
        self,
        recording: Mapping[str, Any],
        *,
        on_window: Callable[[int, int, np.ndarray], None] | None = None,
        keep_scores: bool = False,
    ) -> tuple[list[Segment], OnlineDetector]:
        """:meth:`detect` that also returns the flushed stream (its ``scores`` with
        ``keep_scores``); ``on_window`` as in :class:`OnlineDetector`."""
        from pymg.data.windows import check_recording

        check_recording(recording)
        stream = self.stream(
            tuple(recording["img_shape"]), on_window=on_window, keep_scores=keep_scores
        )
        out = stream.push_many(recording["keypoint"], recording.get("keypoint_score"))
        out += stream.flush()
        return sort_segments(out), stream

    @torch.no_grad()
    def score_windows(
        self, keypoint: np.ndarray, score: np.ndarray, length: np.ndarray, img_shape: tuple
    ) -> np.ndarray:
        """Class probabilities of N windows: per-window test crop, then ONE batched model input.

        Shape:
            - keypoint: [N, M, W, V, 2] pixels; score: [N, M, W, V]; length: [N] valid frames
            - output: float32 [N, K + 1], mean softmax over the views
        """
        from pymg.engine.evaluate import predict_batch

        n, m, w, v, _ = keypoint.shape
        out_kp = np.zeros((n, m, w, v, 2), np.float32)
        out_sc = np.zeros((n, m, w, v), np.float32)
        for i in range(n):  # keypoint space only: a few affine maps per window
            t = int(length[i])
            sample = {
                "keypoint": keypoint[i, :, :t],
                "keypoint_score": score[i, :, :t],
                "img_shape": img_shape,
            }
            moved = self._transform(sample)
            out_kp[i, :, :t] = moved["keypoint"]
            out_sc[i, :, :t] = moved["keypoint_score"]
        batch = {
            "keypoint": torch.from_numpy(out_kp),
            "keypoint_score": torch.from_numpy(out_sc),
            "length": torch.as_tensor(np.asarray(length, np.int64)),
            "img_shape": torch.full((n, 2), self.size, dtype=torch.int64),
        }
        probs = predict_batch(
            self.model,
            batch,
            num_clips=self.windows.num_clips,
            flip=self.windows.flip,
            size=self.size,
            amp=self.amp,
        )
        return probs.float().cpu().numpy()


def window_params(det: Any) -> WindowParams:
    """The :class:`WindowParams` of a ``[detect]`` config section."""
    return WindowParams(det.window, det.stride, det.batch_windows, det.num_clips, det.flip)


def segment_params(det: Any) -> SegmentParams:
    """The :class:`~pymg.engine.segments.SegmentParams` of a ``[detect]`` config section."""
    return SegmentParams(
        tuple(det.thresholds), det.hysteresis, det.min_len, det.merge_gap, det.max_len,
        det.nms_iou,
    )  # fmt: skip


class OnlineDetector:
    """Push frames, get segments as soon as they are final (see the module docstring).

    Args:
        detector: the :class:`Detector`.
        img_shape: (H, W) of the frames, pixels.
        on_window: optional ``f(start, length, probabilities [K + 1])`` called for every scored
            window, in order.
        keep_scores: keep every frame's final scores in :attr:`scores` (``[T, K + 1]``; memory
            grows with the stream, for plots and tests only).

    >>> stream = detector.stream((720, 1280))                           # doctest: +SKIP
    >>> for kp, sc in camera:                    # [M, V, 2], [M, V]      # doctest: +SKIP
    ...     for seg in stream.push(kp, sc):                             # doctest: +SKIP
    ...         print(seg.start, seg.end, detector.class_names[seg.label])  # doctest: +SKIP
    >>> rest = stream.flush()                                           # doctest: +SKIP
    """

    def __init__(
        self,
        detector: Detector,
        img_shape: tuple[int, int],
        *,
        on_window: Callable[[int, int, np.ndarray], None] | None = None,
        keep_scores: bool = False,
    ) -> None:
        shape = tuple(img_shape)
        if len(shape) != 2 or any(
            isinstance(s, bool) or not isinstance(s, int | np.integer) or s <= 0 for s in shape
        ):
            raise ValueError(f"img_shape must be (height, width) in pixels > 0, got {img_shape!r}")
        self.detector = detector
        self.img_shape = (int(shape[0]), int(shape[1]))
        self.on_window = on_window
        self.frames = 0  # frames pushed
        wp = detector.windows
        self.latency_bound = (
            wp.window - 1 + (wp.batch_windows - 1) * wp.stride + detector.segments.settle
        )
        self._slots = detector.num_persons
        self._v = detector.layout.num_joints
        self._buf_kp = np.zeros((0, self._slots, self._v, 2), np.float32)
        self._buf_sc = np.zeros((0, self._slots, self._v), np.float32)
        self._buf_start = 0  # absolute index of the first buffered frame
        self._next = 0  # first frame of the next window
        self._pending: list[tuple[int, int]] = []  # (first frame, length) of queued windows
        self._acc = np.zeros((0, detector.num_classes + 1), np.float64)
        self._count = np.zeros(0, np.int64)
        self._acc_start = 0  # first frame whose scores are not final yet
        self._builder = SegmentBuilder(detector.num_classes, detector.segments)
        self._closed = False
        self._kept: list[np.ndarray] | None = [] if keep_scores else None

    @property
    def scores(self) -> np.ndarray:
        """float32 ``[T_final, K + 1]``: the final scores of every frame so far (keep_scores)."""
        if self._kept is None:
            raise RuntimeError("scores are kept only with keep_scores=True")
        k = self.detector.num_classes + 1
        return np.concatenate(self._kept).astype(np.float32) if self._kept else np.zeros((0, k))

    @property
    def buffered_frames(self) -> int:
        """Frames held (keypoints or not-yet-final scores): at most ``window + (batch_windows -
        1) * stride``, however long the stream."""
        return max(self._buf_kp.shape[0], self._acc.shape[0])

    def push(self, keypoints: Any, scores: Any = None) -> list[Segment]:
        """Add one frame: keypoints ``[M, V, 2]`` (M >= 0), scores ``[M, V]`` or None.

        Returns:
            the segments that became final with this frame (often none).
        """
        kp = _array("keypoints", keypoints)
        if kp.ndim != 3 or kp.shape[-1] != 2:
            raise ValueError(
                f"keypoints of frame {self.frames}: expected [M, V, 2], got {kp.shape}"
            )
        sc = None if scores is None else _array("scores", scores)
        if sc is not None and sc.shape != kp.shape[:-1]:
            raise ValueError(
                f"scores of frame {self.frames}: expected {kp.shape[:-1]} (as the keypoints), got "
                f"{sc.shape}"
            )
        return self._extend(*self._frames(kp[:, None], None if sc is None else sc[:, None]))

    def push_many(self, keypoints: Any, scores: Any = None) -> list[Segment]:
        """Add T frames at once: keypoints ``[M, T, V, 2]`` (as a recording holds them), scores
        ``[M, T, V]`` or None."""
        kp = _array("keypoints", keypoints)
        if kp.ndim != 4 or kp.shape[-1] != 2:
            raise ValueError(f"keypoints: expected [M, T, V, 2], got {kp.shape}")
        sc = None if scores is None else _array("scores", scores)
        if sc is not None and sc.shape != kp.shape[:-1]:
            raise ValueError(f"scores: expected {kp.shape[:-1]} (as the keypoints), got {sc.shape}")
        return self._extend(*self._frames(kp, sc))

    def flush(self) -> list[Segment]:
        """End the stream: score the frames after the last full window, return the rest."""
        self._check_open()
        self._closed = True
        if self.frames == 0:
            return []
        w = self.detector.windows.window
        last_end = self._next - self.detector.windows.stride + w  # end of the last queued window
        out: list[Segment] = []
        if self.frames < w or self.frames > last_end:
            self._score(tail=(max(self.frames - w, 0), min(w, self.frames)))
        elif self._pending:
            self._score()
        out += self._release(self.frames)
        return out + self._builder.finish()

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one with detector.stream()")

    def _frames(self, kp: np.ndarray, sc: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``[M, F, V', 2]`` -> ``[F, slots, V, 2]`` and scores: joints selected, non-finite points
        missing, the ``slots`` most confident persons of each frame first."""
        self._check_open()
        m, f, v_in = kp.shape[0], kp.shape[1], kp.shape[2]
        layout = self.detector.layout
        if sc is None:
            sc = np.ones(kp.shape[:-1], np.float32)
        if v_in != self._v:
            if v_in == 137 and layout.source_indices is not None:
                index = np.asarray(layout.source_indices)
                kp, sc = kp[:, :, index], sc[:, :, index]
            else:
                raise ValueError(
                    f"keypoints: expected V={self._v} joints of layout {layout.name!r} (or the 137 "
                    f"OpenPose points when the layout maps them), got V={v_in}"
                )
        bad = ~(np.isfinite(kp).all(-1) & np.isfinite(sc))
        kp = np.where(bad[..., None], 0.0, kp).astype(np.float32)
        sc = np.where(bad, 0.0, sc).astype(np.float32)
        out_kp = np.zeros((f, self._slots, self._v, 2), np.float32)
        out_sc = np.zeros((f, self._slots, self._v), np.float32)
        if m:
            order = np.argsort(-sc.sum(-1), axis=0, kind="stable")[: self._slots]  # [slots', F]
            frames = np.arange(f)[None]
            out_kp[:, : order.shape[0]] = kp[order, frames].transpose(1, 0, 2, 3)
            out_sc[:, : order.shape[0]] = sc[order, frames].transpose(1, 0, 2)
        return out_kp, out_sc

    def _extend(self, kp: np.ndarray, sc: np.ndarray) -> list[Segment]:
        """Append frames; queue and score the windows they complete."""
        wp = self.detector.windows
        out: list[Segment] = []
        done = 0
        while done < kp.shape[0]:
            # add frames up to the end of the next window (or all that are left)
            need = max(self._next + wp.window - self.frames, 1)
            part = slice(done, min(done + need, kp.shape[0]))
            self._buf_kp = np.concatenate([self._buf_kp, kp[part]])
            self._buf_sc = np.concatenate([self._buf_sc, sc[part]])
            added = part.stop - part.start
            self.frames += added
            done += added
            k = self._acc.shape[1]
            self._acc = np.concatenate([self._acc, np.zeros((added, k))])
            self._count = np.concatenate([self._count, np.zeros(added, np.int64)])
            while self._next + wp.window <= self.frames:
                self._pending.append((self._next, wp.window))
                self._next += wp.stride
                if len(self._pending) == wp.batch_windows:
                    self._score()
                    out += self._release(self._next)
        return out

    def _score(self, tail: tuple[int, int] | None = None) -> None:
        """Score the queued windows (and the ``tail`` window, which adds to the frames from the
        next window's first frame on) in one batch; add their probabilities to their frames."""
        windows = list(self._pending) + ([tail] if tail is not None else [])
        self._pending = []
        w = self.detector.windows.window
        n = len(windows)
        kp = np.zeros((n, self._slots, w, self._v, 2), np.float32)
        sc = np.zeros((n, self._slots, w, self._v), np.float32)
        length = np.zeros(n, np.int64)
        for i, (first, t) in enumerate(windows):
            a = first - self._buf_start
            kp[i, :, :t] = self._buf_kp[a : a + t].transpose(1, 0, 2, 3)
            sc[i, :, :t] = self._buf_sc[a : a + t].transpose(1, 0, 2)
            length[i] = t
        probs = self.detector.score_windows(kp, sc, length, self.img_shape)
        for i, (first, t) in enumerate(windows):
            lo = first if tail is None or i < n - 1 else max(first, self._next)
            a, b = lo - self._acc_start, first + t - self._acc_start
            self._acc[a:b] += probs[i]
            self._count[a:b] += 1
            if self.on_window is not None:
                self.on_window(first, t, probs[i])

    def _release(self, final: int) -> list[Segment]:
        """Frames before ``final`` are final: their scores go to the segment builder."""
        n = final - self._acc_start
        out: list[Segment] = []
        if n > 0:
            scores = self._acc[:n] / self._count[:n, None]
            if self._kept is not None:
                self._kept.append(scores)
            k = self.detector.num_classes
            for row in scores:
                out += self._builder.push(row[:k])
            self._acc, self._count = self._acc[n:], self._count[n:]
            self._acc_start = final
        keep_from = min(self._next, self.frames - self.detector.windows.window)
        drop = max(keep_from - self._buf_start, 0)
        if drop:
            self._buf_kp, self._buf_sc = self._buf_kp[drop:], self._buf_sc[drop:]
            self._buf_start += drop
        return out


def _array(name: str, value: Any) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a float array, got {type(value).__name__}") from exc
