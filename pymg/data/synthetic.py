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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from pymg.checks import check_int
from pymg.topology import Skeleton, list_layouts, openpose_template, resolve_layout

__all__ = ["MOTION_CLASSES", "SyntheticMicroGestures"]

_F, _LH, _RH = 25, 95, 116
_HEAD = np.array([0, 15, 16, 17, 18, *range(_F, _F + 70)])
_R_HAND = np.array([4, *range(_RH, _RH + 21)])
_L_HAND = np.array([7, *range(_LH, _LH + 21)])
_UPPER = np.array([*range(0, 8), *range(15, 19), *range(_F, 137)])  # all but hips/legs/feet
_LEGS = np.array([*range(8, 15), *range(19, 25)])
_HANDS = np.arange(_LH, 137)
_FACE = np.arange(_F, _F + 70)
_TEMPLATE = openpose_template()
# the points of every built-in layout: their random numbers are drawn first
_CORE_POINTS = tuple(
    sorted({p for n in list_layouts() for p in resolve_layout(n).source_indices or ()})
)
_SIGMA = np.full(137, 0.006)  # detector noise, template units
_SIGMA[_FACE], _SIGMA[_HANDS] = 0.0025, 0.009
_BASE_SCORE = np.full(137, 0.85, dtype=np.float32)
_BASE_SCORE[_FACE], _BASE_SCORE[_HANDS], _BASE_SCORE[_LEGS] = 0.75, 0.55, 0.2
_IS_LEG = np.isin(np.arange(137), _LEGS)
_R_FINGERS = np.isin(np.arange(137), _R_HAND[1:])
_L_FINGERS = np.isin(np.arange(137), _L_HAND[1:])
_UPPER_WEIGHT = (~_IS_LEG).astype(np.float64)  # sway moves the upper body
_IDLE_WEIGHTS = np.stack(  # [5, 137]: sway, head, right hand, left hand drift; breathing
    [
        0.03 * _UPPER_WEIGHT,
        0.012 * np.isin(np.arange(137), _HEAD),
        0.01 * np.isin(np.arange(137), _R_HAND),
        0.01 * np.isin(np.arange(137), _L_HAND),
        np.where(np.arange(137) < 8, 1.0, 0.6) * _UPPER_WEIGHT,
    ]
)


def _face(*points: int) -> np.ndarray:
    return np.array(points) + _F


_UPPER_LIP = _face(49, 50, 51, 52, 53, 61, 62, 63)
_LOWER_LIP = _face(55, 56, 57, 58, 59, 65, 66, 67)
_LIP_CORNERS = _face(48, 54, 60, 64)
_MOUTH = np.arange(_F + 48, _F + 68)
_BROWS = np.arange(_F + 17, _F + 27)
_JAW = np.arange(_F, _F + 17)


class _Motion:
    """The random draws of one clip's gesture, identical whatever the class."""

    def __init__(self, rng: np.random.Generator, length: int, fps: float) -> None:
        duration = rng.uniform(0.35, 0.85) * length
        start = rng.uniform(0.0, 1.0) * (length - duration)
        self.amp = rng.uniform(0.6, 1.3)
        self.freq = rng.uniform(2.0, 4.5) / fps * 2.0 * np.pi  # oscillation, radians per frame
        self.phase = rng.uniform(0.0, 2.0 * np.pi)
        self.side = 1.0 if rng.uniform() < 0.5 else -1.0
        self.jitter = rng.normal(0.0, 1.0, size=4)
        t = np.arange(length, dtype=np.float64)
        ramp = max(duration * rng.uniform(0.15, 0.35), 1.0)
        rise = np.clip((t - start) / ramp, 0.0, 1.0)
        fall = np.clip((start + duration - t) / ramp, 0.0, 1.0)
        self.env = 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))  # [T] in [0, 1]
        self.t = t

    def wave(self) -> np.ndarray:
        """[T] oscillation in [-1, 1] active while the gesture is held."""
        return np.sin(self.freq * self.t + self.phase) * self.env**2


def _reach(
    pose: np.ndarray,
    m: _Motion,
    hand: np.ndarray,
    elbow: int,
    wrist_to: tuple[float, float],
    point_to: tuple[float, float],
    elbow_to: tuple[float, float],
) -> None:
    """Move a hand (rigidly, rotating it to point along ``point_to``) and its elbow."""
    env = m.env[:, None]
    rest = pose[0]
    wrist = hand[0]
    direction = rest[hand[9]] - rest[wrist]  # wrist -> middle finger base
    angle = np.arctan2(point_to[1], point_to[0]) - np.arctan2(direction[1], direction[0])
    angle = (angle + np.pi) % (2.0 * np.pi) - np.pi
    a = angle * m.env
    cos, sin = np.cos(a)[:, None], np.sin(a)[:, None]
    rel = pose[:, hand] - pose[:, wrist : wrist + 1]
    rotated = np.stack(
        [cos * rel[..., 0] - sin * rel[..., 1], sin * rel[..., 0] + cos * rel[..., 1]], -1
    )
    target = np.asarray(wrist_to) + 0.02 * m.jitter[:2]
    pose[:, hand] = pose[:, wrist : wrist + 1] + rotated + env[:, None] * (target - rest[wrist])
    pose[:, elbow] += env * (np.asarray(elbow_to) - rest[elbow])


def _touch_cheek(pose: np.ndarray, m: _Motion) -> None:
    _reach(pose, m, _R_HAND, 3, (-0.2, -0.2), (0.15, -1.0), (-0.5, 0.3))
    pose[:, _R_HAND, 1] += 0.012 * m.amp * m.wave()[:, None]


def _press_lips(pose: np.ndarray, m: _Motion) -> None:
    e = m.amp * m.env[:, None]
    pose[:, _UPPER_LIP, 1] += 0.02 * e
    pose[:, _LOWER_LIP, 1] -= 0.02 * e
    pose[:, _LIP_CORNERS, 0] -= 0.012 * e * np.sign(pose[:1, _LIP_CORNERS, 0])


def _raise_brows(pose: np.ndarray, m: _Motion) -> None:
    pose[:, _BROWS, 1] -= 0.045 * m.amp * m.env[:, None]


def _shrug(pose: np.ndarray, m: _Motion) -> None:
    e = m.amp * m.env[:, None]
    pose[:, [2, 5], 1] -= 0.13 * e
    pose[:, [3, 6], 1] -= 0.07 * e
    pose[:, _HANDS, 1] -= 0.03 * e
    pose[:, [4, 7], 1] -= 0.03 * e
    pose[:, [1], 1] -= 0.05 * e
    pose[:, _HEAD, 1] -= 0.03 * e


def _open_mouth(pose: np.ndarray, m: _Motion) -> None:
    e = m.amp * m.env[:, None]
    weight = np.sin(np.pi * np.arange(17) / 16.0) ** 2  # chin moves most
    pose[:, _JAW, 1] += 0.055 * e * weight[None, :]
    pose[:, _LOWER_LIP, 1] += 0.06 * e
    pose[:, _LIP_CORNERS, 1] += 0.015 * e


def _puff_cheeks(pose: np.ndarray, m: _Motion) -> None:
    e = m.amp * m.env[:, None]
    weight = np.sin(np.pi * np.arange(17) / 16.0) * (np.arange(17) % 16 != 0)
    pose[:, _JAW, 0] += 0.04 * e * weight[None, :] * np.sign(pose[:1, _JAW, 0])
    centre = pose[:, _MOUTH].mean(axis=1, keepdims=True)
    pose[:, _MOUTH] += 0.4 * e[:, :, None] * (centre - pose[:, _MOUTH])


def _head_up(pose: np.ndarray, m: _Motion) -> None:
    e = m.amp * m.env[:, None]
    nose_y = pose[:, 0:1, 1]
    pose[:, _HEAD, 1] = nose_y + (pose[:, _HEAD, 1] - nose_y) * (1.0 - 0.3 * e)
    pose[:, [17, 18], 1] += 0.04 * e
    pose[:, _HEAD, 1] -= 0.06 * e


def _fold_arms(pose: np.ndarray, m: _Motion) -> None:
    _reach(pose, m, _R_HAND, 3, (0.3, 0.55), (1.0, -0.3), (-0.45, 0.62))
    _reach(pose, m, _L_HAND, 6, (-0.3, 0.62), (-1.0, -0.3), (0.45, 0.66))


def _scratch_head(pose: np.ndarray, m: _Motion) -> None:
    _reach(pose, m, _R_HAND, 3, (-0.18, -0.66), (0.35, -1.0), (-0.8, -0.15))
    pose[:, _R_HAND, 0] += 0.03 * m.amp * m.wave()[:, None]


def _touch_jaw(pose: np.ndarray, m: _Motion) -> None:
    _reach(pose, m, _L_HAND, 6, (0.06, -0.08), (-0.2, -1.0), (0.42, 0.42))


def _move_torso(pose: np.ndarray, m: _Motion) -> None:
    a = 0.12 * m.amp * m.side * m.env
    pivot = pose[0, 8]
    rel = pose[:, _UPPER] - pivot
    cos, sin = np.cos(a)[:, None], np.sin(a)[:, None]
    pose[:, _UPPER, 0] = pivot[0] + cos * rel[..., 0] - sin * rel[..., 1]
    pose[:, _UPPER, 1] = pivot[1] + sin * rel[..., 0] + cos * rel[..., 1]


def _rub_hands(pose: np.ndarray, m: _Motion) -> None:
    _reach(pose, m, _R_HAND, 3, (-0.1, 0.8), (1.0, 0.3), (-0.6, 0.62))
    _reach(pose, m, _L_HAND, 6, (0.1, 0.82), (-1.0, 0.3), (0.6, 0.62))
    w = 0.035 * m.amp * m.wave()[:, None]
    pose[:, _R_HAND, 1] += w
    pose[:, _L_HAND, 1] -= w


MOTION_CLASSES: tuple[tuple[str, bool, Callable[[np.ndarray, _Motion], None]], ...] = (
    ("touching cheek", False, _touch_cheek),
    ("pressing lips", True, _press_lips),
    ("raising eyebrows", True, _raise_brows),
    ("shrugging shoulders", False, _shrug),
    ("opening mouth", True, _open_mouth),
    ("puffing cheeks", True, _puff_cheeks),
    ("head up", False, _head_up),
    ("folding arms", False, _fold_arms),
    ("scratching head", False, _scratch_head),
    ("touching jaw", False, _touch_jaw),
    ("moving torso", False, _move_torso),
    ("rubbing hands", False, _rub_hands),
)
"""(name, moves only face points, motion function) of every synthetic class, in label order."""


class _Subject:
    """Per-subject body proportions, framing and detector quality (drawn once per subject)."""

    def __init__(self, rng: np.random.Generator, img_shape: tuple[int, int]) -> None:
        h, w = img_shape
        self.scale = rng.uniform(0.24, 0.34) * h  # pixels per template unit (shoulder width)
        self.neck = np.array([w * rng.uniform(0.38, 0.62), h * rng.uniform(0.3, 0.4)])
        self.shoulders = rng.uniform(0.9, 1.1)
        self.head = rng.uniform(0.9, 1.1)
        self.noise = rng.uniform(0.6, 1.4)
        self.drop = rng.uniform(0.3, 1.5)
        self.breath_period = rng.uniform(3.0, 5.0)  # seconds


def _rest_pose(subject: _Subject, rng: np.random.Generator) -> np.ndarray:
    """[137, 2] resting pose of one clip in template units."""
    pose = _TEMPLATE.copy()
    pose[:, 0] *= subject.shoulders
    pose[_HEAD] = pose[0] + (pose[_HEAD] - pose[0]) * subject.head
    for hand, elbow in ((_R_HAND, 3), (_L_HAND, 6)):
        shift = rng.normal(0.0, 0.04, size=2)
        pose[hand] += shift
        pose[elbow] += 0.5 * shift
    return pose


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
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int or slice, got {type(index).__name__}")
        i = int(index) + (len(self) if index < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
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
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
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


def _smooth_walks(rng: np.random.Generator, length: int, count: int, width: int) -> np.ndarray:
    """[count, T, 2] smooth random drifts with standard deviation about 1."""
    steps = rng.standard_normal((count * 2, length + 2 * width))
    kernel = np.hanning(2 * width + 1)
    kernel /= np.sqrt((kernel**2).sum())
    windows = np.lib.stride_tricks.sliding_window_view(steps, 2 * width + 1, axis=1)
    out = windows[:, :length] @ kernel  # [count * 2, T]
    return out.reshape(count, 2, length).transpose(0, 2, 1)


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    out["keypoint"] = item["keypoint"].copy()
    out["keypoint_score"] = item["keypoint_score"].copy()
    return out
