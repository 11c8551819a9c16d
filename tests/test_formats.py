"""Formats: safe PYSKL pickles, native .npz, validation (raw dataset releases:
test_formats_readers.py and test_prepare.py)."""

from __future__ import annotations

import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

from pymg.data import MalformedClipError, MalformedDataWarning, PoseDataset, UnsafePickleError
from pymg.data.formats import (
    NativeClips,
    check_annotation,
    load_pyskl,
    safe_load,
    safe_loads,
    save_native,
    save_pyskl,
)
from pymg.data.prepare import prepare_pyskl
from pymg.topology import get_layout


def make_ann(name: str, label: int, t: int, v: int = 41, m: int = 1, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "frame_dir": name,
        "label": label,
        "total_frames": t,
        "img_shape": (720, 1280),
        "original_shape": (720, 1280),
        "keypoint": rng.uniform(1, 700, size=(m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.uniform(0, 1, size=(m, t, v)).astype(np.float32),
    }


ANNS = [make_ann(f"clip{i}", i % 3, 5 + 3 * i, m=1 + i % 2, seed=i) for i in range(5)]
SPLITS = {"train": ["clip0", "clip1", "clip2"], "test": ["clip3", "clip4"]}


# ----------------------------------------------------------------------------- safe pickles
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_pickle_roundtrip(tmp_path, protocol):
    path = tmp_path / "ann.pkl"
    data = {"split": SPLITS, "annotations": [dict(a, label=np.int64(a["label"])) for a in ANNS]}
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    anns, splits = load_pyskl(path)
    assert splits == SPLITS
    for got, want in zip(anns, ANNS, strict=True):
        np.testing.assert_array_equal(got["keypoint"], want["keypoint"])
        np.testing.assert_array_equal(got["keypoint_score"], want["keypoint_score"])
        assert got["keypoint"].dtype == np.float32
        assert int(got["label"]) == want["label"]


def test_save_pyskl_and_bare_list(tmp_path):
    save_pyskl(tmp_path / "a.pkl", ANNS, SPLITS)
    anns, splits = load_pyskl(tmp_path / "a.pkl")
    assert [a["frame_dir"] for a in anns] == [a["frame_dir"] for a in ANNS] and splits == SPLITS
    (tmp_path / "b.pkl").write_bytes(pickle.dumps(ANNS[:2]))
    anns, splits = load_pyskl(tmp_path / "b.pkl")
    assert len(anns) == 2 and splits == {}


def test_numpy1_global_names_accepted():
    raw = pickle.dumps({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "s": {1, 2}}, protocol=2)
    assert b"numpy._core" in raw or b"numpy.core" in raw
    legacy = raw.replace(b"numpy._core.", b"numpy.core.")
    out = safe_loads(legacy)
    np.testing.assert_array_equal(out["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["s"] == {1, 2}


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilPopen:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.marker],))


def test_malicious_pickles_refused_without_side_effect(tmp_path):
    marker = tmp_path / "pwned"
    cases = {
        "system": pickle.dumps({"annotations": [_Evil(str(marker))]}),
        "Popen": pickle.dumps(_EvilPopen(str(marker))),
        "os.system": b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",
        "builtins.eval": b"cbuiltins\neval\n(S'open(\"" + str(marker).encode() + b'", "w")\'\ntR.',
    }
    for name, payload in cases.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(payload)
        with pytest.raises(UnsafePickleError, match=rf"refusing to load global '[\w.]*{name}'"):
            load_pyskl(path)
        with pytest.raises(pickle.UnpicklingError):  # UnsafePickleError is one
            safe_load(path)
    assert not marker.exists()


def test_torch_pickle_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "t.pkl"
    path.write_bytes(pickle.dumps({"annotations": [torch.zeros(2)]}))
    with pytest.raises(UnsafePickleError, match=r"'torch\."):
        load_pyskl(path)


def test_truncated_and_wrong_pickles(tmp_path):
    good = pickle.dumps({"split": {}, "annotations": ANNS})
    (tmp_path / "t.pkl").write_bytes(good[: len(good) // 2])
    with pytest.raises(pickle.UnpicklingError, match=r"t\.pkl: truncated or corrupt"):
        load_pyskl(tmp_path / "t.pkl")
    (tmp_path / "w.pkl").write_bytes(pickle.dumps({"foo": 1}))
    with pytest.raises(ValueError, match="expected a PYSKL annotation file"):
        load_pyskl(tmp_path / "w.pkl")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_pyskl(tmp_path / "missing.pkl")


# ----------------------------------------------------------------------------- validation
def _bad(**changes):
    ann = make_ann("bad_clip", 1, 4, v=5)
    for k, val in changes.items():
        if val is KeyError:
            ann.pop(k)
        else:
            ann[k] = val
    return ann


NAN_KP = np.ones((1, 4, 5, 2), np.float32)
NAN_KP[0, 2, 3, 1] = np.nan
CASES = [
    (_bad(keypoint=KeyError), "missing key 'keypoint'"),
    (_bad(label=KeyError), "missing key 'label'"),
    (_bad(keypoint=np.zeros((4, 5, 2), np.float32)), r"shape \[M, T, V, 2\]"),
    (_bad(keypoint=np.zeros((1, 4, 5, 4), np.float32)), r"shape \[M, T, V, 2\]"),
    (_bad(keypoint_score=np.ones((1, 4, 6), np.float32)), r"keypoint_score must have shape"),
    (_bad(keypoint=NAN_KP), "NaN or inf"),
    (_bad(keypoint_score=np.full((1, 4, 5), np.inf, np.float32)), "keypoint_score holds NaN"),
    (_bad(keypoint_score=-np.ones((1, 4, 5), np.float32)), "negative"),
    (_bad(total_frames=-1), "negative total_frames -1"),
    (_bad(total_frames=7), "total_frames=7 but keypoint has T=4"),
    (_bad(label=3), r"label 3 out of range \[0, 3\)"),
    (_bad(label=-2), "label -2 out of range"),
    (_bad(label=1.5), "label must be an int"),
    (_bad(keypoint=np.zeros((1, 0, 5, 2)), keypoint_score=np.zeros((1, 0, 5)), total_frames=0),
     "empty clip"),
    (_bad(img_shape=(0, 10)), "img_shape must hold two positive integers"),
    (_bad(keypoint=np.array([["a"]])), "keypoint must be a real array"),
]  # fmt: skip


@pytest.mark.parametrize(("ann", "problem"), CASES)
def test_check_annotation_names_clip_and_problem(ann, problem):
    with pytest.raises(MalformedClipError, match=rf"clip 'bad_clip': .*{problem}"):
        check_annotation(ann, 0, num_classes=3)


def test_check_annotation_normalises():
    ann = _bad(keypoint=np.ones((2, 4, 5, 3)), keypoint_score=KeyError, img_shape=KeyError)
    ann["keypoint"][..., 2] = 0.5
    out = check_annotation(ann, 0)
    assert out["keypoint"].shape == (2, 4, 5, 2) and out["keypoint"].dtype == np.float32
    np.testing.assert_array_equal(out["keypoint_score"], np.full((2, 4, 5), 0.5, np.float32))
    assert out["img_shape"] == (720, 1280)  # from original_shape
    with pytest.raises(MalformedClipError, match=r"clip '#7': expected an annotation dict"):
        check_annotation([1, 2], 7)
    with pytest.raises(MalformedClipError, match="expected V=6 joints, got 5"):
        check_annotation(_bad(), 0, num_joints=6)


# ----------------------------------------------------------------------------- native
def test_native_roundtrip_exact(tmp_path):
    anns = [dict(a, subject=i + 1) for i, a in enumerate(ANNS)]
    summary = save_native(tmp_path / "d.npz", anns, splits=SPLITS, layout="imigue41",
                          class_names=["a", "b", "c"])  # fmt: skip
    assert summary["clips"] == 5 and summary["frames"] == sum(a["total_frames"] for a in ANNS)
    clips = NativeClips(tmp_path / "d.npz")
    assert isinstance(clips._kp, np.memmap)  # uncompressed members are memory-mapped
    assert clips.splits == SPLITS and clips.layout == "imigue41" and clips.num_classes == 3
    assert len(clips) == 5
    for i, want in enumerate(anns):
        got = clips[i]
        for k in ("keypoint", "keypoint_score"):
            np.testing.assert_array_equal(got[k], want[k])
            assert got[k].dtype == np.float32
        for k in ("frame_dir", "label", "total_frames", "img_shape", "subject"):
            assert got[k] == want[k]
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:  # plain numpy can read it
        assert z["keypoint"].shape == (2, summary["frames"], 41, 2)
    pickle.loads(pickle.dumps(clips))[4]  # reopens by path


def test_native_pickle_conversion_both_ways(tmp_path):
    save_pyskl(tmp_path / "a.pkl", ANNS, SPLITS)
    prepare_pyskl(tmp_path / "a.pkl", tmp_path / "a.npz")
    clips = NativeClips(tmp_path / "a.npz")
    save_pyskl(tmp_path / "b.pkl", list(clips), clips.splits)
    anns, splits = load_pyskl(tmp_path / "b.pkl")
    assert splits == SPLITS
    for got, want in zip(anns, ANNS, strict=True):
        np.testing.assert_array_equal(got["keypoint"], want["keypoint"])
        np.testing.assert_array_equal(got["keypoint_score"], want["keypoint_score"])


def test_native_float16_and_compressed(tmp_path):
    save_native(tmp_path / "h.npz", ANNS, dtype=np.float16, compress=True)
    clips = NativeClips(tmp_path / "h.npz")
    assert not isinstance(clips._kp, np.memmap)
    got = clips[3]["keypoint"]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ANNS[3]["keypoint"], rtol=1e-3)
    with pytest.raises(ValueError, match="dtype must be float32 or float16"):
        save_native(tmp_path / "x.npz", ANNS, dtype=np.float64)


def test_native_malformed(tmp_path):
    save_native(tmp_path / "d.npz", ANNS)
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"trunc\.npz: unreadable native clip file"):
        NativeClips(tmp_path / "trunc.npz")
    with np.load(tmp_path / "d.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["length"] = arrays["length"].copy()
    arrays["length"][2] = -3
    np.savez(tmp_path / "neg.npz", **arrays)
    clips = NativeClips(tmp_path / "neg.npz")
    with pytest.raises(MalformedClipError, match="clip 'clip2': negative length -3"):
        clips[2]
    with pytest.warns(MalformedDataWarning, match="skipped 1 malformed clip"):
        ds = PoseDataset(tmp_path / "neg.npz", layout=get_layout("imigue41"), on_error="skip")
    assert ds.skipped == 1 and len(ds) == 4
    arrays["name"] = np.array([f"c{i}" for i in range(5)], dtype=object)
    np.savez(tmp_path / "obj.npz", **arrays)  # pickles the object array
    with pytest.raises(ValueError, match="obj.npz: unreadable.*Python objects"):
        NativeClips(tmp_path / "obj.npz")
    with zipfile.ZipFile(tmp_path / "nometa.npz", "w") as zf:
        zf.writestr("keypoint.npy", b"")
    with pytest.raises(ValueError, match="missing members"):
        NativeClips(tmp_path / "nometa.npz")


def test_save_native_skip_counts(tmp_path):
    anns = [*ANNS, _bad(label=-1), _bad(keypoint=NAN_KP)]
    with pytest.raises(MalformedClipError, match="clip 'bad_clip'"):
        save_native(tmp_path / "d.npz", anns)
    with pytest.warns(MalformedDataWarning, match="skipped 2 malformed"):
        summary = save_native(tmp_path / "d.npz", anns, on_error="skip")
    assert summary["skipped"] == 2 and summary["clips"] == 5


# ----------------------------------------------------------------------------- PYSKL -> native
def test_prepare_pyskl_subsets_layout(tmp_path):
    anns = [make_ann(f"c{i}", i, 4, v=137, seed=i) for i in range(3)]
    save_pyskl(tmp_path / "a.pkl", anns, {"train": ["c0", "c1"], "test": ["c2"]})
    summary = prepare_pyskl(tmp_path / "a.pkl", tmp_path / "a.npz", layout="imigue41")
    assert summary == {"clips": 3, "splits": {"train": 2, "test": 1}, "skipped": 0,
                       "path": str(tmp_path / "a.npz"), "layout": "imigue41"}  # fmt: skip
    clips = NativeClips(tmp_path / "a.npz")
    idx = list(get_layout("imigue41").source_indices)
    np.testing.assert_array_equal(clips[2]["keypoint"], anns[2]["keypoint"][:, :, idx])
