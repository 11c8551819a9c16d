"""Synthetic untrimmed recordings, training windows, the [detect] config and detector configs."""

from __future__ import annotations

import numpy as np
import pytest

from pymg.data.synthetic_untrimmed import DEFAULT_CLASSES, SyntheticUntrimmed
from pymg.data.windows import RecordingWindows, check_recording
from pymg.engine import load_config
from pymg.engine.config import ConfigError, config_to_dict
from pymg.engine.detect_data import build_window_datasets, detection_scores
from pymg.engine.segments import Segment


@pytest.fixture(scope="module")
def recs():
    return SyntheticUntrimmed(4, seconds=30, layout="imigue22", seed=5)


def test_synthetic_recordings_follow_the_contract_and_are_deterministic(recs):
    again = SyntheticUntrimmed(4, seconds=30, layout="imigue22", seed=5)
    for i in range(len(recs)):
        rec = recs[i]
        check_recording(rec, num_classes=len(DEFAULT_CLASSES))
        assert rec["keypoint"].shape == (1, 750, 22, 2) and rec["keypoint"].dtype == np.float32
        assert rec["keypoint_score"].shape == (1, 750, 22)
        assert rec["segments"].dtype == np.int64 and len(rec["segments"]) >= 2
        np.testing.assert_array_equal(rec["keypoint"], again[i]["keypoint"])
        np.testing.assert_array_equal(rec["segments"], again[i]["segments"])
        # each segment lies inside its gesture's clip on the timeline, in order
        clips = recs.timeline(i)
        assert len(clips) == len(rec["segments"])
        for (start, end, label), (first, length, cls) in zip(rec["segments"], clips, strict=True):
            assert first <= start <= end < first + length
            assert DEFAULT_CLASSES[label] == cls
    assert recs.splits == {
        "train": ["untrimmed_s01_0000", "untrimmed_s02_0001", "untrimmed_s04_0003"],
        "test": ["untrimmed_s03_0002"],
    }


def test_gestures_move_the_hands_more_than_the_idle_motion(recs):
    rec = SyntheticUntrimmed(3, seconds=60, classes=(16,), layout="imigue22", noise=0.0)[0]
    wrists = rec["keypoint"][0, :, [4, 7]]  # [2, T, 2]
    inside = np.zeros(rec["total_frames"], bool)
    for start, end, _ in rec["segments"]:
        inside[start : end + 1] = True
    rest = np.median(wrists[:, ~inside], axis=1, keepdims=True)
    moved = np.linalg.norm(wrists - rest, axis=-1).max(0)  # [T]
    assert np.median(moved[inside]) > 3 * np.median(moved[~inside])


def test_windows_take_the_class_they_overlap_most_or_background(recs):
    win = RecordingWindows(recs, 48, per_gesture=2, background_ratio=1.5, seed=1)
    assert win.class_names[-1] == "background" and win.num_classes == len(DEFAULT_CLASSES) + 1
    gestures = sum(len(recs[i]["segments"]) for i in range(len(recs)))
    assert win.labels.count(win.num_classes - 1) == round(1.5 * 2 * gestures)
    index = {recs.frame_dir(r): r for r in range(len(recs))}
    for i in range(len(win)):
        item = win[i]
        video, first = item["frame_dir"].rsplit("@", 1)
        rec = recs[index[video]]
        first = int(first)
        assert item["keypoint"].shape == (1, 48, 22, 2)
        np.testing.assert_array_equal(item["keypoint"], rec["keypoint"][:, first : first + 48])
        seg = rec["segments"]
        overlap = np.minimum(seg[:, 1], first + 47) - np.maximum(seg[:, 0], first) + 1
        if item["label"] == win.num_classes - 1:
            assert (overlap <= 0).all()
        else:
            assert overlap.max() > 0 and seg[int(np.argmax(overlap)), 2] == item["label"]
    assert set(win.splits) == {"train", "test"}
    assert all(n.startswith("untrimmed_s03_0002@") for n in win.splits["test"])


def test_a_recording_shorter_than_the_window_gives_windows_of_its_length():
    rec = {"frame_dir": "short", "keypoint": np.ones((1, 20, 22, 2), np.float32),
           "img_shape": (720, 1280), "segments": np.array([[3, 9, 1]])}  # fmt: skip
    win = RecordingWindows([rec], 48, per_gesture=2, background_ratio=1.0, num_classes=2)
    assert [win[i]["keypoint"].shape[1] for i in range(len(win))] == [20, 20]
    assert win.labels == [1, 1]  # no room for a background window


def test_check_recording_names_the_problem():
    rec = {"frame_dir": "v1", "keypoint": np.zeros((1, 30, 22, 2)), "img_shape": (720, 1280),
           "segments": np.array([[1, 4, 5]])}  # fmt: skip
    with pytest.raises(ValueError, match=r"'v1': segment 0 has class 5, expected 0..2"):
        check_recording(rec, num_classes=3)
    with pytest.raises(ValueError, match=r"segments must be int \[S, 3\]"):
        check_recording({**rec, "segments": np.array([[1.5, 4, 0]])})
    with pytest.raises(ValueError, match="the recording has no segments"):
        check_recording({"keypoint": rec["keypoint"], "img_shape": (1, 1)})


def test_detect_section_parses_and_checks_types():
    cfg = load_config("detect_demo", ["detect.thresholds=[0.4, 0.7]", "detect.stride=4"])
    assert cfg.detect.thresholds == (0.4, 0.7) and cfg.detect.stride == 4 and cfg.detect.train
    with pytest.raises(ConfigError, match="did you mean 'detect.stride'"):
        load_config("detect_demo", ["detect.strides=4"])
    with pytest.raises(ConfigError, match="detect.window expects an integer"):
        load_config("detect_demo", ["detect.window=1.5"])


def test_window_datasets_need_a_background_class():
    cfg = load_config("detect_demo", ["detect.synthetic_recordings=3", "model.num_classes=8",
                                      "detect.synthetic_seconds=20.0"])  # fmt: skip
    with pytest.raises(ConfigError, match="model.num_classes must be 9"):
        build_window_datasets(cfg)
    cfg = load_config("detect_demo", ["detect.synthetic_recordings=3",
                                      "detect.synthetic_seconds=20.0"])  # fmt: skip
    train, test, names = build_window_datasets(cfg)
    assert names[-1] == "background" and len(names) == 9
    assert set(train.labels.tolist()) >= {8} and len(test) > 0
    item = train[0]
    assert item["keypoint"].shape == (1, 48, 41, 2) and item["img_shape"] == (32, 32)


@pytest.mark.parametrize(
    "name",
    ["imigue41_posec3d_joint", "imigue41_posec3d_limb", "imigue22_posec3d_joint",
     "imigue22_posec3d_limb", "imigue22_stgcn_joint"],
)  # fmt: skip
def test_detector_configs_are_their_classifier_plus_background(name):
    base, det = config_to_dict(load_config(name)), config_to_dict(load_config(f"detect_{name}"))
    assert det["detect"]["train"] is True and det["model"]["num_classes"] == 33
    assert det["data"]["source"].endswith("_untrimmed.npz") and det["loss"]["semantic"] is False
    for d in (base, det):
        for key in ("name", "detect"):
            d.pop(key)
        d["data"].pop("source"), d["model"].pop("num_classes"), d["loss"].pop("semantic")
        d["runtime"].pop("work_dir")
    assert det == base


def test_detection_scores_match_greedily_by_score_at_the_iou():
    gt = {"v": np.array([[0, 9, 0], [20, 29, 1], [40, 49, 0]])}
    dets = {
        "v": [Segment(0, 9, 0, 0.9), Segment(2, 11, 0, 0.95),  # both on gt 0: one TP
              Segment(20, 24, 1, 0.5),  # IoU 5/10 with gt 1: TP at 0.3
              Segment(40, 49, 1, 0.8)],  # wrong class
        "w": [Segment(0, 5, 0, 0.3)],  # a video without ground truth: a false positive
    }  # fmt: skip
    m = detection_scores(dets, gt, 0.3)
    assert (m["tp"], m["detections"], m["ground_truths"]) == (2, 5, 3)
    assert m["precision"] == pytest.approx(0.4) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    assert detection_scores(dets, gt, 0.6)["tp"] == 1
    assert detection_scores({}, gt)["f1"] == 0.0
