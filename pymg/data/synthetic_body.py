"""The body of the synthetic subjects: OpenPose-137 point groups, the resting pose, each micro-
gesture's motion and smooth random walks (shared by :mod:`pymg.data.synthetic` and
:mod:`pymg.data.synthetic_imigue`).

Poses are in template units (:func:`pymg.topology.openpose_template`: y downwards, the subject's
left at x > 0, shoulders about one unit apart): the resting pose is ``[137, 2]``, and a motion
function adds its displacement to a clip's poses ``[T, 137, 2]`` in place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pymg.topology import list_layouts, openpose_template, resolve_layout

__all__ = ["MOTION_CLASSES"]

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


def _smooth_walks(rng: np.random.Generator, length: int, count: int, width: int) -> np.ndarray:
    """[count, T, 2] smooth random drifts with standard deviation about 1."""
    steps = rng.standard_normal((count * 2, length + 2 * width))
    kernel = np.hanning(2 * width + 1)
    kernel /= np.sqrt((kernel**2).sum())
    windows = np.lib.stride_tricks.sliding_window_view(steps, 2 * width + 1, axis=1)
    out = windows[:, :length] @ kernel  # [count * 2, T]
    return out.reshape(count, 2, length).transpose(0, 2, 1)
