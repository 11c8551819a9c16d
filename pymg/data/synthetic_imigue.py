"""An iMiGUE-like synthetic set: 32 long-tailed classes, subtle motions, OpenPose-like noise.

:class:`SyntheticIMiGUE` imitates the statistics of iMiGUE (359 press-conference videos, 72
seated tennis players, 18,499 clips at 1280x720 and 25 fps) that matter to a skeleton model:

* **classes**: iMiGUE's 32 class names (:data:`pymg.labels.IMIGUE_CLASSES`), with iMiGUE's
  long-tailed class frequencies (the MiGA'23 training split, :data:`IMIGUE_TRAIN_COUNTS`) scaled
  down to ``num_clips`` (at least ``min_per_class`` clips per class); class 31 "illustrative body
  language" (speech-accompanying hand and head movement) is the majority class (29%);
* **motions**: one seated upper body per subject (random proportions and framing); *subtle*
  classes (face, head, shoulders, torso posture) move their points by a peak of a few pixels
  (:data:`SUBTLE_PEAK_PX`); hand-to-body classes move the hand to the touched part (tens to a few
  hundred pixels, as in the videos). Face gestures move the face-70 points and raise the nose,
  eyes and ears of the 22-joint layout by a third of the face points' mean displacement, so
  whether 41 joints beat 22 is left to the measurement;
* **noise** (OpenPose-like): Gaussian jitter in pixels (:data:`JITTER_PX`, times a per-subject
  factor in [0.6, 1.4]), points lost per frame, whole frames lost, stretches of frames without
  face points, hands whose fingers vanish, and stretches where the left and right hand point sets
  are swapped (rates in :data:`NOISE_RATES`); lost points are ``(0, 0)`` with score 0;
* **clip lengths**: log-normal, median 2.0 s, mean about 2.5 s, clipped to [0.4 s, 12 s];
* **subjects** are the split unit: subjects in a (train, train, test) pattern, about two thirds
  of the subjects and clips train, every class with at least one train and one test clip.

The gesture never changes a random draw: ``generate(i, gesture=False)`` is the same clip with the
gesture left out, so the gesture's displacement can be measured exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pymg.checks import check_int
from pymg.data.synthetic import (
    _HANDS,
    _HEAD,
    _L_HAND,
    _R_HAND,
    _UPPER,
    LazyClips,
    _Motion,
    _move_torso,
    _press_lips,
    _puff_cheeks,
    _reach,
    _rest_pose,
    _smooth_walks,
    _Subject,
)
from pymg.labels.imigue import IMIGUE_CLASSES
from pymg.topology import Skeleton, resolve_layout

__all__ = [
    "IMIGUE_TRAIN_COUNTS",
    "JITTER_PX",
    "NOISE_RATES",
    "SUBTLE_PEAK_PX",
    "SyntheticIMiGUE",
    "imigue_class_counts",
]

IMIGUE_TRAIN_COUNTS: tuple[int, ...] = (
    10, 418, 39, 207, 80, 23, 64, 858, 87, 3, 302, 154, 97, 41, 28, 27,
    322, 83, 2, 942, 170, 373, 657, 700, 11, 287, 87, 60, 1237, 6, 2272, 4023,
)  # fmt: skip
"""Clips per class (0-based 0..31) of iMiGUE's MiGA'23 training split (13,670 clips)."""

SUBTLE_PEAK_PX = (3.0, 12.0)
"""Range (pixels at 720p) of the peak displacement of the subtle classes (face, head, shoulders,
torso posture); drawn uniformly per clip."""

JITTER_PX = {"body": 1.5, "face": 0.8, "hands": 2.5}
"""Standard deviation (pixels) of the per-frame detector jitter, before the subject's factor."""

NOISE_RATES = {
    "point_drop": 0.01,  # a point lost in a frame (times a per-subject factor in [0.3, 1.5])
    "frame_drop": 0.02,  # a whole frame lost (every point)
    "no_face_clip": 0.3,  # a clip has one stretch (5-30% of its frames) without face points
    "hand_vanish_clip": 0.15,  # per hand: its fingers vanish for a random stretch
    "hand_swap_clip": 0.08,  # a clip has one stretch where left and right hand points swap
}
"""Probabilities of the detector failures (see the module docstring)."""

_F = 25
_FACE = np.arange(_F, _F + 70)
_FACE22 = np.array([0, 15, 16, 17, 18])  # nose, eyes, ears: the face points of imigue22
_SIDE_OF_137 = np.zeros(137, dtype=np.int64)  # 0 body, 1 face, 2 hands
_SIDE_OF_137[_FACE], _SIDE_OF_137[_HANDS] = 1, 2
_JITTER = np.array([JITTER_PX["body"], JITTER_PX["face"], JITTER_PX["hands"]])[_SIDE_OF_137]
_SCORE = np.array([0.8, 0.7, 0.5], dtype=np.float32)[_SIDE_OF_137]
_LEGS = np.array([*range(8, 15), *range(19, 25)])
_SWAP = np.arange(137)
_SWAP[_R_HAND[1:]], _SWAP[_L_HAND[1:]] = _L_HAND[1:], _R_HAND[1:]


# ----------------------------------------------------------------------------- gestures
class _ClipMotion(_Motion):
    """:class:`_Motion` plus three smooth random walks ``[3, T, 2]`` (illustrative movement)."""

    def __init__(self, rng: np.random.Generator, length: int, fps: float) -> None:
        super().__init__(rng, length, fps)
        self.walks = _smooth_walks(rng, length, 3, 8)


def _face_and_head(pose: np.ndarray, rest: np.ndarray) -> None:
    """Raise nose, eyes and ears by a third of the face-70 points' mean displacement length."""
    moved = np.linalg.norm(pose[:, _FACE] - rest[_FACE], axis=-1).mean(axis=1)  # [T]
    pose[:, _FACE22, 1] -= moved[:, None] / 3.0


def _turtle_neck(pose: np.ndarray, m: _Motion) -> None:
    e = m.env[:, None]
    pose[:, _HEAD, 1] += 0.06 * e
    pose[:, [2, 5], 1] -= 0.04 * e


def _bulging_face(pose: np.ndarray, m: _Motion) -> None:
    _puff_cheeks(pose, m)
    pose[:, [1, 2, 5], 1] -= 0.02 * m.env[:, None]  # deep breath: chest up


def _sit_straight(pose: np.ndarray, m: _Motion) -> None:
    e = m.env[:, None]
    pose[:, _UPPER, 1] -= 0.05 * e
    pose[:, [2, 3], 0] += 0.03 * e
    pose[:, [5, 6], 0] -= 0.03 * e


def _head_up(pose: np.ndarray, m: _Motion) -> None:
    e = m.env[:, None]
    nose_y = pose[:, 0:1, 1]
    pose[:, _HEAD, 1] = nose_y + (pose[:, _HEAD, 1] - nose_y) * (1.0 - 0.3 * e)
    pose[:, _HEAD, 1] -= 0.05 * e


def _shake_shoulders(pose: np.ndarray, m: _Motion) -> None:
    w = m.wave()
    pose[:, [2, 3], 1] += 0.04 * w[:, None]
    pose[:, [5, 6], 1] -= 0.04 * w[:, None]


def _illustrative(pose: np.ndarray, m: _Motion) -> None:
    """Speech-accompanying movement: both hands wander in front of the body, the head nods."""
    walks = m.walks if isinstance(m, _ClipMotion) else np.zeros((3, len(m.t), 2))
    for k, (hand, elbow) in enumerate(((_R_HAND, 3), (_L_HAND, 6))):
        move = 0.12 * walks[k] * m.env[:, None]
        move[:, 1] -= 0.15 * m.env  # hands lifted off the lap
        pose[:, hand] += move[:, None]
        pose[:, elbow] += 0.5 * move
    pose[:, _HEAD, 1] += 0.02 * walks[2][:, 1:2] * m.env[:, None]


def _reacher(
    hand: str, wrist: tuple[float, float], point: tuple[float, float], wiggle: float = 0.0
) -> Callable[[np.ndarray, _Motion], None]:
    """A gesture moving one hand (``"r"``/``"l"``) or both (``"b"``, mirrored) to ``wrist``."""

    def gesture(pose: np.ndarray, m: _Motion) -> None:
        sides = {"r": [(_R_HAND, 3, 1.0)], "l": [(_L_HAND, 6, -1.0)]}
        for points, elbow, sign in sides.get(hand, sides["r"] + sides["l"]):
            flip = sign if hand == "b" else 1.0
            to = (flip * wrist[0], wrist[1])
            elbow_to = (to[0] * 0.6 - 0.5 * sign, (to[1] + 0.66) / 2.0)
            _reach(pose, m, points, elbow, to, (flip * point[0], point[1]), elbow_to)
            if wiggle:
                pose[:, points, 0] += wiggle * m.wave()[:, None]

    return gesture


# (kind, motion) per class, in IMIGUE_CLASSES order. kind: "face" (subtle, face points),
# "subtle" (head / shoulders / torso, a few pixels), "hand" (hand-to-body, natural distances).
_GESTURES: tuple[tuple[str, Callable[[np.ndarray, _Motion], None]], ...] = (
    ("subtle", _turtle_neck),  # turtle neck
    ("face", _bulging_face),  # bulging face, deep breath
    ("hand", _reacher("r", (-0.1, -0.85), (0.3, -1.0))),  # touching hat
    ("hand", _reacher("r", (-0.18, -0.66), (0.35, -1.0), 0.03)),  # touching or scratching head
    ("hand", _reacher("r", (-0.05, -0.5), (0.5, -1.0), 0.02)),  # ... forehead
    ("hand", _reacher("b", (-0.08, -0.3), (0.1, -1.0))),  # covering face
    ("hand", _reacher("r", (-0.1, -0.4), (0.3, -1.0), 0.015)),  # rubbing eyes
    ("hand", _reacher("r", (-0.2, -0.2), (0.15, -1.0), 0.012)),  # touching facial parts
    ("hand", _reacher("r", (-0.3, -0.38), (0.0, -1.0))),  # touching ears
    ("hand", _reacher("r", (-0.02, -0.2), (0.2, -1.0), 0.01)),  # biting nails
    ("hand", _reacher("l", (0.06, -0.08), (-0.2, -1.0))),  # touching jaw
    ("hand", _reacher("r", (-0.05, -0.02), (0.4, -1.0), 0.015)),  # touching or scratching neck
    ("hand", _reacher("r", (-0.28, -0.62), (0.2, -1.0), 0.03)),  # playing or adjusting hair
    ("hand", _reacher("b", (-0.06, 0.12), (0.5, -1.0), 0.01)),  # collar, tie
    ("hand", _reacher("r", (0.0, 0.08), (0.3, -1.0))),  # suprasternal notch
    ("hand", _reacher("r", (0.35, 0.05), (0.5, -1.0), 0.02)),  # scratching back
    ("hand", _reacher("b", (0.3, 0.55), (1.0, -0.3))),  # folding arms
    ("hand", _reacher("r", (0.25, 0.4), (1.0, 0.2), 0.04)),  # dustoffing clothes
    ("hand", _reacher("b", (-0.62, 1.05), (0.0, 1.0))),  # putting arms behind body
    ("subtle", _move_torso),  # moving torso
    ("subtle", _sit_straight),  # sitting straightly
    ("hand", _reacher("r", (0.45, 0.3), (1.0, 0.0), 0.02)),  # scratching or touching arms
    ("hand", _reacher("b", (-0.1, 0.8), (1.0, 0.3), 0.02)),  # rubbing or holding hands
    ("hand", _reacher("b", (-0.05, 0.75), (0.6, 0.8))),  # crossing fingers
    ("hand", _reacher("b", (-0.07, 0.45), (0.2, -1.0))),  # minaret gesture
    ("hand", _reacher("r", (-0.15, 0.75), (1.0, 0.0), 0.03)),  # playing with objects
    ("hand", _reacher("b", (-0.55, 0.75), (0.3, 1.0))),  # hold back arms
    ("subtle", _head_up),  # head up
    ("face", _press_lips),  # pressing lips
    ("hand", _reacher("b", (-0.5, 0.85), (0.5, 0.6))),  # arms akimbo
    ("subtle", _shake_shoulders),  # shaking shoulders
    ("hand", _illustrative),  # illustrative body language
)


def imigue_class_counts(num_clips: int, min_per_class: int = 3) -> list[int]:
    """iMiGUE's training class counts scaled to ``num_clips`` in all (largest remainder).

    Every class gets at least ``min_per_class`` clips; the rest follows
    :data:`IMIGUE_TRAIN_COUNTS`. Returns a list of 32 counts summing to ``num_clips``.

    Raises:
        ValueError: ``num_clips < 32 * min_per_class``.
    """
    k = len(IMIGUE_TRAIN_COUNTS)
    check_int(min_per_class, "min_per_class", minimum=1)
    if (
        isinstance(num_clips, bool)
        or not isinstance(num_clips, int)
        or num_clips < k * min_per_class
    ):
        raise ValueError(f"num_clips must be an int >= {k * min_per_class}, got {num_clips!r}")
    freq = np.asarray(IMIGUE_TRAIN_COUNTS, dtype=np.float64)
    freq /= freq.sum()
    counts = np.full(k, min_per_class)
    free = np.flatnonzero(freq * num_clips > min_per_class)  # classes above the floor
    budget = num_clips - min_per_class * (k - len(free))
    share = freq[free] / freq[free].sum() * budget
    counts[free] = np.floor(share).astype(int)
    order = free[np.argsort(-(share - np.floor(share)), kind="stable")]
    for i in range(budget - int(counts[free].sum())):
        counts[order[i % len(order)]] += 1
    return [int(c) for c in counts]


class SyntheticIMiGUE(LazyClips):
    """A deterministic iMiGUE-like set of PYSKL annotation dicts (see the module docstring).

    Clip ``i``'s random numbers come from ``numpy.random.default_rng([seed, 11, i])`` and its
    subject's from ``[seed, 12, subject]``: clips are generated lazily, in any order, and the same
    clip of two layouts agrees on every point they share.

    Args:
        num_clips: N, at least ``32 * min_per_class``; classes follow
            :func:`imigue_class_counts`.
        layout: layout name or :class:`~pymg.topology.Skeleton` with ``source_indices``.
        seed: base seed.
        num_subjects: S (>= 3); subject ``s`` (1-based) is a test subject when ``s % 3 == 0``.
        min_per_class: the fewest clips of a class (>= 3: each class has train and test clips).
        noise: factor on the jitter and on every detector-failure rate (0 = clean points).

    Items (``ds[i]``): ``{"frame_dir", "label", "subject", "total_frames": T, "img_shape": (720,
    1280), "original_shape", "keypoint": float32 [1, T, V, 2] (pixels), "keypoint_score": float32
    [1, T, V]}``; a fresh copy each time.

    Attributes:
        class_names: the 32 iMiGUE names.
        kinds: per class ``"face"``, ``"subtle"`` or ``"hand"``.
        labels: per clip, its class.
        subjects: per clip, its subject.
        splits: ``{"train", "test"}`` -> frame_dir lists.
    """

    fps = 25.0
    img_shape = (720, 1280)

    def __init__(
        self,
        num_clips: int = 800,
        layout: str | Skeleton = "imigue41",
        seed: int = 0,
        *,
        num_subjects: int = 18,
        min_per_class: int = 3,
        noise: float = 1.0,
    ) -> None:
        self.layout = resolve_layout(layout)
        if self.layout.source_indices is None:
            raise ValueError(f"layout {self.layout.name!r} needs source_indices (OpenPose-137)")
        check_int(num_subjects, "num_subjects", minimum=3)
        check_int(seed, "seed", minimum=0)
        if not 0 <= noise <= 5:
            raise ValueError(f"noise must be in [0, 5], got {noise!r}")
        if min_per_class < 3:
            raise ValueError(
                f"min_per_class must be >= 3 (train and test clips), got {min_per_class}"
            )
        counts = imigue_class_counts(num_clips, min_per_class)
        self.seed = int(seed)
        self.noise = float(noise)
        self.num_subjects = num_subjects
        self.num_classes = len(IMIGUE_CLASSES)
        self.class_names: tuple[str, ...] = IMIGUE_CLASSES
        self.kinds: tuple[str, ...] = tuple(g[0] for g in _GESTURES)
        # subjects s % 3 == 0 test, the others train; clip j of class k takes slot j + k of a
        # (train, train, test) pattern, so any 3 consecutive clips of a class hold a test clip
        train = [s for s in range(1, num_subjects + 1) if s % 3]
        test = [s for s in range(1, num_subjects + 1) if s % 3 == 0]
        self.labels: list[int] = []
        self.subjects: list[int] = []
        for k, count in enumerate(counts):
            for j in range(count):
                cycle, slot = divmod(j + k, 3)
                if slot == 2:
                    subject = test[(cycle + k) % len(test)]
                else:
                    subject = train[(2 * cycle + slot + k) % len(train)]
                self.labels.append(k)
                self.subjects.append(subject)
        self._select = np.asarray(self.layout.source_indices)
        self._cache: dict[int, dict[str, Any]] = {}
        self._subject_cache: dict[int, _Subject] = {}

    def __repr__(self) -> str:
        return (
            f"SyntheticIMiGUE(num_clips={len(self)}, layout={self.layout.name!r}, "
            f"seed={self.seed}, num_subjects={self.num_subjects})"
        )

    def frame_dir(self, index: int) -> str:
        """Name of clip ``index`` (``"imigue_s03_00042"``: subject 3, clip 42)."""
        return f"imigue_s{self.subjects[index]:02d}_{index:05d}"

    @property
    def splits(self) -> dict[str, list[str]]:
        """Cross-subject split ``{"train", "test"}`` -> frame_dir lists (test: subject % 3 == 0)."""
        out: dict[str, list[str]] = {"train": [], "test": []}
        for i, subject in enumerate(self.subjects):
            out["test" if subject % 3 == 0 else "train"].append(self.frame_dir(i))
        return out

    # ------------------------------------------------------------------ generation
    def _subject(self, subject: int) -> _Subject:
        if subject not in self._subject_cache:
            rng = np.random.default_rng([self.seed, 12, subject])
            self._subject_cache[subject] = _Subject(rng, self.img_shape)
        return self._subject_cache[subject]

    def generate(self, index: int, *, gesture: bool = True) -> dict[str, Any]:
        """Generate clip ``index`` from scratch; ``gesture=False`` leaves the gesture out (every
        random draw stays the same, so the difference is the gesture's displacement).

        Returns:
            the annotation dict (see the class docstring).
        """
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        label = self.labels[index]
        rng = np.random.default_rng([self.seed, 11, index])
        subject = self._subject(self.subjects[index])
        seconds = float(np.clip(rng.lognormal(np.log(2.0), 0.65), 0.4, 12.0))
        length = max(int(round(seconds * self.fps)), 2)
        rest = _rest_pose(subject, rng)
        pose = np.repeat(rest[None], length, axis=0)  # [T, 137, 2] template units
        motion = _ClipMotion(rng, length, self.fps)
        peak_px = rng.uniform(*SUBTLE_PEAK_PX)
        if gesture:
            kind, move = _GESTURES[label]
            moved = pose.copy()
            move(moved, motion)
            if kind == "face":
                _face_and_head(moved, rest)
            delta = moved - pose
            if kind in ("face", "subtle"):  # scale to a peak of peak_px pixels
                peak = float(np.linalg.norm(delta, axis=-1).max())
                if peak > 0:
                    delta *= peak_px / (subject.scale * peak)
            pose += delta
        self._idle(pose, rng, length)
        xy, score = self._detect(pose, rng, subject)
        sel = self._select
        return {
            "frame_dir": self.frame_dir(index),
            "label": label,
            "subject": self.subjects[index],
            "total_frames": length,
            "img_shape": self.img_shape,
            "original_shape": self.img_shape,
            "keypoint": xy[None, :, sel].astype(np.float32),
            "keypoint_score": score[None, :, sel].astype(np.float32),
        }

    def _idle(self, pose: np.ndarray, rng: np.random.Generator, length: int) -> None:
        """Breathing and a slow sway of the upper body (template units, in place)."""
        t = np.arange(length) / self.fps
        breath = 0.006 * np.sin(2 * np.pi * t / rng.uniform(3.0, 5.0) + rng.uniform(0, 2 * np.pi))
        sway = 0.012 * _smooth_walks(rng, length, 1, 25)[0]  # [T, 2]
        pose[:, _UPPER, 1] -= breath[:, None]
        pose[:, _UPPER] += sway[:, None, :]

    def _detect(
        self, pose: np.ndarray, rng: np.random.Generator, subject: _Subject
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pixels plus OpenPose-like failures: ``(xy float64 [T, 137, 2], score [T, 137])``."""
        length = pose.shape[0]
        rate = self.noise
        normal = rng.standard_normal((length, 137, 3))
        uniform = rng.random((length, 137))
        frame_u = rng.random(length)
        clip_u = rng.random(5)
        stretches = np.sort(rng.integers(0, length + 1, size=(4, 2)), axis=1)
        face_frac = rng.uniform(0.05, 0.3)
        xy = subject.neck + subject.scale * pose
        xy = xy + normal[..., :2] * (_JITTER * subject.noise * rate)[None, :, None]
        score = np.clip(_SCORE + 0.08 * normal[..., 2], 0.05, 1.0).astype(np.float32)
        if clip_u[0] < NOISE_RATES["hand_swap_clip"] * rate:  # the detector swaps the hands
            a, b = stretches[0]
            xy[a:b] = xy[a:b][:, _SWAP]
            score[a:b] = score[a:b][:, _SWAP]
        lost = uniform < NOISE_RATES["point_drop"] * subject.drop * rate
        lost[frame_u < NOISE_RATES["frame_drop"] * rate] = True
        lost[:, _LEGS] = True  # seated behind a table: no legs
        if clip_u[1] < NOISE_RATES["no_face_clip"] * rate:
            a = stretches[1][0]
            lost[a : a + max(1, int(round(face_frac * length))), _FACE] = True
        for u, (a, b), fingers in (
            (clip_u[2], stretches[2], _R_HAND[1:]),
            (clip_u[3], stretches[3], _L_HAND[1:]),
        ):
            if u < NOISE_RATES["hand_vanish_clip"] * rate:
                lost[a:b, fingers] = True
        h, w = self.img_shape
        lost |= (xy[..., 0] < 0) | (xy[..., 0] > w - 1) | (xy[..., 1] < 0) | (xy[..., 1] > h - 1)
        xy[lost] = 0.0
        score[lost] = 0.0
        return xy, score
