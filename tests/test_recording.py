"""Recordings: the contract's checks and the native untrimmed file (write, read, refuse)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pymg.data import (
    MalformedClipError,
    NativeClips,
    RecordingSet,
    check_recording,
    check_segments,
    save_native,
    save_recordings,
)


def _rec(name: str, t: int, segments: Any, *, m: int = 1, v: int = 137, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "frame_dir": name,
        "keypoint": rng.uniform(0, 700, (m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.uniform(0, 1, (m, t, v)).astype(np.float32),
        "img_shape": (720, 1280),
        "total_frames": t,
        "segments": np.asarray(segments, np.int64).reshape(-1, 3),
        "labelled": True,
    }


def test_check_segments_sorts_and_keeps_cross_class_overlaps() -> None:
    out = check_segments([[30, 40, 1], [0, 9, 0], [5, 12, 2]], 50, num_classes=3)
    assert out.dtype == np.int64 and out.tolist() == [[0, 9, 0], [5, 12, 2], [30, 40, 1]]
    assert check_segments(np.zeros((0, 3)), 5).shape == (0, 3)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[0, 9, 0], [9, 12, 0]], r"f\.csv:4: segment 9\.\.12 of class 0 overlaps .* \(f\.csv:3\)"),
        ([[0, 60, 0]], r"f\.csv:3: segment 0\.\.60 outside the video's frames 0\.\.49"),
        ([[0, 9, 5]], r"f\.csv:3: class 5 out of range 0\.\.4"),
        ([[9, 3, 0]], r"f\.csv:3: end frame 3 before start frame 9"),
    ],
)
def test_check_segments_errors_name_file_and_line(rows: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_segments(rows, 50, num_classes=5, where="f.csv", lines=[3, 4])


def test_check_recording_rejects_segments_on_unlabelled_and_nan() -> None:
    rec = _rec("v", 20, [[0, 5, 1]])
    rec["labelled"] = False
    with pytest.raises(MalformedClipError, match=r"clip 'v': unlabelled recording with 1 segments"):
        check_recording(rec)
    bad = _rec("w", 20, [])
    bad["keypoint"][0, 3, 7, 0] = np.nan
    with pytest.raises(MalformedClipError, match="clip 'w': keypoint holds NaN or inf"):
        check_recording(bad)
    fixed = check_recording(bad, nan_as_missing=True)
    assert fixed["keypoint_score"][0, 3, 7] == 0.0 and fixed["segments"].shape == (0, 3)


def test_round_trip_with_splits_and_layout(tmp_path: Path) -> None:
    recs = [
        _rec("0001", 50, [[30, 40, 1], [0, 9, 31]], m=2, seed=1),
        _rec("0002", 7, [], seed=2),
        {**_rec("0003", 33, [], seed=3), "labelled": False, "subject": 4},
    ]
    recs[0]["subject"] = 7
    recs[1]["subject"] = 8
    path = tmp_path / "u.npz"
    summary = save_recordings(
        path, recs, splits={"train": ["0001", "0002"], "test": ["0003"]},
        layout="openpose137", class_names=[f"c{i}" for i in range(32)],
    )  # fmt: skip
    assert summary["videos"] == 3 and summary["frames"] == 90 and summary["segments"] == 2
    full = RecordingSet(path)
    assert len(full) == 3 and full.layout == "openpose137" and full.num_classes == 32
    first = full[0]
    assert first["segments"].tolist() == [[0, 9, 31], [30, 40, 1]]  # sorted by start
    np.testing.assert_array_equal(first["keypoint"], recs[0]["keypoint"])
    np.testing.assert_array_equal(first["keypoint_score"], recs[0]["keypoint_score"])
    assert first["total_frames"] == 50 and first["img_shape"] == (720, 1280)
    assert first["subject"] == 7 and first["labelled"] is True
    assert full[1]["segments"].shape == (0, 3) and full[1]["keypoint"].shape == (1, 7, 137, 2)
    assert full[-1]["labelled"] is False and full[-1]["frame_dir"] == "0003"
    test = RecordingSet(path, split="test", layout="imigue41")
    assert test.names == ["0003"] and test.layout == "imigue41"
    rec = test[0]
    assert rec["keypoint"].shape == (1, 33, 41, 2) and rec["keypoint"].dtype == np.float32
    from pymg.topology import IMIGUE41

    idx = list(IMIGUE41.source_indices or ())
    np.testing.assert_array_equal(rec["keypoint"], recs[2]["keypoint"][:, :, idx])
    import pickle

    again = pickle.loads(pickle.dumps(test))
    assert len(pickle.dumps(test)) < 1000 and again.names == ["0003"]
    np.testing.assert_array_equal(again[0]["keypoint"], rec["keypoint"])
    with pytest.raises(IndexError, match="recording index 1 out of range for 1"):
        test[1]
    with pytest.raises(ValueError, match=r"no split 'val'; the file has \['test', 'train'\]"):
        RecordingSet(path, split="val")


def test_clip_and_recording_files_refuse_each_other(tmp_path: Path) -> None:
    save_recordings(tmp_path / "u.npz", [_rec("a", 10, [[0, 3, 0]])])
    with pytest.raises(ValueError, match=r"u\.npz holds recordings, not clips: .*RecordingSet"):
        NativeClips(tmp_path / "u.npz")
    clip = {**_rec("a", 10, []), "label": 3}
    del clip["segments"], clip["labelled"]
    save_native(tmp_path / "c.npz", [clip])
    with pytest.raises(ValueError, match=r"c\.npz holds clips, not recordings: .*NativeClips"):
        RecordingSet(tmp_path / "c.npz")
    with pytest.raises(
        MalformedClipError, match="clip 'a': a recording has 'segments', not a clip's"
    ):
        save_recordings(tmp_path / "x.npz", [clip])


def test_save_checks_classes_and_joints(tmp_path: Path) -> None:
    with pytest.raises(
        MalformedClipError, match=r"clip 'a': segments row 0: class 3 out of range 0\.\.2"
    ):
        save_recordings(tmp_path / "x.npz", [_rec("a", 10, [[0, 3, 3]])], class_names="abc")
    with pytest.raises(MalformedClipError, match="clip 'b': expected V=137 joints, got 41"):
        save_recordings(tmp_path / "x.npz", [_rec("a", 10, []), _rec("b", 10, [], v=41)])
