"""Synthetic untrimmed recordings: minutes of a seated person with micro-gestures at known frames.

:class:`SyntheticUntrimmed` makes long sequences from the motions of the iMiGUE-like synthetic
set (:class:`pymg.data.SyntheticIMiGUE`): one subject per recording (its body proportions,
framing and detector quality), gestures of the chosen iMiGUE classes placed on a timeline with
idle stretches between them, and the same OpenPose-like detector noise. The idle motion is
what a seated interviewee does between gestures: breathing, a slow sway of the upper body, hands
that drift a little on the table, small head turns, and short *fidgets* (a hand moving a few
centimetres and back) that are not gestures, so the detector has to tell them apart.

Timeline (recording ``i``, its own random generator ``default_rng([seed, 21, i])``): an idle
stretch of 1.5-6 s, then a gesture clip of 1.5-8 s (log-normal, median 3.5 s; the motion fills
35-85% of it) whose class follows iMiGUE's training frequencies restricted to the chosen classes
(flattened by a square root so rare classes still appear), and so on to the end. The
ground-truth segment of a gesture is the frames where its motion envelope is above 10% of its
peak (the gesture is held in between).

Items are RECORDING dicts (PYSKL's names): ``frame_dir``, ``keypoint`` float32 [1, T, V, 2]
(pixels of 1280x720), ``keypoint_score`` float32 [1, T, V], ``img_shape`` (720, 1280),
``total_frames`` T, ``segments`` int64 [S, 3] rows ``(start, end, label)`` (0-based inclusive
frames, 0-based classes of :attr:`SyntheticUntrimmed.class_names`, sorted by start),
``labelled`` True, ``subject``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pymg.data.synthetic_body import _HANDS, _HEAD, _UPPER, _rest_pose, _smooth_walks
from pymg.data.synthetic_imigue import (
    _GESTURES,
    IMIGUE_TRAIN_COUNTS,
    SUBTLE_PEAK_PX,
    SyntheticIMiGUE,
    _ClipMotion,
    _face_and_head,
)
from pymg.labels.imigue import IMIGUE_CLASSES
from pymg.topology import Skeleton

__all__ = ["DEFAULT_CLASSES", "SyntheticUntrimmed"]

DEFAULT_CLASSES: tuple[int, ...] = (3, 7, 10, 16, 19, 22, 28, 31)
"""The iMiGUE classes (0-based) of the default synthetic recordings: touching head, touching
facial parts, touching jaw, folding arms, moving torso, rubbing hands, pressing lips,
illustrative body language (hand, face and subtle kinds)."""

_ENVELOPE_EDGE = 0.1  # the ground truth is where the motion envelope is above this share


class SyntheticUntrimmed(Sequence[dict[str, Any]]):
    """Deterministic untrimmed recordings with gestures at known frames (module docstring).

    Args:
        num_recordings: R recordings (>= 3); recording ``i``'s subject is ``i % num_subjects
            + 1``, a test subject when divisible by 3 (split ``"test"``, else ``"train"``).
        seconds: length of each recording (>= 10).
        classes: the iMiGUE classes used (0-based; relabelled 0..K-1 in this order), or None
            for :data:`DEFAULT_CLASSES`.
        layout: layout name or Skeleton with ``source_indices`` (OpenPose-137 based).
        seed: base seed; ``noise``: factor on the detector noise (0 = clean points).
        num_subjects: S >= 3.

    Attributes:
        class_names: the K class names.
        num_classes: K.
        labels: always -1 (a recording has no single label).
        splits: ``{name: [recording ids]}``.
        layout: the Skeleton of the keypoints.
        fps: 25 frames per second.
    """

    fps = 25.0
    img_shape = (720, 1280)

    def __init__(
        self,
        num_recordings: int = 12,
        seconds: float = 120.0,
        classes: Sequence[int] | None = None,
        layout: str | Skeleton = "imigue41",
        seed: int = 0,
        *,
        noise: float = 1.0,
        num_subjects: int = 6,
    ) -> None:
        if isinstance(num_recordings, bool) or not isinstance(num_recordings, int):
            raise ValueError(f"num_recordings must be an int >= 3, got {num_recordings!r}")
        if num_recordings < 3:
            raise ValueError(f"num_recordings must be an int >= 3, got {num_recordings!r}")
        if not isinstance(seconds, int | float) or not 10 <= seconds <= 3600:
            raise ValueError(f"seconds must be a number in [10, 3600], got {seconds!r}")
        chosen = tuple(DEFAULT_CLASSES if classes is None else classes)
        k_all = len(IMIGUE_CLASSES)
        if (
            not chosen
            or len(set(chosen)) != len(chosen)
            or any(
                isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= c < k_all
                for c in chosen
            )
        ):
            raise ValueError(
                f"classes must be distinct iMiGUE classes in 0..{k_all - 1}, got {classes!r}"
            )
        # subjects, framing and noise come from the clip set (same draws per subject and seed)
        self._clips = SyntheticIMiGUE(
            num_clips=k_all * 3, layout=layout, seed=seed, num_subjects=max(num_subjects, 3),
            noise=noise,
        )  # fmt: skip
        self.layout = self._clips.layout
        self.seed = int(seed)
        self.seconds = float(seconds)
        self.num_recordings = num_recordings
        self.num_subjects = max(num_subjects, 3)
        self.source_classes = tuple(int(c) for c in chosen)
        self.class_names: tuple[str, ...] = tuple(IMIGUE_CLASSES[c] for c in chosen)
        self.num_classes = len(chosen)
        self.labels = [-1] * num_recordings
        freq = np.sqrt(np.asarray([IMIGUE_TRAIN_COUNTS[c] for c in chosen], np.float64))
        self._class_p = freq / freq.sum()
        self._cache: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return self.num_recordings

    def __repr__(self) -> str:
        return (
            f"SyntheticUntrimmed(num_recordings={self.num_recordings}, seconds={self.seconds}, "
            f"classes={self.num_classes}, layout={self.layout.name!r}, seed={self.seed})"
        )

    def subject(self, index: int) -> int:
        """The subject (1-based) of recording ``index``."""
        return index % self.num_subjects + 1

    def frame_dir(self, index: int) -> str:
        """Name of recording ``index`` (``"untrimmed_s03_0002"``)."""
        return f"untrimmed_s{self.subject(index):02d}_{index:04d}"

    @property
    def splits(self) -> dict[str, list[str]]:
        """``{"train", "test"}`` -> recording names (test: subject % 3 == 0)."""
        out: dict[str, list[str]] = {"train": [], "test": []}
        for i in range(len(self)):
            out["test" if self.subject(i) % 3 == 0 else "train"].append(self.frame_dir(i))
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} recordings")
        index = int(index) % len(self)
        if index not in self._cache:
            self._cache[index] = self.generate(index)
        item = dict(self._cache[index])
        for key in ("keypoint", "keypoint_score", "segments"):
            item[key] = item[key].copy()
        return item

    # ------------------------------------------------------------------ generation
    def timeline(self, index: int) -> list[tuple[int, int, int]]:
        """The gestures of recording ``index``: ``(first frame, frames, source class)`` each."""
        rng = np.random.default_rng([self.seed, 21, index])
        total = int(round(self.seconds * self.fps))
        out: list[tuple[int, int, int]] = []
        t = int(round(rng.uniform(1.5, 6.0) * self.fps))
        while True:
            seconds = float(np.clip(rng.lognormal(np.log(3.5), 0.4), 1.5, 8.0))
            length = int(round(seconds * self.fps))
            if t + length > total:
                break
            label = int(rng.choice(len(self._class_p), p=self._class_p))
            out.append((t, length, self.source_classes[label]))
            t += length + int(round(rng.uniform(1.5, 6.0) * self.fps))
        return out

    def generate(self, index: int) -> dict[str, Any]:
        """Generate recording ``index`` from scratch (see the module docstring)."""
        total = int(round(self.seconds * self.fps))
        rng = np.random.default_rng([self.seed, 22, index])
        subject = self._clips._subject(self.subject(index))
        rest = _rest_pose(subject, rng)
        pose = np.repeat(rest[None], total, axis=0)  # [T, 137, 2] template units
        segments = []
        to_label = {c: k for k, c in enumerate(self.source_classes)}
        for start, length, cls in self.timeline(index):
            motion = _ClipMotion(rng, length, self.fps)
            kind, move = _GESTURES[cls]
            part = pose[start : start + length]
            moved = part.copy()
            move(moved, motion)
            if kind == "face":
                _face_and_head(moved, rest)
            delta = moved - part
            if kind in ("face", "subtle"):
                peak = float(np.linalg.norm(delta, axis=-1).max())
                if peak > 0:
                    delta *= rng.uniform(*SUBTLE_PEAK_PX) / (subject.scale * peak)
            part += delta
            on = np.flatnonzero(motion.env > _ENVELOPE_EDGE)
            if on.size:
                segments.append((start + int(on[0]), start + int(on[-1]), to_label[cls]))
        self._idle(pose, rng, total)
        xy, score = self._clips._detect(pose, rng, subject)
        sel = np.asarray(self.layout.source_indices)
        seg = np.asarray(segments, np.int64).reshape(-1, 3)
        return {
            "frame_dir": self.frame_dir(index),
            "keypoint": xy[None, :, sel].astype(np.float32),
            "keypoint_score": score[None, :, sel].astype(np.float32),
            "img_shape": self.img_shape,
            "total_frames": total,
            "segments": seg[np.argsort(seg[:, 0], kind="stable")],
            "labelled": True,
            "subject": self.subject(index),
        }

    def _idle(self, pose: np.ndarray, rng: np.random.Generator, total: int) -> None:
        """Breathing, sway, hand drift, head turns and fidgets (template units, in place)."""
        t = np.arange(total) / self.fps
        breath = 0.006 * np.sin(2 * np.pi * t / rng.uniform(3.0, 5.0) + rng.uniform(0, 2 * np.pi))
        walks = _smooth_walks(rng, total, 4, 25)  # [4, T, 2]
        pose[:, _UPPER, 1] -= breath[:, None]
        pose[:, _UPPER] += 0.012 * walks[0][:, None, :]
        pose[:, _HANDS[: len(_HANDS) // 2]] += 0.02 * walks[1][:, None, :]
        pose[:, _HANDS[len(_HANDS) // 2 :]] += 0.02 * walks[2][:, None, :]
        pose[:, _HEAD, 0] += 0.01 * walks[3][:, 0:1]
        for _ in range(int(rng.poisson(total / self.fps / 8.0))):  # a fidget every ~8 s
            start = int(rng.integers(0, max(total - 15, 1)))
            length = int(rng.integers(8, 20))
            env = np.sin(np.linspace(0.0, np.pi, length)) * rng.uniform(0.03, 0.08)
            hand = _HANDS[: len(_HANDS) // 2] if rng.random() < 0.5 else _HANDS[len(_HANDS) // 2 :]
            step = rng.normal(0.0, 1.0, size=2)
            part = pose[start : start + length]
            part[:, hand] += (env[: len(part), None] * step)[:, None, :]
