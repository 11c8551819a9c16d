"""The detector's bad and edge inputs: short sequences, nobody in view, NaN/inf, wrong shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymg.engine.detector import Detector, WindowParams
from pymg.engine.segments import SegmentParams
from pymg.models import PoseC3D

NAMES = ["a", "b", "background"]


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(1)
    model = PoseC3D("imigue22", num_classes=3, clip_len=8, size=16, base_channels=4,
                    stage_blocks=(1, 1, 1), dropout=0.0)  # fmt: skip
    seg = SegmentParams((0.34,), hysteresis=0.01, min_len=1, merge_gap=0, max_len=50)
    return Detector(model, NAMES, "imigue22", windows=WindowParams(16, 4, 2), segments=seg,
                    size=16)  # fmt: skip


def _recording(t: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    base = rng.uniform(200, 500, size=(1, 1, 22, 2))
    kp = base + rng.normal(0, 5, size=(1, t, 22, 2))
    return {
        "frame_dir": "r",
        "keypoint": kp.astype(np.float32),
        "keypoint_score": np.full((1, t, 22), 0.9, np.float32),
        "img_shape": (720, 1280),
        "total_frames": t,
        "segments": np.zeros((0, 3), np.int64),
        "labelled": True,
    }


def test_a_sequence_shorter_than_one_window_gets_one_window_of_all_its_frames(detector):
    rec = _recording(10)
    windows = []
    segs, stream = detector.run(
        rec, keep_scores=True, on_window=lambda s, n, p: windows.append((s, n))
    )
    assert windows == [(0, 10)]
    assert stream.scores.shape == (10, 3)
    np.testing.assert_allclose(stream.scores.sum(1), 1.0, rtol=1e-5)
    online = detector.stream(rec["img_shape"])
    out = []
    for f in range(10):
        out += online.push(rec["keypoint"][:, f], rec["keypoint_score"][:, f])
    assert sorted(out + online.flush()) == sorted(segs)


def test_a_stream_with_no_frame_gives_nothing_and_cannot_be_reused(detector):
    stream = detector.stream((720, 1280))
    assert stream.flush() == []
    with pytest.raises(RuntimeError, match="stream was flushed"):
        stream.push(np.zeros((1, 22, 2)), np.zeros((1, 22)))


def test_frames_with_nobody_count_as_frames_with_every_point_missing(detector):
    rec = _recording(40)
    rec["keypoint"][:, 10:20] = 0.0
    rec["keypoint_score"][:, 10:20] = 0.0
    want = detector.run(rec, keep_scores=True)[1].scores
    stream = detector.stream(rec["img_shape"], keep_scores=True)
    for f in range(40):
        if 10 <= f < 20:
            stream.push(np.zeros((0, 22, 2)), np.zeros((0, 22)))  # M = 0
        else:
            stream.push(rec["keypoint"][:, f], rec["keypoint_score"][:, f])
    stream.flush()
    np.testing.assert_array_equal(stream.scores, want)


def test_nan_and_inf_points_are_missing_points(detector):
    rec = _recording(40, seed=3)
    bad = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in rec.items()}
    bad["keypoint"][0, 5, 3] = np.nan
    bad["keypoint"][0, 7, 4, 1] = np.inf
    bad["keypoint_score"][0, 9, 6] = np.nan
    for t, v in ((5, 3), (7, 4), (9, 6)):
        rec["keypoint"][0, t, v] = 0.0
        rec["keypoint_score"][0, t, v] = 0.0
    got = detector.run(bad, keep_scores=True)[1].scores
    want = detector.run(rec, keep_scores=True)[1].scores
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, want)


def test_wrong_shapes_and_settings_are_clear_errors(detector):
    stream = detector.stream((720, 1280))
    with pytest.raises(ValueError, match=r"expected V=22 joints of layout 'imigue22'"):
        stream.push(np.zeros((1, 17, 2)), np.ones((1, 17)))
    with pytest.raises(ValueError, match=r"keypoints of frame 0: expected \[M, V, 2\]"):
        stream.push(np.zeros((22, 2)))
    with pytest.raises(ValueError, match=r"scores of frame 0: expected \(1, 22\)"):
        stream.push(np.zeros((1, 22, 2)), np.ones((2, 22)))
    with pytest.raises(ValueError, match="img_shape must be"):
        detector.stream((0, 1280))
    with pytest.raises(ValueError, match=r"stride \(9\) must be <= window \(8\)"):
        WindowParams(window=8, stride=9)
    with pytest.raises(ValueError, match="class_names must end with 'background'"):
        Detector(detector.model, ["a", "b", "c"], "imigue22")


def test_bad_recordings_are_refused_with_their_name(detector):
    rec = _recording(30)
    with pytest.raises(ValueError, match=r"keypoint must be \[M, T, V, 2\] with T >= 1"):
        detector.detect({**rec, "keypoint": np.zeros((1, 0, 22, 2), np.float32)})
    bad = {**rec, "segments": np.array([[5, 40, 0]])}
    with pytest.raises(ValueError, match=r"'r': segment 0 = \(5, 40\) is not inside frames 0..29"):
        detector.detect(bad)
    bad = {**rec, "segments": np.array([[9, 12, 0], [2, 4, 1]])}
    with pytest.raises(ValueError, match=r"not sorted by start \(row 1\)"):
        detector.detect(bad)
    with pytest.raises(ValueError, match="total_frames = 31 but keypoint holds 30 frames"):
        detector.detect({**rec, "total_frames": 31})
