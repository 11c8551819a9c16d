"""Tests of pymg.topology: layouts, Skeleton validation, OpenPose tables and templates."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from pymg.topology import (
    COCO17,
    COCO17_PYSKL,
    IMIGUE22,
    IMIGUE41,
    OPENPOSE18,
    OPENPOSE_MIRROR,
    OPENPOSE_NAMES,
    Skeleton,
    get_layout,
    hop_distance,
    list_layouts,
    openpose_template,
    template_pose,
)

ALL = [get_layout(n) for n in list_layouts()]


def _mirror_limb(s: Skeleton, limb: tuple[int, int]) -> frozenset[int]:
    perm = s.joint_flip_perm
    return frozenset((perm[limb[0]], perm[limb[1]]))


def test_list_and_get_layouts() -> None:
    assert list_layouts() == [
        "coco17", "coco17_pyskl", "openpose18", "imigue22", "imigue41", "ntu25", "kinect25",
        "hand21",
    ]  # fmt: skip
    assert get_layout("imigue41") is IMIGUE41
    # PYSKL's graph_cfg layout names
    assert [get_layout(n).name for n in ("coco", "openpose", "nturgb+d", "handmp")] == [
        "coco17", "openpose18", "ntu25", "hand21",
    ]  # fmt: skip
    assert get_layout(IMIGUE22) is IMIGUE22
    with pytest.raises(ValueError, match="unknown layout 'nope'.*imigue41"):
        get_layout("nope")
    with pytest.raises(TypeError, match="layout must be a Skeleton or a layout name"):
        get_layout(3)  # type: ignore[arg-type]


def test_resolve_layout_is_case_insensitive_and_names_openpose137() -> None:
    from pymg.data.formats.joints import resolve_layout as data_resolve
    from pymg.engine.builders import resolve_layout as engine_resolve
    from pymg.topology import OPENPOSE137, resolve_layout

    assert get_layout is resolve_layout  # one function under both names
    assert data_resolve is resolve_layout and engine_resolve is resolve_layout
    assert resolve_layout("IMIGUE41") is IMIGUE41
    assert resolve_layout(" Coco ").name == "coco17"
    with pytest.raises(ValueError, match=r"unknown layout 'nope'; expected one of .*'openpose137'"):
        resolve_layout("nope")
    with pytest.raises(ValueError, match="'openpose137' names the raw OpenPose-137 points"):
        resolve_layout(OPENPOSE137.upper())


@pytest.mark.parametrize("s", ALL, ids=lambda s: s.name)
def test_layout_invariants(s: Skeleton) -> None:
    v, l_ = s.num_joints, s.num_limbs
    assert len(set(s.joints)) == v
    jp, lp = s.joint_flip_perm, s.limb_flip_perm
    assert sorted(jp) == list(range(v)) and sorted(lp) == list(range(l_))
    assert all(jp[jp[i]] == i for i in range(v))
    assert all(lp[lp[i]] == i for i in range(l_))
    for i, limb in enumerate(s.limbs):  # flipping a limb's joints gives the flipped limb
        assert frozenset(s.limbs[lp[i]]) == _mirror_limb(s, limb)
    assert jp[s.center] == s.center
    assert np.isfinite(hop_distance(s, None)).all(), "graph must be connected"
    # names: a joint and its mirror differ only by the _l/_r marker
    for a, b in zip(s.left_joints, s.right_joints, strict=True):
        assert re.sub(r"_l(?=_|$)", "_X", s.joints[a]) == re.sub(r"_r(?=_|$)", "_X", s.joints[b])
    # the template pose is mirror-symmetric under the layout's own flip (a lone hand is not)
    t = template_pose(s)
    assert t.shape == (v, 2) and len({tuple(p) for p in t}) == v
    if s.left_joints:
        np.testing.assert_allclose(t[list(jp)] * [-1, 1], t, atol=1e-12)
        assert (t[list(s.right_joints), 0] < 0).all() and (t[list(s.left_joints), 0] > 0).all()


def test_coco17_matches_reference() -> None:
    assert COCO17.limbs[:4] == ((0, 1), (0, 2), (1, 3), (2, 4))
    assert COCO17.left_limbs == (0, 2, 4, 5, 6, 10, 11, 12)
    assert COCO17.right_limbs == (1, 3, 7, 8, 9, 13, 14, 15)
    assert COCO17.left_joints == tuple(range(1, 17, 2))
    assert COCO17_PYSKL.limbs[0] == (0, 5) and COCO17_PYSKL.limbs[-1] == (11, 12)
    assert COCO17_PYSKL.left_limbs == (0, 2, 3, 6, 7, 8, 12, 14)
    assert {frozenset(x) for x in COCO17.limbs} == {frozenset(x) for x in COCO17_PYSKL.limbs}
    # PYSKL's flip of the COCO joint channels: 0, then pairs swapped
    assert COCO17.joint_flip_perm == (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
    for s in (COCO17, OPENPOSE18, IMIGUE41):  # the COCO/OpenPose names agree with OpenPose-137
        assert s.source_indices is not None
        for name, src in zip(s.joints, s.source_indices, strict=True):
            if src < 25:
                assert OPENPOSE_NAMES[src] == name


def test_imigue22_matches_reference() -> None:
    src = (0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 18, 120, 124, 128, 132, 136, 99, 103, 107, 111, 115)
    assert IMIGUE22.source_indices == src
    edges = {
        (1, 0),
        (1, 2),
        (2, 3),
        (3, 4),
        (1, 5),
        (5, 6),
        (6, 7),
        (0, 8),
        (8, 10),
        (0, 9),
        (9, 11),
    }
    edges |= {(4, 12 + k) for k in range(5)} | {(7, 17 + k) for k in range(5)}
    assert set(IMIGUE22.limbs) == edges and len(IMIGUE22.limbs) == len(edges)
    assert IMIGUE22.center == 1 and IMIGUE22.joints[1] == "neck"
    perm = IMIGUE22.joint_flip_perm
    assert perm[0] == 0 and perm[1] == 1, "nose and neck are central"
    expected = {2: 5, 3: 6, 4: 7, 8: 9, 10: 11} | {12 + k: 17 + k for k in range(5)}
    for a, b in expected.items():
        assert perm[a] == b and perm[b] == a
    assert IMIGUE22.joints[12] == "thumb_tip_r" and IMIGUE22.joints[21] == "pinky_tip_l"


def test_imigue41_extends_imigue22() -> None:
    assert IMIGUE41.num_joints == 41
    assert IMIGUE41.joints[:22] == IMIGUE22.joints
    assert IMIGUE41.source_indices is not None
    assert IMIGUE41.source_indices[:22] == IMIGUE22.source_indices
    face = (2, 4, 8, 12, 14, 17, 19, 21, 22, 24, 26, 48, 50, 51, 52, 54, 56, 57, 58)
    assert IMIGUE41.source_indices[22:] == tuple(25 + f for f in face)
    assert IMIGUE41.limbs[:21] == IMIGUE22.limbs
    assert IMIGUE41.subset(range(22), name="imigue22") == IMIGUE22
    perm = IMIGUE41.joint_flip_perm
    by_face = {f: 22 + k for k, f in enumerate(face)}
    pairs = [(2, 14), (4, 12), (17, 26), (19, 24), (21, 22), (48, 54), (50, 52), (56, 58)]
    for a, b in pairs:
        assert perm[by_face[a]] == by_face[b]
    for c in (8, 51, 57):
        assert perm[by_face[c]] == by_face[c]
    assert IMIGUE41.joints[24] == "chin" and IMIGUE41.joints[35] == "lip_upper_center"
    # the face points are wired: jaw chain, brows, lip ring
    limbs = {frozenset(x) for x in IMIGUE41.limbs}
    for chain in (
        (2, 4, 8, 12, 14),
        (17, 19, 21),
        (22, 24, 26),
        (48, 50, 51, 52, 54, 56, 57, 58, 48),
    ):
        for a, b in zip(chain, chain[1:], strict=False):
            assert frozenset((by_face[a], by_face[b])) in limbs


def test_openpose_tables() -> None:
    mirror = np.asarray(OPENPOSE_MIRROR)
    assert (mirror[mirror] == np.arange(137)).all()
    assert len(set(OPENPOSE_NAMES)) == 137
    central_face = {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}
    assert {f for f in range(70) if mirror[25 + f] == 25 + f} == central_face
    assert mirror[25 + 48] == 25 + 54 and mirror[25 + 17] == 25 + 26 and mirror[25 + 0] == 25 + 16
    assert mirror[116 + 4] == 95 + 4 and OPENPOSE_NAMES[120] == "thumb_tip_r"
    t = openpose_template()
    assert t.shape == (137, 2) and np.isfinite(t).all()
    np.testing.assert_array_equal(t[mirror] * [-1, 1], t)
    assert t[1].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(t[5, 0] - t[2, 0], 1.0)
    # the face is above the neck and below the eyes' brows: a plausible head
    assert t[25 + 8, 1] < 0 and t[25 + 19, 1] < t[15, 1] < t[0, 1] < t[25 + 51, 1] < t[25 + 8, 1]


def test_template_circle_without_source() -> None:
    s = dataclasses.replace(IMIGUE22, name="x", source_indices=None)
    t = template_pose(s)
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0)


def test_from_openpose_custom_layout() -> None:
    s = Skeleton.from_openpose(
        "arms", (1, 2, 3, 5, 6), limbs=((0, 1), (1, 2), (0, 3), (3, 4)), center=0
    )
    assert s.joints == ("neck", "shoulder_r", "elbow_r", "shoulder_l", "elbow_l")
    assert s.right_joints == (1, 2) and s.left_joints == (3, 4)
    assert s.left_limbs == (2, 3) and s.right_limbs == (0, 1)
    with pytest.raises(
        ValueError, match=r"source_indices\[1\] = 2 \(shoulder_r\) needs its mirror"
    ):
        Skeleton.from_openpose("bad", (1, 2), limbs=((0, 1),), center=0)
    explicit = Skeleton.from_openpose(
        "arms2", (1, 2, 3, 5, 6), ("n", "a", "b", "c", "d"), ((0, 1), (1, 2), (0, 3), (3, 4)),
        mirror_pairs=((1, 3), (2, 4)), center=0,
    )  # fmt: skip
    assert (
        explicit.joint_flip_perm == s.joint_flip_perm
        and explicit.limb_flip_perm == s.limb_flip_perm
    )
    with pytest.raises(ValueError, match=r"limbs\[0\] = \(0, 1\) has no mirror limb \(0, 2\)"):
        Skeleton.from_openpose("x", (1, 2, 5), limbs=((0, 1),), center=0)


def test_from_openpose_errors() -> None:
    limbs = ((0, 1), (0, 2))
    with pytest.raises(ValueError, match="mirror_pairs contains 1 twice"):
        Skeleton.from_openpose("x", (1, 2, 5), limbs=limbs, mirror_pairs=((1, 2), (1, 2)), center=0)
    with pytest.raises(ValueError, match=r"mirror_pairs\[0\] = 7 is out of range"):
        Skeleton.from_openpose("x", (1, 2, 5), limbs=limbs, mirror_pairs=((7, 2),), center=0)
    with pytest.raises(ValueError, match=r"source_indices\[1\] = 200 is out of range \[0, 137\)"):
        Skeleton.from_openpose("x", (1, 200), limbs=((0, 1),), center=0)
    with pytest.raises(ValueError, match="source_indices contains 2 twice"):
        Skeleton.from_openpose("x", (1, 2, 2), limbs=((0, 1),), center=0)
    with pytest.raises(ValueError, match="joints must have unique names"):
        Skeleton.from_openpose("x", (1, 2, 5), ("a", "b", "b"), limbs, center=0)


def test_subset_errors() -> None:
    with pytest.raises(ValueError, match="must contain the center joint 1"):
        IMIGUE22.subset([0, 2, 5])
    with pytest.raises(ValueError, match=r"contains 2 \(shoulder_r\) but not its mirror 5"):
        IMIGUE22.subset([0, 1, 2])
    sub = IMIGUE22.subset([1, 2, 5])
    assert sub.name == "imigue22_subset" and sub.limbs == ((0, 1), (0, 2))
    assert sub.left_limbs == (1,) and sub.right_limbs == (0,) and sub.center == 0


def _base(**kw: object) -> Skeleton:
    fields = dict(
        name="t", joints=("c", "a_r", "a_l"), limbs=((0, 1), (0, 2)), left_joints=(2,),
        right_joints=(1,), left_limbs=(1,), right_limbs=(0,), center=0, source_indices=None,
    )  # fmt: skip
    fields.update(kw)
    return Skeleton(**fields)  # type: ignore[arg-type]


def test_skeleton_accepts_lists_and_numpy_ints() -> None:
    s = _base(joints=["c", "a_r", "a_l"], limbs=[[0, 1], [np.int64(0), 2]], left_joints=[2])
    assert s.limbs == ((0, 1), (0, 2)) and isinstance(s.limbs[1][0], int)
    assert s.joints == ("c", "a_r", "a_l") and s.left_joints == (2,)
    assert hash(s) == hash(_base())
    assert repr(s) == "Skeleton('t', V=3, L=2, center=0 (c), 1 mirrored joint pairs, openpose=no)"
    assert s.index("a_l") == 2
    with pytest.raises(ValueError, match="joint 'zz' is not in layout 't'"):
        s.index("zz")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "u"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        ({"name": ""}, TypeError, "name must be a non-empty str"),
        ({"joints": ()}, ValueError, "joints must not be empty"),
        ({"joints": "abc"}, TypeError, "joints must be a sequence of str"),
        ({"joints": ("c", "a", "a")}, ValueError, r"unique names, repeated: \['a'\]"),
        ({"joints": ("c", 1, "b")}, TypeError, r"joints\[1\] must be a non-empty str"),
        ({"limbs": ((0, 3), (0, 2))}, ValueError, r"limbs\[0\]\[1\] = 3 is out of range \[0, 3\)"),
        (
            {"limbs": ((0, 0), (0, 2))},
            ValueError,
            r"limbs\[0\] = \(0, 0\) connects a joint to itself",
        ),
        ({"limbs": ((0, 1), (1, 0))}, ValueError, r"limbs\[1\] = \(1, 0\) duplicates limbs\[0\]"),
        ({"limbs": ((0, 1, 2),)}, ValueError, r"limbs\[0\] must be a pair"),
        ({"limbs": ((0, 1.5),)}, TypeError, r"limbs\[0\]\[1\] must be an int, got float"),
        ({"limbs": ((True, 1),)}, TypeError, r"limbs\[0\]\[0\] must be an int, got bool"),
        ({"limbs": 5}, TypeError, "limbs must be a sequence of"),
        ({"left_joints": (2, 1), "right_joints": (1,)}, ValueError, "same length, got 2 and 1"),
        (
            {"left_joints": (1,), "right_joints": (1,)},
            ValueError,
            r"must be disjoint, both contain \[1\]",
        ),
        ({"left_joints": (3,)}, ValueError, r"left_joints\[0\] = 3 is out of range"),
        (
            {"left_joints": (2, 2), "right_joints": (1, 0)},
            ValueError,
            "left_joints contains 2 twice",
        ),
        ({"center": 3}, ValueError, r"center = 3 is out of range \[0, 3\)"),
        ({"center": 1}, ValueError, r"center = 1 \('a_r'\) must be a central joint"),
        (
            {"left_limbs": (), "right_limbs": ()},
            ValueError,
            r"limbs\[0\] = \(0, 1\) is not its own mirror",
        ),
        (
            {"left_limbs": (1,), "right_limbs": (2,)},
            ValueError,
            r"right_limbs\[0\] = 2 is out of range",
        ),
        (
            {"limbs": ((0, 1), (1, 2)), "left_limbs": (1,), "right_limbs": (0,)},
            ValueError,
            r"limbs\[0\] = \(0, 1\) has no mirror limb \(0, 2\)",
        ),
        (
            {"left_limbs": (0,), "right_limbs": (1,)},
            ValueError,
            r"left_limbs\[0\] = 0 is limb \(0, 1\), which lies on the right side",
        ),
        ({"source_indices": (0, 1)}, ValueError, r"one entry per joint \(3\), got 2"),
        ({"source_indices": (0, 1, 137)}, ValueError, r"source_indices\[2\] = 137 is out of range"),
        ({"source_indices": (0, 1, 1)}, ValueError, "source_indices contains 1 twice"),
    ],
)
def test_skeleton_validation_errors(kw: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        _base(**kw)


def test_pair_order_checked_even_when_mirror_exists() -> None:
    # (1, 2) limb is its own mirror and may stay unlisted; listing left/right swapped is wrong
    s = _base(limbs=((0, 1), (0, 2), (1, 2)))
    assert s.limb_flip_perm == (1, 0, 2)
    with pytest.raises(ValueError, match=r"pair limbs\[0\]"):
        _base(limbs=((0, 1), (0, 2), (1, 2)), left_limbs=(0,), right_limbs=(2,))


def test_template_pose_follows_source_indices() -> None:
    s = Skeleton.from_openpose(
        "mouth", (1, 25 + 48, 25 + 54, 25 + 51), limbs=((0, 3), (1, 3), (2, 3)), center=0
    )
    t = template_pose(s)
    full = openpose_template()
    np.testing.assert_array_equal(t, full[[1, 73, 79, 76]])
    assert s.joint_flip_perm == (0, 2, 1, 3) and s.limb_flip_perm == (0, 2, 1)
    assert t[1, 0] < 0 < t[2, 0], "face point 48 is the subject's right lip corner (image left)"
