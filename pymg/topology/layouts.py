"""Named skeleton layouts (COCO-17, OpenPose-18, NTU-25, hand-21, iMiGUE 22/41), template poses."""

from __future__ import annotations

import dataclasses

import numpy as np

from pymg.topology.openpose import OPENPOSE_FACE_OFFSET as _F
from pymg.topology.openpose import openpose_template
from pymg.topology.skeleton import Skeleton, _derive_limb_sides

__all__ = [
    "COCO17",
    "COCO17_PYSKL",
    "HAND21",
    "IMIGUE22",
    "IMIGUE41",
    "KINECT25",
    "NTU25",
    "OPENPOSE18",
    "PYSKL_LAYOUT_NAMES",
    "get_layout",
    "list_layouts",
    "template_pose",
]

_COCO_NAMES = (
    "nose", "eye_l", "eye_r", "ear_l", "ear_r", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r",
    "wrist_l", "wrist_r", "hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r",
)  # fmt: skip
# The OpenPose body-25 point each COCO keypoint semantically equals.
_COCO_SOURCE = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
_COCO_LEFT = (1, 3, 5, 7, 9, 11, 13, 15)
_COCO_RIGHT = (2, 4, 6, 8, 10, 12, 14, 16)

COCO17 = Skeleton(
    name="coco17",
    joints=_COCO_NAMES,
    limbs=(
        (0, 1),
        (0, 2),
        (1, 3),
        (2, 4),
        (0, 5),
        (5, 7),
        (7, 9),
        (0, 6),
        (6, 8),
        (8, 10),
        (5, 11),
        (11, 13),
        (13, 15),
        (6, 12),
        (12, 14),
        (14, 16),
        (11, 12),
    ),  # fmt: skip
    left_joints=_COCO_LEFT,
    right_joints=_COCO_RIGHT,
    left_limbs=(0, 2, 4, 5, 6, 10, 11, 12),
    right_limbs=(1, 3, 7, 8, 9, 13, 14, 15),
    center=0,
    source_indices=_COCO_SOURCE,
)
"""COCO-17 with PYSKL ``GeneratePoseTarget``'s default limb order; center = nose (as PYSKL)."""

COCO17_PYSKL = Skeleton(
    name="coco17_pyskl",
    joints=_COCO_NAMES,
    limbs=(
        (0, 5),
        (0, 6),
        (5, 7),
        (7, 9),
        (6, 8),
        (8, 10),
        (5, 11),
        (11, 13),
        (13, 15),
        (6, 12),
        (12, 14),
        (14, 16),
        (0, 1),
        (0, 2),
        (1, 3),
        (2, 4),
        (11, 12),
    ),  # fmt: skip
    left_joints=_COCO_LEFT,
    right_joints=_COCO_RIGHT,
    left_limbs=(0, 2, 3, 6, 7, 8, 12, 14),
    right_limbs=(1, 4, 5, 9, 10, 11, 13, 15),
    center=0,
    source_indices=_COCO_SOURCE,
)
"""COCO-17 with the limb order of PYSKL's limb configs (pretrained limb checkpoints need it)."""

OPENPOSE18 = Skeleton.from_openpose(
    "openpose18",
    source_indices=(0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18),
    limbs=(
        (4, 3),
        (3, 2),
        (7, 6),
        (6, 5),
        (13, 12),
        (12, 11),
        (10, 9),
        (9, 8),
        (11, 5),
        (8, 2),
        (5, 1),
        (2, 1),
        (0, 1),
        (15, 0),
        (14, 0),
        (17, 15),
        (16, 14),
    ),  # fmt: skip
    center=1,
)
"""The OpenPose COCO-18 body (ST-GCN's ``openpose`` layout): every joint is a body-25 point."""

_IMIGUE22_SOURCE = (0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 18, 120, 124, 128, 132, 136,
                    99, 103, 107, 111, 115)  # fmt: skip
_IMIGUE22_LIMBS = (
    ((1, 0), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (0, 8), (8, 10), (0, 9), (9, 11))
    + tuple((4, 12 + k) for k in range(5))
    + tuple((7, 17 + k) for k in range(5))
)

IMIGUE22 = Skeleton.from_openpose(
    "imigue22", source_indices=_IMIGUE22_SOURCE, limbs=_IMIGUE22_LIMBS, center=1
)
"""The 22-joint upper body used for iMiGUE (body, eyes, ears, ten fingertips); center = neck."""

# The 19 face points of imigue41: (face-70 index, name).
_FACE_POINTS = (
    (2, "cheek_r"), (4, "jaw_r"), (8, "chin"), (12, "jaw_l"), (14, "cheek_l"),
    (17, "brow_r_outer"), (19, "brow_r_mid"), (21, "brow_r_inner"),
    (22, "brow_l_inner"), (24, "brow_l_mid"), (26, "brow_l_outer"),
    (48, "lip_corner_r"), (50, "lip_upper_r"), (51, "lip_upper_center"), (52, "lip_upper_l"),
    (54, "lip_corner_l"), (56, "lip_lower_l"), (57, "lip_lower_center"), (58, "lip_lower_r"),
)  # fmt: skip
_FACE_LIMBS = (
    ((22, 23), (23, 24), (24, 25), (25, 26))  # jaw chain f2-f4-f8-f12-f14
    + ((27, 28), (28, 29), (30, 31), (31, 32))  # brows f17-f19-f21, f22-f24-f26
    + tuple((33 + k, 33 + (k + 1) % 8) for k in range(8))  # lip ring f48-50-51-52-54-56-57-58
    + ((0, 29), (0, 30), (8, 28), (9, 31))  # nose -> inner brows, eyes -> mid brows
    + (
        (0, 35),
        (39, 24),
        (10, 22),
        (11, 26),
    )  # nose -> upper lip, lower lip -> chin, ears -> cheeks
)

IMIGUE41 = Skeleton.from_openpose(
    "imigue41",
    source_indices=_IMIGUE22_SOURCE + tuple(_F + f for f, _ in _FACE_POINTS),
    joint_names=IMIGUE22.joints + tuple(name for _, name in _FACE_POINTS),
    limbs=_IMIGUE22_LIMBS + _FACE_LIMBS,
    center=1,
)
"""pymg's 41-joint layout: :data:`IMIGUE22` + 19 face points (jaw/cheeks, brows, lips)."""

_NTU_NAMES = (
    "spine_base", "spine_mid", "neck", "head", "shoulder_l", "elbow_l", "wrist_l", "hand_l",
    "shoulder_r", "elbow_r", "wrist_r", "hand_r", "hip_l", "knee_l", "ankle_l", "foot_l",
    "hip_r", "knee_r", "ankle_r", "foot_r", "spine_shoulder", "hand_tip_l", "thumb_l",
    "hand_tip_r", "thumb_r",
)  # fmt: skip
# (child, parent) pairs, the inward orientation of PYSKL's ``nturgb+d`` graph (0-based)
_NTU_LIMBS = (
    (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
    (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
    (19, 18), (21, 7), (22, 7), (23, 11), (24, 11),
)  # fmt: skip
_NTU_LEFT = (4, 5, 6, 7, 12, 13, 14, 15, 21, 22)
_NTU_RIGHT = (8, 9, 10, 11, 16, 17, 18, 19, 23, 24)
_NTU_LEFT_LIMBS, _NTU_RIGHT_LIMBS = _derive_limb_sides(_NTU_LIMBS, _NTU_LEFT, _NTU_RIGHT, 25)

NTU25 = Skeleton(
    name="ntu25",
    joints=_NTU_NAMES,
    limbs=_NTU_LIMBS,
    left_joints=_NTU_LEFT,
    right_joints=_NTU_RIGHT,
    left_limbs=_NTU_LEFT_LIMBS,
    right_limbs=_NTU_RIGHT_LIMBS,
    center=20,
)
"""NTU RGB+D's 25 Kinect joints (PYSKL ``nturgb+d``); center = spine at the shoulders."""

KINECT25 = dataclasses.replace(NTU25, name="kinect25")
"""The 25 joints of the Kinect v2 SDK in its own order (SpineBase, SpineMid, Neck, Head,
ShoulderLeft ... ThumbRight), as the SMG release's skeleton files hold them. NTU RGB+D was
recorded with the same sensor, so the joints, edges and mirror pairs are :data:`NTU25`'s; the
name says where the data comes from, and ``joint_index_map`` maps either onto the other by name.
"Left" is the subject's left. Center = SpineShoulder (20)."""

_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_HAND_NAMES = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger in _FINGERS
    for part in (("cmc", "mcp", "ip", "tip") if finger == "thumb" else ("mcp", "pip", "dip", "tip"))
)

HAND21 = Skeleton(
    name="hand21",
    joints=_HAND_NAMES,
    # (child, parent): each finger is a chain of 4 points hanging from the wrist
    limbs=tuple((1 + 4 * f + k, 4 * f + k if k else 0) for f in range(5) for k in range(4)),
    left_joints=(),
    right_joints=(),
    left_limbs=(),
    right_limbs=(),
    center=0,
)
"""The 21-point hand of OpenPose and MediaPipe (PYSKL ``handmp``): wrist, then 4 points per finger
from the thumb to the little finger; center = wrist. One hand: no left/right pairs."""

PYSKL_LAYOUT_NAMES: dict[str, str] = {
    "coco": "coco17",
    "openpose": "openpose18",
    "nturgb+d": "ntu25",
    "handmp": "hand21",
}
"""PYSKL / mmaction2 ``graph_cfg`` layout names and the pymg layout each one is."""

_LAYOUTS: dict[str, Skeleton] = {
    s.name: s
    for s in (COCO17, COCO17_PYSKL, OPENPOSE18, IMIGUE22, IMIGUE41, NTU25, KINECT25, HAND21)
}

# Template poses of the layouts that are not OpenPose points: (x, y), y downwards, the subject's
# left at x > 0, shoulders about one unit apart (as openpose_template).
_NTU_TEMPLATE = (
    (0.0, 1.6), (0.0, 0.8), (0.0, -0.25), (0.0, -0.6), (0.5, 0.05), (0.65, 0.75), (0.7, 1.35),
    (0.72, 1.5), (-0.5, 0.05), (-0.65, 0.75), (-0.7, 1.35), (-0.72, 1.5), (0.3, 1.6),
    (0.32, 2.5), (0.33, 3.3), (0.35, 3.45), (-0.3, 1.6), (-0.32, 2.5), (-0.33, 3.3),
    (-0.35, 3.45), (0.0, 0.0), (0.74, 1.7), (0.6, 1.55), (-0.74, 1.7), (-0.6, 1.55),
)  # fmt: skip
_HAND_TEMPLATE = ((0.0, 0.0),) + tuple(
    (x0 + dx * k, y0 - dy * k)
    for x0, y0, dx, dy in (
        (-0.35, -0.2, -0.15, 0.18),
        (-0.25, -0.8, 0.0, 0.22),
        (-0.05, -0.85, 0.0, 0.25),
        (0.15, -0.8, 0.0, 0.22),
        (0.33, -0.7, 0.02, 0.17),
    )
    for k in range(4)
)
_TEMPLATES: dict[str, tuple[tuple[float, float], ...]] = {
    "ntu25": _NTU_TEMPLATE,
    "kinect25": _NTU_TEMPLATE,
    "hand21": _HAND_TEMPLATE,
}


def list_layouts() -> list[str]:
    """Names accepted by :func:`resolve_layout` (lower case; any case is accepted)."""
    return list(_LAYOUTS)


OPENPOSE137 = "openpose137"
"""Name of raw OpenPose-137 keypoints (body-25, face-70, left hand-21, right hand-21): not a
layout but a joint set a layout selects from by its ``source_indices`` (``source_layout``)."""


def resolve_layout(layout: str | Skeleton) -> Skeleton:
    """The :class:`Skeleton` of a layout name (case-insensitive) or a Skeleton (unchanged).

    The one place a layout name becomes a Skeleton. PYSKL's names (:data:`PYSKL_LAYOUT_NAMES`:
    ``"coco"``, ``"openpose"``, ``"nturgb+d"``, ``"handmp"``) are accepted as well.

    Raises:
        TypeError: ``layout`` is neither a str nor a Skeleton.
        ValueError: an unknown name; the message lists the known ones (``"openpose137"``
            included, with what it is: raw points that a layout selects from).
    """
    if isinstance(layout, Skeleton):
        return layout
    if not isinstance(layout, str):
        raise TypeError(f"layout must be a Skeleton or a layout name, got {type(layout).__name__}")
    key = layout.strip().lower()
    found = _LAYOUTS.get(PYSKL_LAYOUT_NAMES.get(key, key))
    if found is not None:
        return found
    if key == OPENPOSE137:
        raise ValueError(
            f"layout: {OPENPOSE137!r} names the raw OpenPose-137 points, not a layout the model "
            f"can use; expected one of {list_layouts()} (each selects its joints from the 137 "
            "points by its source_indices; give 'openpose137' as the source layout)"
        )
    raise ValueError(
        f"unknown layout {layout!r}; expected one of {list_layouts()}, a PYSKL name "
        f"{list(PYSKL_LAYOUT_NAMES)}, or {OPENPOSE137!r} for raw points (source layouts only)"
    )


get_layout = resolve_layout
"""Former name of :func:`resolve_layout` (the same function)."""


def template_pose(layout: str | Skeleton) -> np.ndarray:
    """Canonical 2D position of every joint: a front-facing seated upper body.

    Args:
        layout: a :class:`Skeleton` or layout name.

    Returns:
        float64 array [V, 2] of (x, y) in template units (neck at the origin, y downwards,
        shoulders one unit apart; see :func:`pymg.topology.openpose_template`). ``ntu25`` and
        ``hand21`` have their own drawn templates (the hand: wrist at the origin, fingers up);
        other layouts without ``source_indices`` get their joints on a circle.
    """
    skeleton = get_layout(layout)
    if skeleton.source_indices is not None:
        return openpose_template()[list(skeleton.source_indices)]
    drawn = _TEMPLATES.get(skeleton.name)
    if drawn is not None and _LAYOUTS[skeleton.name] == skeleton:
        return np.array(drawn, dtype=np.float64)
    angle = 2.0 * np.pi * np.arange(skeleton.num_joints) / skeleton.num_joints
    return np.stack([np.sin(angle), -np.cos(angle)], axis=1)
