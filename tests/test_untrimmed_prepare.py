"""`prepare_untrimmed` and `pymg prepare --untrimmed` on release trees laid out as the real ones:
iMiGUE (light_hand), SMG (Kinect v2 CSV + finelabels), bad label rows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from release_trees import (
    SMG_VIDEOS,
    make_imigue_release,
    make_smg_release,
    smg_values,
    video_points,
    write_labels,
    write_smg_video,
)

from pymg.cli import main
from pymg.data import RecordingSet, prepare_untrimmed
from pymg.data.formats import LayoutSourceError, MalformedClipError
from pymg.data.formats.smg_kinect import read_smg_skeleton_csv
from pymg.topology import get_layout

IMIGUE22 = list(get_layout("imigue22").source_indices or ())


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return prepare_untrimmed(*args, **kwargs)


def test_imigue_release_whole_videos_with_segments(tmp_path: Path) -> None:
    root = make_imigue_release(tmp_path / "iMiGUE")
    report = _quiet(root, tmp_path / "u.npz", layout="imigue22")
    assert (report["videos"], report["segments"], report["split_rule"]) == (4, 7, "folders")
    assert report["splits"]["train"] == {"videos": 2, "labelled": 2, "segments": 5, "frames": 100}
    recs = RecordingSet(tmp_path / "u.npz")
    assert recs.splits == {"train": ["0004", "0187"], "val": ["0002"], "test": ["0054"]}
    assert recs.num_classes == 32 and recs.layout == "imigue22"
    by = {r["frame_dir"]: r for r in recs}
    # 0004_label.csv: 1,0,9 / 99,10,29 / 17,30,59 -> classes 0, 31, 16
    assert by["0004"]["segments"].tolist() == [[0, 9, 0], [10, 29, 31], [30, 59, 16]]
    assert by["0054"]["labelled"] is False and by["0054"]["segments"].shape == (0, 3)
    pts = video_points("0004", 60)
    np.testing.assert_allclose(by["0004"]["keypoint"][0], pts[:, IMIGUE22, :2], atol=1e-3)
    np.testing.assert_allclose(by["0004"]["keypoint_score"][0], pts[:, IMIGUE22, 2], atol=1e-3)
    assert by["0004"]["total_frames"] == 60 and by["0004"]["img_shape"] == (720, 1280)


def _one_video(tmp_path: Path, rows: list) -> Path:
    root = make_imigue_release(tmp_path / "r", {"0004": ("train", 60, [(1, 0, 9)])})
    write_labels(root / "imigue_skeleton_train" / "0004" / "0004_label.csv", rows)
    return root


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(1, 0, 9), (5, 20, 30), (1, 5, 12)], r"0004_label\.csv:3: segment 5\.\.12 of class 0 "
         r"overlaps the one ending at frame 9 \(.*0004_label\.csv:1\)"),
        ([(1, 0, 9), (2, 60, 70)], r"0004_label\.csv:2: segment 60\.\.70 starts after the last "
         r"keypoint frame 59"),
        ([(45, 0, 9)], r"0004_label\.csv:1: raw MiGA label must be 1\.\.31, 32 or 99, got 45"),
        ([(1, 9, 3)], r"0004_label\.csv:1: end frame 3 before start frame 9"),
        ([(1, 0, 900)], r"0004_label\.csv:1: segment 0\.\.900 ends 841 frames "
         r"past the video's 60 keypoint frames \(at most 250 are allowed\)"),
    ],
)  # fmt: skip
def test_bad_label_rows_name_file_and_line(tmp_path: Path, rows: list, message: str) -> None:
    root = _one_video(tmp_path, rows)
    with pytest.raises(MalformedClipError, match=message):
        prepare_untrimmed(root, tmp_path / "u.npz", layout="imigue22")
    assert not (tmp_path / "u.npz").exists()


def test_unsorted_rows_sorted_and_overhang_padded(tmp_path: Path) -> None:
    root = _one_video(tmp_path, [(3, 40, 64), (1, 0, 9), (2, 5, 20)])
    _quiet(root, tmp_path / "u.npz", layout="imigue22")
    rec = RecordingSet(tmp_path / "u.npz")[0]
    assert rec["segments"].tolist() == [[0, 9, 0], [5, 20, 1], [40, 64, 2]]
    assert rec["total_frames"] == 65  # 60 keypoint frames + 5 frames without detections
    assert not rec["keypoint_score"][:, 60:].any()


def test_skip_drops_the_bad_video_and_reports_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_imigue_release(tmp_path / "iMiGUE")
    write_labels(root / "imigue_skeleton_train" / "0187" / "0187_label.csv", [(1, 0, 9), (1, 3, 5)])
    with caplog.at_level("INFO", logger="pymg"):
        report = prepare_untrimmed(root, tmp_path / "u.npz", "imigue22", on_error="skip")
    assert report["skipped"] == 1 and report["videos"] == 3
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(m.startswith("skipped 0187: ") and "overlaps" in m for m in warned)
    assert any(m.startswith("split") and "segments" in m for m in caplog.messages)
    assert "0187" not in RecordingSet(tmp_path / "u.npz").names


def test_smg_release_as_the_starter_kit_reads_it(tmp_path: Path) -> None:
    root = make_smg_release(tmp_path / "SMG")
    report = _quiet(root, tmp_path / "smg.npz")
    assert report["layout"] == "kinect25" and report["split_rule"] == "folders"
    recs = RecordingSet(tmp_path / "smg.npz")
    assert recs.splits == {"train": ["Sample0001", "Sample0002"], "val": ["Sample0036"]}
    assert recs.num_classes == 17
    rec = {r["frame_dir"]: r for r in recs}["Sample0001"]
    # finelabels 3,11,40 / 17,50,80 / 1,41,49: the kit reads getSkeleton(start..end), frames
    # numbered from 1, so 0-based rows start-1..end-1; classes 1-based -> 0-based
    assert rec["segments"].tolist() == [[10, 39, 2], [40, 48, 0], [49, 79, 16]]
    values = smg_values("Sample0001", 80)
    np.testing.assert_allclose(rec["keypoint"][0], values[:, :, 9:11], atol=1e-3)  # colour
    assert rec["img_shape"] == (1080, 1920) and rec["keypoint"].shape == (1, 80, 25, 2)
    assert (rec["keypoint_score"] == 1).all()
    kit_rows = [r - 1 for r in range(11, 41)]  # getSkeleton(11) .. getSkeleton(40)
    np.testing.assert_allclose(rec["keypoint"][0, 10:40], values[kit_rows, :, 9:11], atol=1e-3)


def test_smg_pixel_pair_is_found_and_can_be_forced(tmp_path: Path) -> None:
    values = smg_values("Sample0009", 12, color_first=True)
    values[3, 5, 9:11] = -np.inf  # the SDK's position of a joint it cannot map
    values[4] = 0.0  # no body tracked in this frame
    write_smg_video(tmp_path, "Sample0009", values, None)
    keys, shape = read_smg_skeleton_csv(tmp_path / "Sample0009_skeleton.csv")
    np.testing.assert_allclose(keys.keypoint[0, 5], values[5, :, 7:9], atol=1e-3)
    assert shape == (1080, 1920)
    forced, depth_shape = read_smg_skeleton_csv(tmp_path / "Sample0009_skeleton.csv", "second")
    assert depth_shape == (424, 512)
    assert forced.score[0, 3, 5] == 0 and forced.keypoint[0, 3, 5].tolist() == [0.0, 0.0]
    assert not forced.score[0, 4].any() and keys.score[0, 3, 5] == 1  # pair 7-8 is finite there
    with pytest.raises(ValueError, match="pixel must be 'auto', 'first' or 'second'"):
        read_smg_skeleton_csv(tmp_path / "Sample0009_skeleton.csv", "color")


def test_smg_data_csv_frames_and_bad_rows(tmp_path: Path) -> None:
    write_smg_video(tmp_path, "Sample0003", smg_values("Sample0003", 10), None)
    (tmp_path / "Sample0003_data.csv").write_text("14,30,4500\n", encoding="utf-8")
    keys, _ = read_smg_skeleton_csv(tmp_path / "Sample0003_skeleton.csv")
    assert keys.num_frames == 14 and not keys.score[0, 10:].any()
    path = tmp_path / "Sample0003_skeleton.csv"
    lines = path.read_text().splitlines()
    lines[6] = lines[6].replace(lines[6].split(",")[40], "abc", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ValueError, match=r"Sample0003_skeleton\.csv:7: value 41 \(joint 3\) is not"
    ):
        read_smg_skeleton_csv(path)
    lines[6] = ",".join(lines[6].split(",")[:200])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"csv:7: expected 275 values \(25 joints x 11\), got 200"):
        read_smg_skeleton_csv(path)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(3, 0, 10)], r"Sample0002_finelabels\.csv:1: frame 0 comes before the first frame "
         r"\(numbered 1"),
        ([(18, 1, 10)], r"Sample0002_finelabels\.csv:1: SMG class must be 1\.\.17, got 18"),
    ],
)  # fmt: skip
def test_smg_bad_rows(tmp_path: Path, rows: list, message: str) -> None:
    root = make_smg_release(tmp_path / "SMG", {"Sample0002": ("train", 45, rows)})
    with pytest.raises(MalformedClipError, match=message):
        prepare_untrimmed(root, tmp_path / "smg.npz")


def test_smg_layout_and_mixing_are_refused(tmp_path: Path) -> None:
    root = make_smg_release(tmp_path / "SMG", {"Sample0002": SMG_VIDEOS["Sample0002"]})
    with pytest.raises(LayoutSourceError, match="SMG files hold the 25 Kinect v2 joints"):
        prepare_untrimmed(root, tmp_path / "x.npz", layout="imigue41")
    _quiet(root, tmp_path / "ntu.npz", layout="ntu25")
    assert RecordingSet(tmp_path / "ntu.npz").layout == "ntu25"
    make_imigue_release(root / "imigue", {"0004": ("train", 20, [(1, 0, 9)])})
    with pytest.raises(ValueError, match=r"mixes SMG Kinect skeletons with \['light_hand'\]"):
        prepare_untrimmed(root, tmp_path / "x.npz")
    from pymg.data import prepare_release

    with pytest.raises(ValueError, match=r"use `pymg prepare --untrimmed`"):
        prepare_release(root, tmp_path / "x.npz", layout="imigue22")


def test_kinect25_mirror_pairs() -> None:
    k = get_layout("kinect25")
    perm = k.joint_flip_perm
    pairs = {(k.joints[a], k.joints[perm[a]]) for a in range(25)}
    assert ("shoulder_l", "shoulder_r") in pairs and ("thumb_r", "thumb_l") in pairs
    assert perm[k.index("head")] == k.index("head") and k.center == k.index("spine_shoulder")
    from pymg.data.formats.joints import joint_index_map

    assert joint_index_map("ntu25", k, 25) is None


def test_cli_prepare_untrimmed_then_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_imigue_release(tmp_path / "iMiGUE")
    out = tmp_path / "u.npz"
    assert (
        main(["prepare", str(root), "--out", str(out), "--untrimmed", "--layout", "imigue22"]) == 0
    )
    text = capsys.readouterr().out
    assert "4 whole videos, 7 segments, layout imigue22, splits by folders" in text
    det = tmp_path / "det.csv"
    det.write_text(
        "video,start,end,label,score\n0004,0,9,0,0.9\n0187,0,14,30,0.8\n0187,20,39,3,0.7\n"
    )
    args = ["evaluate-detections", str(det), "--gt", str(out), "--split", "train"]
    assert main(args) == 0
    # train ground truth: 5 segments; detections 2 right, 1 wrong class: P 2/3, R 2/5
    assert "precision 66.67%  recall 40.00%  (TP 2, 3 detections, 5 ground truths" in (
        capsys.readouterr().out
    )


def test_cli_prepare_untrimmed_smg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_smg_release(tmp_path / "SMG")
    out = tmp_path / "smg.npz"
    assert main(["prepare", str(root), "--out", str(out), "--untrimmed", "--pixel", "first"]) == 0
    assert "3 whole videos, 6 segments, layout kinect25" in capsys.readouterr().out
    rec = RecordingSet(out)[0]
    np.testing.assert_allclose(
        rec["keypoint"][0], smg_values("Sample0001", 80)[:, :, 7:9], atol=1e-3
    )
    assert rec["img_shape"] == (424, 512)
    assert main(["prepare", str(root), "--out", str(out), "--untrimmed", "--frame-base", "0"]) == 0
    assert RecordingSet(out)[0]["segments"][0].tolist() == [11, 40, 2]


def test_miga25_xlsx_whole_videos_build_imigue41(tmp_path: Path) -> None:
    from release_trees import make_miga25_release

    root = make_miga25_release(
        tmp_path / "miga25" / "train", {"v1": 30}, {"v1": [(99, 12, 20), (3, 0, 11)]}
    )
    _quiet(root.parent, tmp_path / "u.npz")  # default layout imigue41: all 137 points carried
    rec = RecordingSet(tmp_path / "u.npz")[0]
    assert rec["segments"].tolist() == [[0, 11, 2], [12, 20, 31]]
    imigue41 = list(get_layout("imigue41").source_indices or ())
    np.testing.assert_allclose(
        rec["keypoint"][0], video_points("v1", 30)[:, imigue41, :2], atol=1e-3
    )
