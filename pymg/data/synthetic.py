"""Synthetic micro-gesture clips in the PYSKL annotation format, for tests, demos and sanity runs.

Every clip is a seated subject (the template pose of :mod:`pymg.topology`, scaled into the image)
who breathes, sways and moves the head a little, seen through a noisy "detector" that sometimes
loses points (score 0 and coordinates 0, as OpenPose writes them). Each class is one small,
localized motion with a random onset, duration, amplitude and speed. The classes

* ``pressing lips``, ``raising eyebrows``, ``opening mouth`` and ``puffing cheeks``

move **only face points**: two clips that share an index but differ in one of these labels have
bit-identical body, eye, ear and hand points (every random number is drawn whatever the class), so
on ``imigue22`` these classes are indistinguishable and a face-aware layout (``imigue41``) must win.

Gestures move the OpenPose-137 point set; then the layout's ``source_indices`` are read out, so
any layout with source indices works. Per-point random numbers are drawn for the points of the
built-in layouts first, so two layouts with the same seed agree on every point they share
(``imigue22`` clips are the first 22 joints of the ``imigue41`` clips).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from pymg.checks import check_index, check_int
from pymg.data.synthetic_body import (
    _BASE_SCORE,
    _CORE_POINTS,
    _IDLE_WEIGHTS,
    _IS_LEG,
    _L_FINGERS,
    _R_FINGERS,
    _SIGMA,
    MOTION_CLASSES,
    _Motion,
    _rest_pose,
    _smooth_walks,
    _Subject,
)
from pymg.topology import Skeleton, resolve_layout

__all__ = ["MOTION_CLASSES", "SyntheticMicroGestures"]


class LazyClips(Sequence[dict[str, Any]]):
    """A Sequence of clips generated on first access by ``self.generate(i)`` and cached.

    Subclasses set ``self.labels`` (one per clip), ``self._cache = {}`` and define
    ``generate(index) -> dict``; items are fresh copies (``keypoint`` and ``keypoint_score`` arrays
    are copied), so a caller may modify them.
    """

    labels: list[int]
    _cache: dict[int, dict[str, Any]]

    def generate(self, index: int) -> dict[str, Any]:  # pragma: no cover - abstract
        """The annotation dict of clip ``index``."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.labels)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = check_index(index, len(self), expected="an int or slice")
        if i not in self._cache:
            self._cache[i] = self.generate(i)
        return _copy(self._cache[i])


class SyntheticMicroGestures(LazyClips):
    """A deterministic, balanced set of synthetic micro-gesture clips (PYSKL annotation dicts).

    Clip ``i`` has label ``i % num_classes`` and subject ``(i // num_classes) % num_subjects + 1``;
    its random numbers come from ``numpy.random.default_rng([seed, 1, i])`` (subjects from
    ``[seed, 2, subject]``), so clips are generated lazily, in any order, identically.

    Args:
        num_classes: K, 1 to ``len(MOTION_CLASSES)`` (12); the first K classes are used.
        num_clips: number of clips N.
        layout: layout name or :class:`~pymg.topology.Skeleton` with ``source_indices``.
        seed: base seed.
        img_shape: (H, W) of the "video" in pixels.
        min_seconds / max_seconds: clip length range (T is uniform in
            ``[round(min_seconds * fps), round(max_seconds * fps)]``).
        fps: frames per second.
        num_subjects: subjects 1..S; split by id like iMiGUE's cross-subject protocol:
            ``id % 5 == 0`` -> test, ``id % 5 == 4`` -> val, the rest -> train.
        noise: scale of the detector noise (0 = exact points).
        drop_prob: probability that the detector loses a point in a frame (score 0, coords 0).

    Items (``ds[i]``): ``{"frame_dir": str, "label": int, "total_frames": T, "img_shape": (H, W),
    "original_shape": (H, W), "keypoint": float32 [1, T, V, 2] (x, y pixels),
    "keypoint_score": float32 [1, T, V]}``; a fresh copy each time.

    Attributes:
        layout: the :class:`~pymg.topology.Skeleton` (V = ``layout.num_joints``).
        class_names / face_only: per class, its name and whether it moves only face points.
        labels / subjects: per clip, its label and subject id.
        splits: ``{"train", "val", "test"}`` -> frame_dir lists.
    """

    def __init__(
        self,
        num_classes: int = 8,
        num_clips: int = 200,
        layout: str | Skeleton = "imigue41",
        seed: int = 0,
        *,
        img_shape: tuple[int, int] = (720, 1280),
        min_seconds: float = 1.0,
        max_seconds: float = 6.0,
        fps: float = 25.0,
        num_subjects: int = 10,
        noise: float = 1.0,
        drop_prob: float = 0.01,
    ) -> None:
        self.layout = resolve_layout(layout)
        if self.layout.source_indices is None:
            raise ValueError(f"layout {self.layout.name!r} needs source_indices (OpenPose-137)")
        for name, value, low in (("num_classes", num_classes, 1), ("num_clips", num_clips, 0),
                                 ("num_subjects", num_subjects, 1)):  # fmt: skip
            check_int(value, name, minimum=low)
        check_int(seed, "seed", minimum=0)
        if num_classes > len(MOTION_CLASSES):
            raise ValueError(f"num_classes must be <= {len(MOTION_CLASSES)}, got {num_classes}")
        if len(img_shape) != 2 or min(img_shape) < 16:
            raise ValueError(f"img_shape must be (H, W) with both >= 16, got {img_shape!r}")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps!r}")
        lo, hi = round(min_seconds * fps), round(max_seconds * fps)
        if not 1 <= lo <= hi:
            raise ValueError(
                f"need 1 frame <= min_seconds*fps <= max_seconds*fps, got {min_seconds}, "
                f"{max_seconds} s at {fps} fps"
            )
        if not noise >= 0 or not 0 <= drop_prob < 1:
            raise ValueError(f"need noise >= 0 and 0 <= drop_prob < 1, got {noise}, {drop_prob}")
        self.num_classes = num_classes
        self.seed = int(seed)
        self.img_shape = (int(img_shape[0]), int(img_shape[1]))
        self.fps = float(fps)
        self.frame_range = (lo, hi)
        self.num_subjects = num_subjects
        self.noise = float(noise)
        self.drop_prob = float(drop_prob)
        self.class_names: tuple[str, ...] = tuple(c[0] for c in MOTION_CLASSES[:num_classes])
        self.face_only: tuple[bool, ...] = tuple(c[1] for c in MOTION_CLASSES[:num_classes])
        self.labels = [i % num_classes for i in range(num_clips)]
        self.subjects = [(i // num_classes) % num_subjects + 1 for i in range(num_clips)]
        src = self.layout.source_indices
        extra = sorted(set(src) - set(_CORE_POINTS))
        self._points = np.array([*_CORE_POINTS, *extra])  # simulated output points (137-indices)
        self._blocks = (len(_CORE_POINTS), len(extra))
        where = {int(p): k for k, p in enumerate(self._points)}
        self._select = [where[s] for s in src]
        self._cache: dict[int, dict[str, Any]] = {}
        self._subject_cache: dict[int, _Subject] = {}

    def __repr__(self) -> str:
        return (
            f"SyntheticMicroGestures(num_classes={self.num_classes}, num_clips={len(self)}, "
            f"layout={self.layout.name!r}, seed={self.seed})"
        )

    # ------------------------------------------------------------------ splits / export
    def frame_dir(self, index: int) -> str:
        """Name of clip ``index`` (``"synth_s03_00042"``: subject 3, clip 42)."""
        return f"synth_s{self.subjects[index]:02d}_{index:05d}"

    @property
    def splits(self) -> dict[str, list[str]]:
        """Cross-subject split: ``{"train", "val", "test"}`` -> frame_dir lists (by subject id)."""
        out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
        for i, subject in enumerate(self.subjects):
            key = "test" if subject % 5 == 0 else "val" if subject % 5 == 4 else "train"
            out[key].append(self.frame_dir(i))
        return out

    def to_pickle(self, path: str | Path) -> Path:
        """Write the PYSKL pickle ``{"split": splits, "annotations": [all clips]}`` to ``path``."""
        path = Path(path)
        with path.open("wb") as f:
            pickle.dump({"split": self.splits, "annotations": list(self)}, f, protocol=4)
        return path

    # ------------------------------------------------------------------ generation
    def _subject(self, subject: int) -> _Subject:
        if subject not in self._subject_cache:
            rng = np.random.default_rng([self.seed, 2, subject])
            self._subject_cache[subject] = _Subject(rng, self.img_shape)
        return self._subject_cache[subject]

    def generate(self, index: int, label: int | None = None) -> dict[str, Any]:
        """Generate clip ``index`` from scratch, optionally as if its label were ``label``.

        With the same ``index``, every random number (length, onset, noise, dropped points) is
        the same whatever ``label`` is: only the gesture differs (a counterfactual clip).

        Returns:
            the annotation dict (see the class docstring).
        """
        index = check_index(index, len(self), negative=False)
        label = self.labels[index] if label is None else int(label)
        if not 0 <= label < self.num_classes:
            raise ValueError(f"label must be in [0, {self.num_classes}), got {label}")
        rng = np.random.default_rng([self.seed, 1, index])
        subject = self._subject(self.subjects[index])
        length = int(rng.integers(self.frame_range[0], self.frame_range[1] + 1))
        rest = _rest_pose(subject, rng)
        pose = np.repeat(rest[None], length, axis=0)  # [T, 137, 2] template units
        motion = _Motion(rng, length, self.fps)
        MOTION_CLASSES[label][2](pose, motion)
        pose = pose[:, self._points]  # [T, P, 2]: only the output points from here on
        self._idle(pose, rng, subject)
        xy, score = self._detect(pose, rng, subject)
        sel = self._select
        return {
            "frame_dir": self.frame_dir(index),
            "label": label,
            "total_frames": length,
            "img_shape": self.img_shape,
            "original_shape": self.img_shape,
            "keypoint": xy[None, :, sel].astype(np.float32),
            "keypoint_score": score[None, :, sel].astype(np.float32),
        }

    def _idle(self, pose: np.ndarray, rng: np.random.Generator, subject: _Subject) -> None:
        """Breathing, slow sway and small head/hand drift, in place on [T, P, 2] (output points)."""
        length = pose.shape[0]
        t = np.arange(length) / self.fps
        breath = 0.012 * np.sin(2 * np.pi * t / subject.breath_period + rng.uniform(0, 2 * np.pi))
        walks = _smooth_walks(rng, length, 4, 25)  # [4, T, 2]
        weights = _IDLE_WEIGHTS[:, self._points]  # [5, P]: elementwise, the same for any P
        pose[..., 1] -= breath[:, None] * weights[4]
        for k in range(4):
            pose += walks[k][:, None, :] * weights[k][None, :, None]

    def _detect(
        self, pose: np.ndarray, rng: np.random.Generator, subject: _Subject
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pixels, detector noise, scores and lost points of the simulated output points.

        Random numbers are drawn for the points every built-in layout uses first, then for the
        layout's other points, so a layout's points do not depend on which others are simulated.

        Returns:
            (xy float64 [T, P, 2], score float32 [T, P]) for ``self._points`` (P points).
        """
        length = pose.shape[0]
        stretches = []
        for _ in range(2):  # each hand vanishes for a stretch now and then
            start, stop = np.sort(rng.integers(0, length + 1, size=2))
            stretches.append((int(start), int(stop), bool(rng.uniform() < 0.15)))
        blocks = [  # per block: x, y and score noise [T, n, 3], then uniforms [T, n]
            (
                rng.standard_normal((length, n, 3), dtype=np.float32),
                rng.random((length, n), dtype=np.float32),
            )
            for n in self._blocks
        ]
        normal = np.concatenate([b[0] for b in blocks], axis=1)  # [T, P, 3]
        uniform = np.concatenate([b[1] for b in blocks], axis=1)  # [T, P]
        pts = self._points
        sigma = _SIGMA[pts] * (self.noise * subject.noise)
        xy = subject.neck + subject.scale * (pose + normal[..., :2] * sigma[:, None])
        score = np.clip(_BASE_SCORE[pts] + 0.08 * normal[..., 2], 0.05, 1.0)
        lost = uniform < self.drop_prob * subject.drop
        lost |= _IS_LEG[pts] & (uniform > 0.4)
        for (start, stop, vanish), fingers in zip(stretches, (_R_FINGERS, _L_FINGERS), strict=True):
            if vanish:
                lost[start:stop] |= fingers[pts]
        h, w = self.img_shape
        lost |= (xy[..., 0] < 0) | (xy[..., 0] > w - 1) | (xy[..., 1] < 0) | (xy[..., 1] > h - 1)
        xy[lost] = 0.0
        score[lost] = 0.0
        return xy, score


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out["keypoint"] = item["keypoint"].copy()
    out["keypoint_score"] = item["keypoint_score"].copy()
    return out
