"""The OpenPose-137 point set: names, left/right mirror and a canonical 2D template pose.

OpenPose (BODY_25 + face + hands) writes 137 points per person and frame:

============  ==========  ==================================================
137-index     part        numbering
============  ==========  ==================================================
0-24          body-25     0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8 mid
                          hip, 9-14 legs, 15/16 eyes, 17/18 ears, 19-24 feet
25-94         face-70     face point ``f`` is 137-index ``25 + f``
95-115        left hand   hand point ``k`` is ``95 + k``
116-136       right hand  hand point ``k`` is ``116 + k``
============  ==========  ==================================================

"Right" and "left" are the subject's own sides: for a subject facing the camera the right side
appears on the image's left (smaller x).

The template (:func:`openpose_template`) is a front-facing, seated upper body with the hands
resting in the lap, in *template units*: the neck is the origin, ``x`` grows to the image right,
``y`` grows downwards (image convention) and the shoulders are one unit apart. It is exactly
mirror-symmetric: ``template[OPENPOSE_MIRROR] == template * (-1, 1)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "OPENPOSE_FACE_OFFSET",
    "OPENPOSE_LEFT_HAND_OFFSET",
    "OPENPOSE_MIRROR",
    "OPENPOSE_NAMES",
    "OPENPOSE_NUM_POINTS",
    "OPENPOSE_RIGHT_HAND_OFFSET",
    "openpose_template",
]

OPENPOSE_NUM_POINTS = 137
OPENPOSE_FACE_OFFSET = 25
OPENPOSE_LEFT_HAND_OFFSET = 95
OPENPOSE_RIGHT_HAND_OFFSET = 116

_BODY25_NAMES = (
    "nose", "neck", "shoulder_r", "elbow_r", "wrist_r", "shoulder_l", "elbow_l", "wrist_l",
    "hip_mid", "hip_r", "knee_r", "ankle_r", "hip_l", "knee_l", "ankle_l", "eye_r", "eye_l",
    "ear_r", "ear_l", "big_toe_l", "small_toe_l", "heel_l", "big_toe_r", "small_toe_r", "heel_r",
)  # fmt: skip
_BODY25_MIRROR_PAIRS = (
    (2, 5), (3, 6), (4, 7), (9, 12), (10, 13), (11, 14), (15, 16), (17, 18), (22, 19), (23, 20),
    (24, 21),
)  # fmt: skip
# face-70 (right, left) pairs; 8 (chin), 27-30 (nose bridge), 33, 51, 57, 62, 66 are central.
_FACE_MIRROR_PAIRS = (
    tuple((k, 16 - k) for k in range(8))
    + tuple((17 + k, 26 - k) for k in range(5))
    + ((31, 35), (32, 34))
    + ((36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46))
    + ((48, 54), (49, 53), (50, 52), (59, 55), (58, 56))
    + ((60, 64), (61, 63), (67, 65), (68, 69))
)
_HAND_PART_NAMES = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger, parts in (
        ("thumb", ("cmc", "mcp", "ip", "tip")),
        ("index", ("mcp", "pip", "dip", "tip")),
        ("middle", ("mcp", "pip", "dip", "tip")),
        ("ring", ("mcp", "pip", "dip", "tip")),
        ("pinky", ("mcp", "pip", "dip", "tip")),
    )
    for part in parts
)


def _build_names() -> tuple[str, ...]:
    names = list(_BODY25_NAMES)
    names += [f"face_{f:02d}" for f in range(70)]
    names += [f"hand_{part}_l" for part in _HAND_PART_NAMES]
    names += [f"hand_{part}_r" for part in _HAND_PART_NAMES]
    # Hand tips are named like the body joints they are used as ("thumb_tip_r").
    return tuple(n.replace("hand_", "", 1) if n.endswith(("tip_l", "tip_r")) else n for n in names)


def _build_mirror() -> tuple[int, ...]:
    perm = list(range(OPENPOSE_NUM_POINTS))
    pairs = list(_BODY25_MIRROR_PAIRS)
    pairs += [(OPENPOSE_FACE_OFFSET + a, OPENPOSE_FACE_OFFSET + b) for a, b in _FACE_MIRROR_PAIRS]
    pairs += [(OPENPOSE_RIGHT_HAND_OFFSET + k, OPENPOSE_LEFT_HAND_OFFSET + k) for k in range(21)]
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


OPENPOSE_NAMES: tuple[str, ...] = _build_names()
"""Name of each of the 137 OpenPose points (``"shoulder_r"``, ``"face_48"``, ``"index_tip_l"``)."""

OPENPOSE_MIRROR: tuple[int, ...] = _build_mirror()
"""Left/right mirror of each OpenPose-137 point (an involution; central points are fixed)."""


def _right_body_and_face() -> dict[int, tuple[float, float]]:
    """Template positions of the body-25 and face-70 points on the centre line or the right side."""
    nose_y = -0.45
    pos: dict[int, tuple[float, float]] = {
        0: (0.0, nose_y), 1: (0.0, 0.0), 2: (-0.5, 0.03), 3: (-0.64, 0.66), 4: (-0.36, 0.96),
        8: (0.0, 1.28), 9: (-0.26, 1.28), 10: (-0.34, 1.6), 11: (-0.34, 2.3), 15: (-0.085, -0.53),
        17: (-0.21, -0.5), 22: (-0.28, 2.4), 23: (-0.4, 2.38), 24: (-0.34, 2.33),
    }  # fmt: skip
    face: dict[int, tuple[float, float]] = {}
    for k in range(9):  # jaw: an elliptic arc from the right ear level to the chin
        angle = np.pi * k / 16.0
        face[k] = (-0.19 * float(np.cos(angle)), -0.52 + 0.26 * float(np.sin(angle)))
    face[8] = (0.0, -0.26)  # the chin, exactly central
    for k, (x, y) in enumerate([(-0.155, -0.585), (-0.125, -0.602), (-0.09, -0.607),
                                (-0.058, -0.6), (-0.03, -0.59)]):  # fmt: skip
        face[17 + k] = (x, y)
    for k, y in enumerate((-0.55, -0.52, -0.49, -0.462)):
        face[27 + k] = (0.0, y)
    face.update({31: (-0.035, -0.43), 32: (-0.018, -0.425), 33: (0.0, -0.422)})
    face.update({36: (-0.12, -0.53), 37: (-0.097, -0.542), 38: (-0.073, -0.542),
                 39: (-0.05, -0.53), 40: (-0.073, -0.52), 41: (-0.097, -0.52)})  # fmt: skip
    face.update({48: (-0.065, -0.365), 49: (-0.04, -0.378), 50: (-0.018, -0.386),
                 51: (0.0, -0.382), 57: (0.0, -0.334), 58: (-0.018, -0.337),
                 59: (-0.04, -0.344)})  # fmt: skip
    face.update({60: (-0.05, -0.364), 61: (-0.018, -0.369), 62: (0.0, -0.368),
                 66: (0.0, -0.36), 67: (-0.018, -0.36), 68: (-0.085, -0.53)})  # fmt: skip
    for f, xy in face.items():
        pos[OPENPOSE_FACE_OFFSET + f] = xy
    return pos


def _right_hand(wrist: tuple[float, float]) -> dict[int, tuple[float, float]]:
    """Template of the right hand (hand-21 numbering) resting in the lap, fingers inwards-down."""
    w = np.asarray(wrist, dtype=np.float64)
    u = np.array([0.42, 0.9]) / np.hypot(0.42, 0.9)  # along the hand
    p = np.array([u[1], -u[0]])  # towards the thumb (up and inwards)
    pts: dict[int, tuple[float, float]] = {0: (float(w[0]), float(w[1]))}

    def chain(start: np.ndarray, direction: np.ndarray, lengths: tuple[float, ...], first: int):
        point = start
        for j, length in enumerate(lengths):
            point = point + length * direction
            pts[first + j] = (float(point[0]), float(point[1]))

    thumb_dir = 0.55 * u + 0.85 * p
    chain(w, thumb_dir / np.linalg.norm(thumb_dir), (0.035, 0.045, 0.04, 0.035), 1)
    for finger in range(4):  # index, middle, ring, pinky
        spread = (1.5 - finger) * 0.17
        direction = np.cos(spread) * u + np.sin(spread) * p
        base = w + 0.14 * u + (0.05 - 0.033 * finger) * p
        pts[5 + 4 * finger] = (float(base[0]), float(base[1]))
        lengths = (0.07, 0.045, 0.04) if finger != 3 else (0.05, 0.035, 0.03)
        chain(base, direction, lengths, 6 + 4 * finger)
    return pts


def openpose_template() -> np.ndarray:
    """Canonical front-facing seated pose of all OpenPose-137 points.

    Returns:
        float64 array [137, 2] of (x, y) in template units (neck at the origin, y downwards,
        shoulder width 1). A fresh copy each call.
    """
    pos = _right_body_and_face()
    pos.update({OPENPOSE_RIGHT_HAND_OFFSET + k: xy for k, xy in _right_hand(pos[4]).items()})
    out = np.full((OPENPOSE_NUM_POINTS, 2), np.nan)
    for i, xy in pos.items():
        out[i] = xy
    mirror = np.asarray(OPENPOSE_MIRROR)
    missing = np.isnan(out[:, 0])
    out[missing] = out[mirror[missing]] * np.array([-1.0, 1.0])
    if np.isnan(out).any():  # pragma: no cover - guarded by the tests
        raise RuntimeError("incomplete OpenPose template")
    return out
