"""Tests of pymg.data.synthetic.SyntheticMicroGestures."""

from __future__ import annotations

import pickle
import warnings
from collections import Counter

import numpy as np
import pytest

from pymg.data.synthetic import MOTION_CLASSES, SyntheticMicroGestures
from pymg.topology import IMIGUE22, IMIGUE41, Skeleton, get_layout

SHORT = {"min_seconds": 0.4, "max_seconds": 1.6}


def test_items_have_the_pyskl_format() -> None:
    ds = SyntheticMicroGestures(num_classes=8, num_clips=16, **SHORT)
    assert len(ds) == 16 and ds.layout is IMIGUE41
    for i, item in enumerate(ds):
        assert set(item) == {
            "frame_dir", "label", "total_frames", "img_shape", "original_shape", "keypoint",
            "keypoint_score",
        }  # fmt: skip
        t = item["total_frames"]
        assert 10 <= t <= 40 and isinstance(t, int)
        assert item["keypoint"].shape == (1, t, 41, 2) and item["keypoint"].dtype == np.float32
        assert item["keypoint_score"].shape == (1, t, 41)
        assert item["keypoint_score"].dtype == np.float32
        assert item["label"] == i % 8 and item["img_shape"] == (720, 1280)
        assert item["original_shape"] == (720, 1280) and item["frame_dir"] == ds.frame_dir(i)
        kp, sc = item["keypoint"], item["keypoint_score"]
        assert ((sc >= 0) & (sc <= 1)).all()
        lost = sc == 0
        assert (kp[lost] == 0).all(), "lost points are written as (0, 0), like OpenPose"
        seen = kp[~lost]
        assert (seen[:, 0] >= 0).all() and (seen[:, 0] <= 1279).all()
        assert (seen[:, 1] >= 0).all() and (seen[:, 1] <= 719).all()
    assert ds.class_names == tuple(c[0] for c in MOTION_CLASSES[:8])


def test_points_are_dropped_sometimes() -> None:
    ds = SyntheticMicroGestures(num_clips=40, drop_prob=0.05, **SHORT)
    lost = np.concatenate([(it["keypoint_score"] == 0).ravel() for it in ds])
    assert 0.01 < lost.mean() < 0.3
    clean = SyntheticMicroGestures(num_clips=10, drop_prob=0.0, noise=0.0, **SHORT)
    # without random drops only vanished hands can be missing: body and face always seen
    for it in clean:
        assert (it["keypoint_score"][..., :12] > 0).all()
        assert (it["keypoint_score"][..., 22:] > 0).all()


def test_determinism_and_lazy_order() -> None:
    a = SyntheticMicroGestures(num_clips=12, seed=3, **SHORT)
    b = SyntheticMicroGestures(num_clips=12, seed=3, **SHORT)
    late = b[7]  # generated first, out of order
    for i in range(12):
        np.testing.assert_array_equal(a[i]["keypoint"], b[i]["keypoint"])
        np.testing.assert_array_equal(a[i]["keypoint_score"], b[i]["keypoint_score"])
    np.testing.assert_array_equal(late["keypoint"], a[7]["keypoint"])
    c = SyntheticMicroGestures(num_clips=12, seed=4, **SHORT)
    assert any(
        a[i]["keypoint"].shape != c[i]["keypoint"].shape
        or not np.array_equal(a[i]["keypoint"], c[i]["keypoint"])
        for i in range(12)
    )
    assert all(
        not np.array_equal(a[i]["keypoint"][0, :1], c[i]["keypoint"][0, :1]) for i in range(12)
    )


def test_sequence_protocol_and_copies() -> None:
    ds = SyntheticMicroGestures(num_clips=5, **SHORT)
    assert ds[-1]["frame_dir"] == ds[4]["frame_dir"]
    assert [x["label"] for x in ds[1:4]] == [1, 2, 3]
    item = ds[0]
    item["keypoint"][:] = -1.0
    item["label"] = 99
    assert ds[0]["label"] == 0 and (ds[0]["keypoint"] >= 0).all()
    with pytest.raises(IndexError, match="index 5 out of range for 5 clips"):
        ds[5]
    with pytest.raises(TypeError, match="index must be an int or slice, got str"):
        ds["0"]  # type: ignore[call-overload]
    assert "num_clips=5" in repr(ds)


def test_class_balance_and_splits() -> None:
    ds = SyntheticMicroGestures(num_classes=6, num_clips=120, num_subjects=10, **SHORT)
    assert Counter(ds.labels) == dict.fromkeys(range(6), 20)
    splits = ds.splits
    assert set(splits) == {"train", "val", "test"}
    names = [n for v in splits.values() for n in v]
    assert sorted(names) == sorted(ds.frame_dir(i) for i in range(120))
    by_name = {ds.frame_dir(i): s for i, s in enumerate(ds.subjects)}
    assert {by_name[n] for n in splits["test"]} == {5, 10}
    assert {by_name[n] for n in splits["val"]} == {4, 9}
    assert {by_name[n] for n in splits["train"]} == {1, 2, 3, 6, 7, 8}
    for part in splits.values():  # every class is in every split
        assert {ds.labels[int(n.split("_")[-1])] for n in part} == set(range(6))


def test_face_only_classes_differ_only_in_face_points() -> None:
    ds = SyntheticMicroGestures(num_classes=12, num_clips=30, **SHORT)
    face_only = [k for k, f in enumerate(ds.face_only) if f]
    assert face_only == [1, 2, 4, 5] and len(face_only) >= 4
    moved = 0.0
    for i in range(0, 30, 3):
        clips = [ds.generate(i, label=k) for k in face_only]
        for other in clips[1:]:
            # bit-identical body, eyes, ears and fingertips: imigue22 cannot tell them apart
            np.testing.assert_array_equal(
                other["keypoint"][:, :, :22], clips[0]["keypoint"][:, :, :22]
            )
            np.testing.assert_array_equal(
                other["keypoint_score"][..., :22], clips[0]["keypoint_score"][..., :22]
            )
            moved = max(
                moved,
                float(np.abs(other["keypoint"][:, :, 22:] - clips[0]["keypoint"][:, :, 22:]).max()),
            )
        body = ds.generate(i, label=3)  # shoulder shrug moves the body
        assert not np.array_equal(body["keypoint"][:, :, :22], clips[0]["keypoint"][:, :, :22])
    assert moved > 5.0, "face gestures must move face points by several pixels"


def _lip_gap(item: dict) -> np.ndarray:
    """[T] vertical distance lower-lip centre - upper-lip centre (pixels)."""
    kp = item["keypoint"][0]
    return kp[:, 39, 1] - kp[:, 35, 1]


def test_gestures_do_what_they_say() -> None:
    ds = SyntheticMicroGestures(num_classes=12, num_clips=24, noise=0.0, drop_prob=0.0, **SHORT)
    for i in range(0, 24, 4):
        opened = _lip_gap(ds.generate(i, label=4))
        pressed = _lip_gap(ds.generate(i, label=1))
        rest = _lip_gap(ds.generate(i, label=0))  # hand to cheek: the face is at rest
        assert opened.max() > rest.max() + 5 and pressed.min() < rest.min() - 2
        brows = ds.generate(i, label=2)["keypoint"][0]
        still = ds.generate(i, label=0)["keypoint"][0]
        lift = (still[:, 27:33, 1] - brows[:, 27:33, 1]).mean(axis=1)
        assert lift.max() > 4 and lift.min() > -1e-3
        cheek = ds.generate(i, label=0)
        kp, sc = cheek["keypoint"][0], cheek["keypoint_score"][0]
        ok = (sc[:, 4] > 0) & (sc[:, 22] > 0)
        dist = np.linalg.norm(kp[ok, 4] - kp[ok, 22], axis=-1)  # right wrist to right cheek
        assert dist.min() < 0.5 * dist.max()


@pytest.mark.parametrize("name", ["imigue22", "coco17", "coco17_pyskl", "openpose18"])
def test_other_layouts_share_the_simulation(name: str) -> None:
    layout = get_layout(name)
    full = SyntheticMicroGestures(num_clips=6, layout="imigue41", **SHORT)
    part = SyntheticMicroGestures(num_clips=6, layout=layout, **SHORT)
    assert layout.source_indices is not None and IMIGUE41.source_indices is not None
    common = [v for v, s in enumerate(layout.source_indices) if s in IMIGUE41.source_indices]
    where = [IMIGUE41.source_indices.index(layout.source_indices[v]) for v in common]
    for i in range(6):
        assert part[i]["keypoint"].shape[2] == layout.num_joints
        np.testing.assert_array_equal(
            part[i]["keypoint"][:, :, common], full[i]["keypoint"][:, :, where]
        )


def test_custom_layout_with_extra_points() -> None:
    hands = Skeleton.from_openpose(
        "hands", (1, 4, 7, 116, 95), limbs=((0, 1), (0, 2), (1, 3), (2, 4)), center=0
    )
    ds = SyntheticMicroGestures(num_clips=4, layout=hands, **SHORT)
    ref = SyntheticMicroGestures(num_clips=4, layout=IMIGUE22, **SHORT)
    for i in range(4):
        assert ds[i]["keypoint"].shape[2] == 5
        np.testing.assert_array_equal(
            ds[i]["keypoint"][:, :, :3], ref[i]["keypoint"][:, :, [1, 4, 7]]
        )


def test_to_pickle_round_trip(tmp_path) -> None:
    ds = SyntheticMicroGestures(num_clips=10, layout="imigue22", **SHORT)
    path = ds.to_pickle(tmp_path / "synth.pkl")
    with open(path, "rb") as f:
        data = pickle.load(f)
    assert set(data) == {"split", "annotations"} and data["split"] == ds.splits
    assert [a["frame_dir"] for a in data["annotations"]] == [ds.frame_dir(i) for i in range(10)]
    np.testing.assert_array_equal(data["annotations"][3]["keypoint"], ds[3]["keypoint"])
    assert data["annotations"][3]["keypoint"].shape[2] == IMIGUE22.num_joints


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"num_classes": 0}, "num_classes must be an int >= 1, got 0"),
        ({"num_classes": 13}, "num_classes must be <= 12, got 13"),
        ({"num_clips": -1}, "num_clips must be an int >= 0, got -1"),
        ({"num_subjects": True}, "num_subjects must be an int >= 1, got True"),
        ({"img_shape": (8, 100)}, r"img_shape must be \(H, W\) with both >= 16"),
        ({"min_seconds": 2.0, "max_seconds": 1.0}, "need 1 frame <= min_seconds"),
        ({"fps": 0}, "fps must be > 0"),
        ({"drop_prob": 1.0}, "0 <= drop_prob < 1"),
        ({"noise": -1.0}, "need noise >= 0"),
        ({"layout": "nope"}, "unknown layout 'nope'"),
        ({"seed": -1}, "seed must be an int >= 0, got -1"),
    ],
)
def test_constructor_errors(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SyntheticMicroGestures(**kw)


def test_layout_without_source_indices_and_bad_label() -> None:
    import dataclasses

    bare = dataclasses.replace(IMIGUE22, source_indices=None)
    with pytest.raises(ValueError, match="needs source_indices"):
        SyntheticMicroGestures(layout=bare)
    ds = SyntheticMicroGestures(num_classes=4, num_clips=3, **SHORT)
    with pytest.raises(ValueError, match=r"label must be in \[0, 4\), got 4"):
        ds.generate(0, label=4)
    with pytest.raises(IndexError, match="index 3 out of range"):
        ds.generate(3)


def test_small_images_keep_the_subject_in_frame() -> None:
    ds = SyntheticMicroGestures(num_clips=16, img_shape=(64, 96), drop_prob=0.0, **SHORT)
    for item in ds:
        assert item["img_shape"] == (64, 96)
        sc = item["keypoint_score"]
        assert (sc[..., :12] > 0).mean() > 0.99, "body points stay inside a small frame"
        seen = item["keypoint"][sc > 0]
        assert seen[:, 0].max() <= 95 and seen[:, 1].max() <= 63 and seen.min() >= 0


def _clip_features(ds: SyntheticMicroGestures) -> tuple[np.ndarray, np.ndarray]:
    """Per clip: range and mean of every joint relative to the neck, in shoulder widths."""
    feats, labels = [], []
    for item in ds:
        kp = item["keypoint"][0].astype(np.float64)
        width = np.linalg.norm(kp[:, 2] - kp[:, 5], axis=-1).mean()
        rel = (kp - kp[:, 1:2]) / width
        rel[item["keypoint_score"][0] == 0] = np.nan
        with warnings.catch_warnings():  # a joint lost in every frame: all-NaN -> 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nanmax(rel, axis=0) - np.nanmin(rel, axis=0)
            mean = np.nanmean(rel, axis=0)
        feats.append(np.nan_to_num(np.concatenate([spread, mean]).ravel()))
        labels.append(item["label"])
    return np.array(feats), np.array(labels)


def test_face_points_are_needed_for_face_classes() -> None:
    """A linear probe: on imigue22 the face-only classes are at chance, on imigue41 they are not."""
    accuracy = {}
    for layout in ("imigue22", "imigue41"):
        x, y = _clip_features(SyntheticMicroGestures(6, 240, layout, seed=0, **SHORT))
        xt, yt = _clip_features(SyntheticMicroGestures(6, 120, layout, seed=1, **SHORT))
        mu, sd = x.mean(0), x.std(0) + 1e-6
        x, xt = (x - mu) / sd, (xt - mu) / sd
        w = np.linalg.solve(x.T @ x + 10.0 * np.eye(x.shape[1]), x.T @ np.eye(6)[y])
        pred = (xt @ w).argmax(1)
        face = np.isin(yt, [1, 2, 4, 5])
        accuracy[layout] = ((pred == yt)[face].mean(), (pred == yt)[~face].mean())
    assert accuracy["imigue22"][0] < 0.5 < 0.85 < accuracy["imigue41"][0]
    assert accuracy["imigue22"][1] > 0.85 and accuracy["imigue41"][1] > 0.85
