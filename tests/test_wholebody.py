"""COCO-WholeBody (mmpose / rtmlib / DWPose) -> OpenPose-137, and mmpose's JSON files as written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from release_trees import mmpose_instance, wholebody_points, write_labels, write_mmpose_video

from pymg.data import RecordingSet, prepare_release, prepare_untrimmed
from pymg.data.formats import LayoutSourceError, layout_indices
from pymg.data.formats.wholebody import (
    MMPOSE_SOURCE,
    WHOLEBODY_CARRIED,
    read_mmpose_json,
    wholebody_to_openpose,
)
from pymg.topology import Skeleton, get_layout

IMIGUE41 = list(get_layout("imigue41").source_indices or ())

# (OpenPose-137 index, COCO-WholeBody index) written out point by point from the two definitions
NAMED = [
    (0, 0), (2, 6), (3, 8), (4, 10), (5, 5), (6, 7), (7, 9), (9, 12), (10, 14), (11, 16),
    (12, 11), (13, 13), (14, 15), (15, 2), (16, 1), (17, 4), (18, 3), (19, 17), (22, 20),
    (24, 22), (25, 23), (25 + 8, 31), (25 + 48, 71), (25 + 67, 90), (95, 91), (99, 95),
    (115, 111), (116, 112), (120, 116), (136, 132),
]  # fmt: skip


def test_mapping_point_by_point_and_derived() -> None:
    pts = wholebody_points("7", 3, persons=2)
    kp, sc = wholebody_to_openpose(pts[..., :2], pts[..., 2])
    assert kp.shape == (2, 3, 137, 2) and sc.shape == (2, 3, 137) and kp.dtype == np.float32
    for op, wb in NAMED:
        np.testing.assert_array_equal(kp[..., op, :], pts[..., wb, :2])
        np.testing.assert_array_equal(sc[..., op], pts[..., wb, 2])
    np.testing.assert_allclose(kp[..., 1, :], (pts[..., 5, :2] + pts[..., 6, :2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(kp[..., 8, :], (pts[..., 11, :2] + pts[..., 12, :2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(sc[..., 1], np.minimum(pts[..., 5, 2], pts[..., 6, 2]))
    assert not sc[..., 93:95].any() and not kp[..., 93:95, :].any()  # the pupils


def test_derived_points_need_both_parents_and_unseen_points_are_zero() -> None:
    pts = wholebody_points("8", 2)[0]
    pts[0, 6, 2] = 0.0  # right shoulder not seen in frame 0
    pts[1, 11, 2] = 0.0  # left hip not seen in frame 1
    kp, sc = wholebody_to_openpose(pts[..., :2], pts[..., 2])
    assert sc[0, 1] == 0 and kp[0, 1].tolist() == [0, 0] and sc[1, 1] > 0
    assert sc[1, 8] == 0 and sc[0, 8] > 0
    assert sc[0, 2] == 0 and kp[0, 2].tolist() == [0, 0]  # the unseen shoulder itself
    with pytest.raises(ValueError, match=r"must be \[\.\.\., 133, 2\] .* got \[2, 17, 2\]"):
        wholebody_to_openpose(pts[:, :17, :2], pts[:, :17, 2])


def test_layouts_buildable_and_pupils_refused() -> None:
    assert WHOLEBODY_CARRIED.sum() == 135
    assert layout_indices("imigue41", WHOLEBODY_CARRIED, MMPOSE_SOURCE).tolist() == IMIGUE41
    pupils = Skeleton.from_openpose("pupils", source_indices=(1, 93, 94), limbs=((0, 1), (0, 2)),
                                    center=0)  # fmt: skip
    with pytest.raises(LayoutSourceError, match=r"needs 2 OpenPose point\(s\) .*face_68, face_69"):
        layout_indices(pupils, WHOLEBODY_CARRIED, MMPOSE_SOURCE)


def test_read_mmpose_video_file(tmp_path: Path) -> None:
    pts = wholebody_points("11", 5, persons=2)
    path = tmp_path / "interview.json"
    write_mmpose_video(path, pts, [1, 2, 0, 1, 1])  # frame 2: nobody detected
    keys = read_mmpose_json(path)
    assert keys.keypoint.shape == (2, 5, 137, 2) and keys.source == MMPOSE_SOURCE
    want_kp, want_sc = wholebody_to_openpose(pts[..., :2], pts[..., 2])
    np.testing.assert_allclose(keys.keypoint[0, [0, 1, 3, 4]], want_kp[0, [0, 1, 3, 4]], atol=1e-4)
    np.testing.assert_allclose(keys.keypoint[1, 1], want_kp[1, 1], atol=1e-4)
    assert not keys.score[:, 2].any() and not keys.score[1, [0, 3, 4]].any()
    assert read_mmpose_json(path, max_persons=1).keypoint.shape[0] == 1


def test_read_mmpose_image_folder_with_gaps(tmp_path: Path) -> None:
    pts = wholebody_points("3", 4)
    for t in (0, 1, 3):  # frame 2 has no file: a frame without detections
        doc = [mmpose_instance(pts[0, t])]
        (tmp_path / f"frame_{t:06d}.json").write_text(json.dumps(doc, indent="  "))
    keys = read_mmpose_json(tmp_path)
    assert keys.num_frames == 4 and not keys.score[0, 2].any()
    np.testing.assert_allclose(keys.score[0, 3, 0], pts[0, 3, 0, 2], atol=1e-6)


def test_bad_mmpose_files(tmp_path: Path) -> None:
    pts = wholebody_points("4", 2)
    body_only = mmpose_instance(pts[0, 0])
    body_only["keypoints"] = body_only["keypoints"][:17]
    body_only["keypoint_scores"] = body_only["keypoint_scores"][:17]
    bad = tmp_path / "v.json"
    bad.write_text(json.dumps([{"frame_id": 0, "instances": [body_only]}]))
    with pytest.raises(ValueError, match=r"v\.json: frame 0, instance 0: keypoints \[17, 2\]"):
        read_mmpose_json(bad)
    nan = mmpose_instance(pts[0, 0])
    nan["keypoints"][4][1] = float("nan")
    bad.write_text(json.dumps([{"frame_id": 0, "instances": [nan]}]))
    with pytest.raises(ValueError, match="instance 0: point 4 holds NaN or inf"):
        read_mmpose_json(bad)
    bad.write_text(json.dumps([{"frame_id": 0, "instances": []}, {"frame_id": 0, "instances": []}]))
    with pytest.raises(ValueError, match="frame_id 0 appears twice"):
        read_mmpose_json(bad)
    bad.write_text(json.dumps({"instances": []}))
    with pytest.raises(ValueError, match=r"expected a list of \{'frame_id', 'instances'\}"):
        read_mmpose_json(bad)


def test_prepare_with_mmpose_files(tmp_path: Path) -> None:
    root = tmp_path / "mmpose" / "train"
    pts = wholebody_points("21", 40)
    write_mmpose_video(root / "interview21.json", pts, [1] * 40)
    write_labels(root / "interview21_label.csv", [(5, 0, 9), (99, 20, 39)])
    report = prepare_untrimmed(tmp_path / "mmpose", tmp_path / "u.npz", mmpose=True)
    assert report["layout"] == "imigue41" and report["segments"] == 2
    rec = RecordingSet(tmp_path / "u.npz")[0]
    want, _ = wholebody_to_openpose(pts[..., :2], pts[..., 2])
    np.testing.assert_allclose(rec["keypoint"], want[:, :, IMIGUE41], atol=1e-4)
    assert rec["segments"].tolist() == [[0, 9, 4], [20, 39, 31]]
    clips = prepare_release(tmp_path / "mmpose", tmp_path / "c.npz", mmpose=True)
    assert clips["clips"] == 2
