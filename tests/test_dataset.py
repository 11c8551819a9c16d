"""PoseDataset: sources, splits, joint subsets, persons, errors, seeds and DataLoader workers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

from pymg.data import (
    MalformedClipError,
    MalformedDataWarning,
    PoseDataset,
    SyntheticMicroGestures,
    collate,
    save_native,
    save_pyskl,
    select_persons,
    train_transform,
)
from pymg.data.transforms import test_transform as make_test_transform
from pymg.topology import get_layout


def make_ann(name, label, t, v=41, m=1, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "frame_dir": name,
        "label": label,
        "total_frames": t,
        "img_shape": (720, 1280),
        "original_shape": (720, 1280),
        "keypoint": rng.uniform(100, 700, size=(m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.uniform(0.1, 1, size=(m, t, v)).astype(np.float32),
    }


ANNS = [make_ann(f"c{i}", i % 4, 6 + i, m=1 + i % 3, seed=i) for i in range(8)]
SPLITS = {"train": [f"c{i}" for i in range(6)], "test": ["c6", "c7"]}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    save_pyskl(root / "a.pkl", ANNS, SPLITS)
    save_native(root / "a.npz", ANNS, splits=SPLITS, layout="imigue41", num_classes=4)
    return root


@pytest.mark.parametrize("kind", ["list", "pkl", "npz"])
def test_sources_agree(files, kind):
    source = {"list": ANNS, "pkl": files / "a.pkl", "npz": files / "a.npz"}[kind]
    ds = PoseDataset(source, layout="imigue41", num_persons=None)
    assert len(ds) == 8 and ds.num_classes == 4 and ds.layout.name == "imigue41"
    for i in (0, 5):
        item = ds[i]
        np.testing.assert_array_equal(item["keypoint"], ANNS[i]["keypoint"])
        np.testing.assert_array_equal(item["keypoint_score"], ANNS[i]["keypoint_score"])
        assert item["label"] == ANNS[i]["label"] and item["length"] == ANNS[i]["total_frames"]
        assert item["keypoint"].dtype == np.float32 and item["keypoint_score"].dtype == np.float32
        assert item["frame_dir"] == f"c{i}" and item["img_shape"] == (720, 1280)
        assert set(item) == {
            "keypoint", "keypoint_score", "label", "img_shape", "frame_dir", "length", "meta"
        }  # fmt: skip


@pytest.mark.parametrize("kind", ["pkl", "npz"])
def test_splits(files, kind):
    train = PoseDataset(files / f"a.{kind}", layout="imigue41", split="train")
    test = PoseDataset(files / f"a.{kind}", layout="imigue41", split="test")
    assert train.names == SPLITS["train"] and test.names == SPLITS["test"]
    assert len(train) + len(test) == 8
    with pytest.raises(ValueError, match=r"split 'val' not in the source; available: \['test'"):
        PoseDataset(files / f"a.{kind}", layout="imigue41", split="val")


def test_split_name_without_annotation():
    src = SyntheticMicroGestures(num_clips=4, num_classes=2)
    anns = list(src)
    with pytest.raises(ValueError, match="split 'train' not in the source"):
        PoseDataset(anns, layout="imigue41", split="train")
    ds = PoseDataset(src, layout="imigue41", split="train")
    assert ds.names == src.splits["train"] and ds.num_classes == 2


def test_joint_subsets():
    l41, l22 = get_layout("imigue41"), get_layout("imigue22")
    src41 = list(l41.source_indices)
    idx = [src41.index(s) for s in l22.source_indices]  # 41 -> 22 by OpenPose point
    ds = PoseDataset(ANNS, layout="imigue22", source_layout="imigue41", num_persons=None)
    np.testing.assert_array_equal(ds[2]["keypoint"], ANNS[2]["keypoint"][:, :, idx])
    np.testing.assert_array_equal(ds[2]["keypoint_score"], ANNS[2]["keypoint_score"][:, :, idx])
    anns137 = [make_ann(f"o{i}", 1, 5, v=137, seed=i) for i in range(3)]
    ds = PoseDataset(anns137, layout=l41)  # V=137 inferred as OpenPose-137
    np.testing.assert_array_equal(ds[1]["keypoint"], anns137[1]["keypoint"][:, :, src41])
    with pytest.raises(ValueError, match="cannot map V=41 stored joints onto layout 'imigue22'"):
        PoseDataset(ANNS, layout="imigue22")
    with pytest.raises(ValueError, match="lacks joints"):
        PoseDataset([make_ann("x", 0, 3, v=22)], layout="imigue41", source_layout="imigue22")


def test_persons_selected_by_mean_score_and_padded():
    ann = make_ann("p", 0, 4, m=3)
    ann["keypoint_score"][0] *= 0.1
    ann["keypoint_score"][2] = 1.0
    ds = PoseDataset([ann], layout="imigue41", num_persons=2)
    item = ds[0]
    assert item["keypoint"].shape == (2, 4, 41, 2)
    np.testing.assert_array_equal(item["keypoint"][0], ann["keypoint"][2])
    np.testing.assert_array_equal(item["keypoint"][1], ann["keypoint"][1])
    kp, sc = select_persons(ann["keypoint"][:1], ann["keypoint_score"][:1], 3)
    assert kp.shape == (3, 4, 41, 2) and not kp[1:].any() and not sc[1:].any()
    with pytest.raises(ValueError, match="num_persons must be a positive int or None"):
        PoseDataset([ann], layout="imigue41", num_persons=0)


class _Source(Sequence):
    """A lazily indexed source with splits (like SyntheticMicroGestures)."""

    def __init__(self, anns, splits):
        self.anns, self.splits = anns, splits

    def __len__(self):
        return len(self.anns)

    def __getitem__(self, i):
        return self.anns[i]


def test_lazy_source_checked_when_read():
    nan = make_ann("nan_clip", 1, 4)
    nan["keypoint"][0, 0, 0, 0] = np.inf
    ds = PoseDataset(_Source([ANNS[0], nan], {}), layout="imigue41", num_classes=4)
    assert len(ds) == 2 and ds[0]["label"] == 0
    with pytest.raises(MalformedClipError, match="clip 'nan_clip': keypoint holds NaN or inf"):
        ds[1]
    with pytest.warns(MalformedDataWarning, match="skipped 1"):
        assert (
            len(
                PoseDataset(
                    _Source([ANNS[0], nan], {}), layout="imigue41", num_classes=4, on_error="skip"
                )
            )
            == 1
        )
    lenient = PoseDataset(
        _Source([ANNS[0], nan], {}), layout="imigue41", num_classes=4, nan_as_missing=True
    )
    item = lenient[1]
    assert (item["keypoint"][0, 0, 0] == 0).all() and item["keypoint_score"][0, 0, 0] == 0
    np.testing.assert_array_equal(item["keypoint"][0, 1:], nan["keypoint"][0, 1:])


def test_malformed_clips_raise_or_skip():
    bad_label = dict(make_ann("bad_label", 0, 4), label=9)
    nan = make_ann("nan_clip", 1, 4)
    nan["keypoint"][0, 1, 2, 0] = np.nan
    empty = dict(make_ann("empty", 1, 4), keypoint=np.zeros((1, 0, 41, 2), np.float32))
    del empty["keypoint_score"], empty["total_frames"]
    anns = [*ANNS, bad_label, nan, empty]
    with pytest.raises(
        MalformedClipError, match=r"clip 'bad_label': label 9 out of range \[0, 4\)"
    ):
        PoseDataset(anns, layout="imigue41", num_classes=4)
    with pytest.warns(MalformedDataWarning, match="skipped 3 malformed clip"):
        ds = PoseDataset(anns, layout="imigue41", num_classes=4, on_error="skip")
    assert ds.skipped == 3 and len(ds) == 8
    assert [c for c, _ in ds.skipped_clips] == ["bad_label", "nan_clip", "empty"]
    src = _Source(ANNS[:1], {"train": ["c0", "ghost"]})
    with pytest.raises(MalformedClipError, match="clip 'ghost': listed in split 'train'"):
        PoseDataset(src, layout="imigue41", split="train")
    with pytest.warns(MalformedDataWarning, match="skipped 1"):
        assert len(PoseDataset(src, layout="imigue41", split="train", on_error="skip")) == 1
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        PoseDataset(ANNS, layout="imigue41", on_error="ignore")
    with pytest.raises(TypeError, match="source must be"):
        PoseDataset(42, layout="imigue41")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="required keyword-only argument: 'layout'"):
        PoseDataset(ANNS)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=r"must end in \.pkl"):
        PoseDataset("clips.csv", layout="imigue41")


def test_transform_output_space_and_seeds():
    src = SyntheticMicroGestures(num_clips=6, num_classes=3)
    ds = PoseDataset(src, layout="imigue41", transform=train_transform("imigue41"), seed=1)
    a, b = ds[2], ds[2]
    np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    assert a["img_shape"] == (56, 56)
    again = PoseDataset(src, layout="imigue41", transform=train_transform("imigue41"), seed=1)
    np.testing.assert_array_equal(again[2]["keypoint"], a["keypoint"])
    other = PoseDataset(src, layout="imigue41", transform=train_transform("imigue41"), seed=2)
    ds.set_epoch(1)
    changed = [not np.array_equal(ds[i]["keypoint"], other[i]["keypoint"]) for i in range(6)]
    assert any(changed)
    test = PoseDataset(src, layout="imigue41", transform=make_test_transform(size=64))
    item = test[0]
    assert item["img_shape"] == (64, 64) and not item["meta"]["flip"]
    kp = item["keypoint"][item["keypoint_score"] > 0]
    assert kp.min() >= 0 and kp.max() < 64


def test_plain_callable_transform():
    def halve(sample):
        return dict(sample, keypoint=sample["keypoint"] / 2, img_shape=(360, 640))

    item = PoseDataset(ANNS[:2], layout="imigue41", transform=halve)[1]
    np.testing.assert_allclose(item["keypoint"], ANNS[1]["keypoint"][:1] / 2)
    assert item["img_shape"] == (360, 640)


def test_dataloader_workers_match_main_process(files):
    ds = PoseDataset(
        files / "a.npz", layout="imigue41", transform=train_transform("imigue41"), num_persons=2
    )
    main = [collate([ds[i] for i in range(j, min(j + 3, len(ds)))]) for j in range(0, 8, 3)]
    loader = torch.utils.data.DataLoader(
        ds, batch_size=3, num_workers=2, collate_fn=collate, multiprocessing_context="fork"
    )
    got = list(loader)
    assert len(got) == len(main) == 3
    for g, m in zip(got, main, strict=True):
        torch.testing.assert_close(g["keypoint"], m["keypoint"], rtol=0, atol=0)
        torch.testing.assert_close(g["keypoint_score"], m["keypoint_score"], rtol=0, atol=0)
        assert torch.equal(g["length"], m["length"]) and torch.equal(g["label"], m["label"])
        assert g["frame_dir"] == m["frame_dir"] and torch.equal(g["img_shape"], m["img_shape"])
