"""The :class:`Skeleton` dataclass: joints, limbs, left/right symmetry and a center joint."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pymg.topology.openpose import (
    OPENPOSE_MIRROR,
    OPENPOSE_NAMES,
    OPENPOSE_NUM_POINTS,
    openpose_template,
)

__all__ = ["Skeleton"]


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}") from None


def _int_tuple(values: Any, what: str) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of ints, got {type(values).__name__}")
    return tuple(_as_int(v, f"{what}[{i}]") for i, v in enumerate(values))


def _pair_tuple(values: Any, what: str) -> tuple[tuple[int, int], ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{what} must be a sequence of (int, int) pairs, got {type(values).__name__}"
        )
    out = []
    for i, pair in enumerate(values):
        items = _int_tuple(pair, f"{what}[{i}]")
        if len(items) != 2:
            raise ValueError(f"{what}[{i}] must be a pair (a, b), got {pair!r}")
        out.append((items[0], items[1]))
    return tuple(out)


def _check_unique(values: Sequence[int], what: str) -> None:
    seen: set[int] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} contains {v} twice")
        seen.add(v)


def _check_range(values: Sequence[int], upper: int, what: str) -> None:
    for i, v in enumerate(values):
        if not 0 <= v < upper:
            raise ValueError(f"{what}[{i}] = {v} is out of range [0, {upper})")


@dataclass(frozen=True, repr=False)
class Skeleton:
    """A skeleton layout: ``V`` named joints, ``L`` limbs, left/right symmetry and a center joint.

    Validated on construction (lists are converted to tuples of ints); every problem raises a
    ``ValueError``/``TypeError`` naming the field.

    Attributes:
        name: layout name.
        joints: ``V`` unique joint names; joint ``v`` is channel ``v`` of joint heatmaps.
        limbs: ``L`` pairs ``(a, b)`` of joint indices (``a != b``, no pair twice in either
            orientation); limb ``l`` is channel ``l`` of limb heatmaps.
        left_joints / right_joints: paired joint indices, ``right_joints[i]`` is the mirror of
            ``left_joints[i]`` (the subject's own left/right); joints in neither are central.
        left_limbs / right_limbs: paired limb indices, ``limbs[right_limbs[i]]`` is the mirror of
            ``limbs[left_limbs[i]]`` under the joint mirror (in either orientation); every limb in
            neither list must be its own mirror (like ``(neck, nose)`` or ``(hip_l, hip_r)``).
        center: the center joint used by ST-GCN's spatial partition; must be central.
        source_indices: for each joint, the OpenPose-137 point it is read from (or semantically
            equals), or ``None``.
    """

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    left_joints: tuple[int, ...]
    right_joints: tuple[int, ...]
    left_limbs: tuple[int, ...]
    right_limbs: tuple[int, ...]
    center: int
    source_indices: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        if isinstance(self.joints, (str, bytes)) or not isinstance(self.joints, Iterable):
            raise TypeError(f"joints must be a sequence of str, got {type(self.joints).__name__}")
        joints = tuple(self.joints)
        for i, j in enumerate(joints):
            if not isinstance(j, str) or not j:
                raise TypeError(f"joints[{i}] must be a non-empty str, got {j!r}")
        if not joints:
            raise ValueError("joints must not be empty")
        if len(set(joints)) != len(joints):
            dup = sorted({j for j in joints if joints.count(j) > 1})
            raise ValueError(f"joints must have unique names, repeated: {dup}")
        set_ = object.__setattr__
        set_(self, "joints", joints)
        set_(self, "limbs", _pair_tuple(self.limbs, "limbs"))
        for field in ("left_joints", "right_joints", "left_limbs", "right_limbs"):
            set_(self, field, _int_tuple(getattr(self, field), field))
        set_(self, "center", _as_int(self.center, "center"))
        if self.source_indices is not None:
            set_(self, "source_indices", _int_tuple(self.source_indices, "source_indices"))
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        v_count, l_count = len(self.joints), len(self.limbs)
        seen: dict[frozenset[int], int] = {}
        for i, (a, b) in enumerate(self.limbs):
            _check_range((a, b), v_count, f"limbs[{i}]")
            if a == b:
                raise ValueError(f"limbs[{i}] = ({a}, {b}) connects a joint to itself")
            key = frozenset((a, b))
            if key in seen:
                raise ValueError(f"limbs[{i}] = ({a}, {b}) duplicates limbs[{seen[key]}]")
            seen[key] = i
        self._check_sides(self.left_joints, self.right_joints, v_count, "joints")
        self._check_sides(self.left_limbs, self.right_limbs, l_count, "limbs")
        if not 0 <= self.center < v_count:
            raise ValueError(f"center = {self.center} is out of range [0, {v_count})")
        if self.center in self.left_joints or self.center in self.right_joints:
            raise ValueError(
                f"center = {self.center} ({self.joints[self.center]!r}) must be a central joint, "
                "not in left_joints/right_joints"
            )
        perm = self.joint_flip_perm
        for i, (a, b) in enumerate(self.limbs):
            mirrored = frozenset((perm[a], perm[b]))
            if mirrored not in seen:
                raise ValueError(
                    f"limbs[{i}] = ({a}, {b}) has no mirror limb ({perm[a]}, {perm[b]}) in limbs"
                )
        sided = set(self.left_limbs) | set(self.right_limbs)
        for left, right in zip(self.left_limbs, self.right_limbs, strict=True):
            a, b = self.limbs[left]
            if frozenset((perm[a], perm[b])) != frozenset(self.limbs[right]):
                raise ValueError(
                    f"left_limbs/right_limbs pair limbs[{left}] = {self.limbs[left]} with "
                    f"limbs[{right}] = {self.limbs[right]}, "
                    f"but its mirror is ({perm[a]}, {perm[b]})"
                )
        for field, other in (
            ("left_limbs", set(self.right_joints)),
            ("right_limbs", set(self.left_joints)),
        ):
            own = set(self.left_joints) if field == "left_limbs" else set(self.right_joints)
            for k, i in enumerate(getattr(self, field)):
                ends = set(self.limbs[i])
                if ends & other and not ends & own:
                    side = "right" if field == "left_limbs" else "left"
                    raise ValueError(
                        f"{field}[{k}] = {i} is limb {self.limbs[i]}, which lies on the {side} side"
                    )
        for i, (a, b) in enumerate(self.limbs):
            if i not in sided and frozenset((perm[a], perm[b])) != frozenset((a, b)):
                raise ValueError(
                    f"limbs[{i}] = ({a}, {b}) is not its own mirror ({perm[a]}, {perm[b]}) and "
                    "so must be listed in left_limbs or right_limbs"
                )
        if self.source_indices is not None:
            if len(self.source_indices) != v_count:
                raise ValueError(
                    f"source_indices must have one entry per joint ({v_count}), "
                    f"got {len(self.source_indices)}"
                )
            _check_range(self.source_indices, OPENPOSE_NUM_POINTS, "source_indices")
            _check_unique(self.source_indices, "source_indices")

    @staticmethod
    def _check_sides(left: tuple[int, ...], right: tuple[int, ...], upper: int, kind: str) -> None:
        if len(left) != len(right):
            raise ValueError(
                f"left_{kind} and right_{kind} must have the same length, "
                f"got {len(left)} and {len(right)}"
            )
        _check_range(left, upper, f"left_{kind}")
        _check_range(right, upper, f"right_{kind}")
        _check_unique(left, f"left_{kind}")
        _check_unique(right, f"right_{kind}")
        both = sorted(set(left) & set(right))
        if both:
            raise ValueError(f"left_{kind} and right_{kind} must be disjoint, both contain {both}")

    # ------------------------------------------------------------------ derived views
    @property
    def num_joints(self) -> int:
        """``V``, the number of joints."""
        return len(self.joints)

    @property
    def num_limbs(self) -> int:
        """``L``, the number of limbs."""
        return len(self.limbs)

    @property
    def joint_flip_perm(self) -> tuple[int, ...]:
        """Length-``V`` involution: joint ``v`` of a mirrored skeleton is joint ``perm[v]``."""
        perm = list(range(len(self.joints)))
        for a, b in zip(self.left_joints, self.right_joints, strict=True):
            perm[a], perm[b] = b, a
        return tuple(perm)

    @property
    def limb_flip_perm(self) -> tuple[int, ...]:
        """Length-``L`` involution swapping ``left_limbs[i]`` with ``right_limbs[i]``."""
        perm = list(range(len(self.limbs)))
        for a, b in zip(self.left_limbs, self.right_limbs, strict=True):
            perm[a], perm[b] = b, a
        return tuple(perm)

    def index(self, joint: str) -> int:
        """Index of the joint called ``joint`` (``ValueError`` when there is none)."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise ValueError(f"joint {joint!r} is not in layout {self.name!r}") from None

    def __repr__(self) -> str:
        return (
            f"Skeleton({self.name!r}, V={self.num_joints}, L={self.num_limbs}, "
            f"center={self.center} ({self.joints[self.center]}), "
            f"{len(self.left_joints)} mirrored joint pairs, "
            f"openpose={'yes' if self.source_indices is not None else 'no'})"
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_openpose(
        cls,
        name: str,
        source_indices: Sequence[int],
        joint_names: Sequence[str] | None = None,
        limbs: Sequence[tuple[int, int]] = (),
        mirror_pairs: Sequence[tuple[int, int]] | None = None,
        center: int = 1,
    ) -> Skeleton:
        """Build a layout that reads the OpenPose-137 points ``source_indices``.

        Args:
            name: layout name.
            source_indices: ``V`` OpenPose-137 indices; joint ``v`` is point ``source_indices[v]``.
            joint_names: ``V`` names; default the OpenPose names (``"shoulder_r"``, ``"face_48"``).
            limbs: ``L`` pairs of *layout* joint indices (``0 <= a, b < V``).
            mirror_pairs: ``(right, left)`` pairs of layout joint indices; default: derived from
                the OpenPose mirror (every joint whose mirror point is not in the layout must then
                be central, else ``ValueError``).
            center: layout index of the center joint (default 1, the neck of OpenPose layouts).

        Returns:
            the validated :class:`Skeleton`; ``left_limbs``/``right_limbs`` are derived from the
            joint mirror: a non-self-mirror limb touching a left joint (and no right joint) is
            left, its mirror right; pairs are ordered by their smaller limb index.
        """
        src = _int_tuple(source_indices, "source_indices")
        _check_range(src, OPENPOSE_NUM_POINTS, "source_indices")
        _check_unique(src, "source_indices")
        names = tuple(OPENPOSE_NAMES[s] for s in src) if joint_names is None else joint_names
        limb_pairs = _pair_tuple(limbs, "limbs")
        if mirror_pairs is None:
            where = {s: v for v, s in enumerate(src)}
            template_x = openpose_template()[:, 0]
            pairs = []
            for v, s in enumerate(src):
                m = OPENPOSE_MIRROR[s]
                if m == s:
                    continue
                if m not in where:
                    raise ValueError(
                        f"source_indices[{v}] = {s} ({OPENPOSE_NAMES[s]}) needs its mirror point "
                        f"{m} ({OPENPOSE_NAMES[m]}) in the layout, or pass mirror_pairs explicitly"
                    )
                if template_x[s] < 0.0:  # the subject's right appears on the image left
                    pairs.append((v, where[m]))
            pairs.sort(key=lambda p: min(p))
        else:
            pairs = list(_pair_tuple(mirror_pairs, "mirror_pairs"))
            _check_unique([v for pair in pairs for v in pair], "mirror_pairs")
        right = tuple(p[0] for p in pairs)
        left = tuple(p[1] for p in pairs)
        left_limbs, right_limbs = _derive_limb_sides(limb_pairs, left, right, len(src))
        return cls(
            name=name,
            joints=tuple(names),
            limbs=limb_pairs,
            left_joints=left,
            right_joints=right,
            left_limbs=left_limbs,
            right_limbs=right_limbs,
            center=center,
            source_indices=src,
        )

    def subset(self, joints: Sequence[int], name: str | None = None) -> Skeleton:
        """The layout restricted to ``joints`` (in that order), keeping the limbs among them.

        Args:
            joints: layout indices to keep; must contain the center and each kept joint's mirror.
            name: name of the new layout (default ``"<name>_subset"``).

        Returns:
            a new :class:`Skeleton` with ``V' = len(joints)``; limbs, left/right lists (in their
            original order) and source indices are remapped.
        """
        keep = _int_tuple(joints, "joints")
        _check_range(keep, self.num_joints, "joints")
        _check_unique(keep, "joints")
        where = {v: i for i, v in enumerate(keep)}
        if self.center not in where:
            raise ValueError(f"joints must contain the center joint {self.center}")
        perm = self.joint_flip_perm
        for v in keep:
            if perm[v] not in where:
                raise ValueError(
                    f"joints contains {v} ({self.joints[v]}) but not its mirror {perm[v]}"
                )
        limb_map: dict[int, int] = {}
        limbs: list[tuple[int, int]] = []
        for i, (a, b) in enumerate(self.limbs):
            if a in where and b in where:
                limb_map[i] = len(limbs)
                limbs.append((where[a], where[b]))
        sides = [(a, b) for a, b in zip(self.left_limbs, self.right_limbs, strict=True)]
        kept_sides = [(limb_map[a], limb_map[b]) for a, b in sides if a in limb_map]
        side_joints = [
            (where[a], where[b]) for a, b in zip(self.left_joints, self.right_joints, strict=True)
            if a in where
        ]  # fmt: skip
        return replace(
            self,
            name=name if name is not None else f"{self.name}_subset",
            joints=tuple(self.joints[v] for v in keep),
            limbs=tuple(limbs),
            left_joints=tuple(p[0] for p in side_joints),
            right_joints=tuple(p[1] for p in side_joints),
            left_limbs=tuple(p[0] for p in kept_sides),
            right_limbs=tuple(p[1] for p in kept_sides),
            center=where[self.center],
            source_indices=None
            if self.source_indices is None
            else tuple(self.source_indices[v] for v in keep),
        )


def _derive_limb_sides(
    limbs: tuple[tuple[int, int], ...],
    left: tuple[int, ...],
    right: tuple[int, ...],
    num_joints: int,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Pair every non-self-mirror limb with its mirror: returns ``(left_limbs, right_limbs)``."""
    _check_range(left, num_joints, "mirror_pairs")
    _check_range(right, num_joints, "mirror_pairs")
    perm = list(range(num_joints))
    for a, b in zip(left, right, strict=True):
        perm[a], perm[b] = b, a
    lookup = {frozenset(limb): i for i, limb in enumerate(limbs)}
    left_set, right_set = set(left), set(right)
    pairs: list[tuple[int, int]] = []
    done: set[int] = set()
    for i, (a, b) in enumerate(limbs):
        if i in done or a == b:
            continue
        m = lookup.get(frozenset((perm[a], perm[b])))
        if m is None:
            raise ValueError(f"limbs[{i}] = ({a}, {b}) has no mirror limb ({perm[a]}, {perm[b]})")
        if m == i:
            continue
        done.update((i, m))
        touches_right = a in right_set or b in right_set
        touches_left = a in left_set or b in left_set
        pairs.append((m, i) if touches_right and not touches_left else (i, m))
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
