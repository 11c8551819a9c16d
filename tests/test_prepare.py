"""`prepare_release` on release trees laid out as the real ones: splits, clip ids, labels,
values at the mapped joints, JSON gaps, unlabelled clips, errors under skip, the report."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from release_trees import (
    make_imigue_release,
    make_miga25_release,
    video_points,
    write_json_video,
    write_labels,
)

from pymg.data import NativeClips, PoseDataset, SplitError, prepare_pyskl, prepare_release
from pymg.data.formats import LayoutSourceError, MalformedClipError
from pymg.topology import get_layout

IMIGUE22 = list(get_layout("imigue22").source_indices)
IMIGUE41 = list(get_layout("imigue41").source_indices)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.info: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        kind = self.warnings if record.levelno >= logging.WARNING else self.info
        kind.append(record.getMessage())


@contextmanager
def logged() -> Iterator[_Lines]:
    """The info lines and warnings of the ``pymg`` logger inside the block."""
    lines = _Lines()
    logger = logging.getLogger("pymg")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)


@contextmanager
def warns(pattern: str) -> Iterator[_Lines]:
    """Like pytest.warns, for the warnings of the ``pymg`` logger."""
    with logged() as lines:
        yield lines
    assert any(re.search(pattern, w) for w in lines.warnings), lines.warnings


def _quiet(*args, **kwargs):
    with logged() as lines:
        report = prepare_release(*args, **kwargs)
    assert not lines.warnings
    return report


def test_imigue_release_folders_define_the_split(tmp_path):
    root = make_imigue_release(tmp_path / "iMiGUE")
    report = _quiet(root, tmp_path / "out.npz", layout="imigue22")
    assert report["split_rule"] == "folders" and report["layout"] == "imigue22"
    assert report["videos"] == 4 and report["clips"] == 9 and report["skipped"] == 0
    assert {k: (v["videos"], v["clips"], v["frames"]) for k, v in report["splits"].items()} == {
        "train": (2, 5, 100), "val": (1, 2, 30), "test": (1, 2, 50)
    }  # fmt: skip
    clips = NativeClips(tmp_path / "out.npz")
    assert clips.splits == {
        "train": ["0004_0", "0004_1", "0004_2", "0187_0", "0187_1"],
        "val": ["0002_0", "0002_1"],
        "test": ["0054_0", "0054_1"],
    }
    by_name = {c["frame_dir"]: c for c in clips}
    assert [by_name[f"0004_{k}"]["label"] for k in range(3)] == [0, 31, 16]  # 1, 99, 17
    assert [by_name["0187_0"]["label"], by_name["0002_0"]["label"]] == [30, 21]
    assert by_name["0054_0"]["label"] == by_name["0054_1"]["label"] == -1
    clip = by_name["0004_1"]  # frames 10..29 of video 0004
    pts = video_points("0004", 60)
    assert clip["keypoint"].shape == (1, 20, 22, 2) and clip["start_frame"] == 10
    np.testing.assert_allclose(clip["keypoint"][0], pts[10:30, IMIGUE22, :2], atol=1e-3)
    np.testing.assert_allclose(clip["keypoint_score"][0], pts[10:30, IMIGUE22, 2], atol=1e-3)
    assert clip["video"] == "0004" and clip["img_shape"] == (720, 1280)


def test_imigue_release_cannot_build_imigue41(tmp_path):
    root = make_imigue_release(tmp_path / "iMiGUE")
    with pytest.raises(LayoutSourceError, match="layouts this source can build: .*imigue22"):
        prepare_release(root, tmp_path / "out.npz", layout="imigue41")
    assert not (tmp_path / "out.npz").exists()


def test_no_split_information_names_the_options(tmp_path):
    root = make_imigue_release(tmp_path / "interview")
    flat = tmp_path / "interview_flat"
    for video in ("0004", "0187"):
        shutil.copytree(next(root.rglob(video)), flat / video)
    with pytest.raises(SplitError, match="train/validate/test.*--split-file.*--subjects"):
        prepare_release(flat, tmp_path / "out.npz", layout="imigue22")
    shutil.copytree(next(root.rglob("0054")), flat / "test" / "0054")
    with pytest.raises(SplitError, match=r"videos \['0004', '0187'\] are under no"):
        prepare_release(flat, tmp_path / "out.npz", layout="imigue22")


def test_split_file_in_test_id_form(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    ids = tmp_path / "test_id.txt"
    ids.write_text("0187_1,0002_0,0002_1,0002_1")  # one line, last id duplicated
    unlabelled = r"split 'train': 2 unlabelled clip\(s\) from video\(s\) 0054 \(no _label.csv\)"
    with warns(unlabelled):  # 0054 has no label file and --split-rest puts it in train
        report = prepare_release(
            root, tmp_path / "out.npz", layout="imigue22", split_files=[f"test={ids}"],
            split_rest="train",
        )  # fmt: skip
    assert report["split_rule"] == "split file"
    splits = NativeClips(tmp_path / "out.npz").splits
    assert splits["test"] == ["0002_0", "0002_1", "0187_1"]
    assert splits["train"] == ["0004_0", "0004_1", "0004_2", "0054_0", "0054_1", "0187_0"]
    ids.write_text("0187_1,0002_0,0002_1,0002_1,0002_7,0300")
    unknown = r"2 id\(s\) of the split files match no clip or video: 0002_7, 0300"
    with warns(unknown):
        prepare_release(
            root, tmp_path / "o1.npz", "imigue22", split_files=[f"test={ids}"], split_rest="train"
        )
    (tmp_path / "s.json").write_text('{"train": ["0004"], "test": ["0054"]}')
    with warns("4 clip\\(s\\) are named by no split file"):
        prepare_release(
            root, tmp_path / "o2.npz", layout="imigue22", split_files=[str(tmp_path / "s.json")]
        )
    assert NativeClips(tmp_path / "o2.npz").splits == {
        "train": ["0004_0", "0004_1", "0004_2"], "test": ["0054_0", "0054_1"]
    }  # fmt: skip


def test_subjects_cross_subject_protocol(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    table = tmp_path / "subjects.csv"
    table.write_text("video,subject\n4,2\n0187,3\n0002,2\n0054,71\n")  # 4 = 0004
    report = _quiet(
        root, tmp_path / "out.npz", layout="imigue22", subjects=table, train_subjects=[2]
    )
    assert report["split_rule"] == "subjects"
    clips = NativeClips(tmp_path / "out.npz")
    assert clips.splits["train"] == ["0002_0", "0002_1", "0004_0", "0004_1", "0004_2"]
    assert clips.splits["test"] == ["0054_0", "0054_1", "0187_0", "0187_1"]
    assert clips.extra["subject"][clips.names.index("0187_0")] == 3
    table.write_text("0004,2\n")
    with pytest.raises(MalformedClipError, match="clip '0002': video not in the subjects file"):
        prepare_release(root, tmp_path / "o.npz", layout="imigue22", subjects=table)
    with pytest.raises(SplitError, match="either split files or subjects"):
        prepare_release(root, tmp_path / "o.npz", "imigue22", subjects=table, split_files=["x=y"])


def test_miga25_xlsx_release_builds_imigue41(tmp_path):
    pytest.importorskip("python_calamine")
    pytest.importorskip("openpyxl")
    root = make_miga25_release(
        tmp_path / "miga" / "train",
        {"0031": 12, "0032": 8},
        {"0031": [(28, 0, 4), (99, 5, 11)], "0032": [(3, 2, 7)]},
    )
    report = _quiet(root.parent, tmp_path / "out.npz")
    assert report["layout"] == "imigue41" and report["splits"]["train"]["clips"] == 3
    clips = {c["frame_dir"]: c for c in NativeClips(tmp_path / "out.npz")}
    pts = video_points("0031", 12)
    np.testing.assert_array_equal(clips["0031_1"]["keypoint"][0], pts[5:12, IMIGUE41, :2])
    assert clips["0031_0"]["label"] == 27 and clips["0032_0"]["total_frames"] == 6
    assert report["splits"]["train"]["missing"] == {"body": 0.0, "right hand": 0.0,
                                                    "left hand": 0.0, "face": 0.0}  # fmt: skip


def test_json_release_with_a_gap_keeps_labels_on_their_frames(tmp_path):
    root = tmp_path / "json_release" / "test"
    pts = video_points("0077", 8)
    numbers = [0, 1, 2, 6, 7, 8, 9, 10]  # frames 3-5 have no file
    write_json_video(root / "0077", "0077", pts, numbers)
    write_labels(root / "0077" / "0077_label.csv", [(2, 0, 2), (4, 6, 10)])
    report = _quiet(root.parent, tmp_path / "out.npz", layout="imigue41")
    clips = {c["frame_dir"]: c for c in NativeClips(tmp_path / "out.npz")}
    assert report["splits"]["test"]["frames"] == 8
    np.testing.assert_allclose(clips["0077_1"]["keypoint"][0], pts[3:, IMIGUE41, :2], rtol=1e-6)
    write_labels(root / "0077" / "0077_label.csv", [(4, 2, 6)])  # spans the gap
    _quiet(root.parent, tmp_path / "o.npz", layout="imigue41")
    clip = NativeClips(tmp_path / "o.npz")[0]
    assert clip["total_frames"] == 5 and not clip["keypoint_score"][0, 1:4].any()
    assert clip["keypoint_score"][0, [0, 4]].all()


def test_joints_missing_in_most_frames_are_reported(tmp_path):
    import json

    root = tmp_path / "release" / "train"
    write_json_video(root / "0078", "0078", video_points("0078", 4), [0, 1, 2, 3])
    for path in sorted((root / "0078").glob("*.json"))[:3]:  # face off in 3 of 4 frames
        doc = json.loads(path.read_text())
        doc["people"][0]["face_keypoints_2d"] = []
        path.write_text(json.dumps(doc))
    write_labels(root / "0078" / "0078_label.csv", [(4, 0, 3)])
    with warns(r"video 0078: 19 joint\(s\) undetected in most "
                      r"frames \(cheek_r 75%, jaw_r 75%, .*\)"):  # fmt: skip
        report = prepare_release(root.parent, tmp_path / "o.npz", layout="imigue41")
    assert report["splits"]["train"]["missing"]["face"] == pytest.approx(0.75)
    assert report["splits"]["train"]["missing"]["body"] == 0.0


def test_malformed_files_are_skippable_and_named(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    write_labels(
        root / "imigue_skeleton_train" / "0187" / "0187_label.csv", [(31, 0, 14), (5, 15, "inf")]
    )
    with pytest.raises(MalformedClipError, match=r"clip '0187': .*0187_label\.csv:2: end frame"):
        prepare_release(root, tmp_path / "o.npz", layout="imigue22")
    (root / "imigue_skeleton_train" / "0004" / "0004_label.csv").write_text("40,0,9\n1,10,200\n")
    orphan = root / "imigue_skeleton_train" / "0999"
    orphan.mkdir()
    write_labels(orphan / "0999_label.csv", [(1, 0, 4)])
    with logged() as lines:
        report = prepare_release(root, tmp_path / "o.npz", layout="imigue22", on_error="skip")
    assert report["skipped"] == 3  # video 0999 (no keypoints), video 0187, clip 0004_0
    text = "\n".join(lines.warnings)
    assert "skipped 0999: " in text and "no keypoints next to it" in text
    assert "skipped 0187: " in text and "0187_label.csv:2" in text
    assert re.search(  # the unknown class is named with its file and line
        r"skipped 0004_0: \S+0004_label\.csv:1: raw MiGA label must be 1..31, 32 or 99, got 40",
        text,
    )
    assert "skipped 0004_1" not in text  # frames 10..200 start inside the 60 frames: padded
    assert NativeClips(tmp_path / "o.npz").splits["train"] == ["0004_1"]
    assert lines.info[0].split()[:4] == ["split", "videos", "clips", "frames"]


def test_img_shape_outliers_are_reported(tmp_path):
    root = make_imigue_release(tmp_path / "release", {"0001": ("train", 10, [(1, 0, 9)])})
    with warns(r"video 0001: .*% of the detected points lie well "
                      r"outside the 360x640 image .*check --img-shape H W"):  # fmt: skip
        prepare_release(root, tmp_path / "o.npz", layout="imigue22", img_shape=(360, 640))
    with pytest.raises(ValueError, match="img_shape must be two positive integers"):
        prepare_release(root, tmp_path / "o.npz", layout="imigue22", img_shape=(0, 640))


def test_unlabelled_split_loads_with_label_minus_one(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    shutil.rmtree(root / "imigue_skeleton_validate")
    (root / "imigue_skeleton_test" / "0054" / "0054_label.csv").unlink()  # no label file
    _quiet(root, tmp_path / "out.npz", layout="imigue22")
    test = PoseDataset(tmp_path / "out.npz", split="test", layout="imigue22")
    assert len(test) == 1 and test.names == ["0054_0"] and test.labels.tolist() == [-1]
    assert test[0]["label"] == -1 and test[0]["length"] == 50  # the whole video
    train = PoseDataset(tmp_path / "out.npz", split="train", layout="imigue22")
    assert train.labels.tolist() == [0, 31, 16, 30, 4]


def test_without_layout_the_richest_layout_the_source_carries_is_chosen(tmp_path):
    root = make_imigue_release(tmp_path / "release")  # _light_hand.csv: no face points
    with logged() as lines:
        report = prepare_release(root, tmp_path / "out.npz")
    assert report["layout"] == "imigue22" and NativeClips(tmp_path / "out.npz").layout == "imigue22"
    assert any(
        line.startswith("layout imigue22: the richest iMiGUE layout the ")
        and "imigue41 needs" in line
        for line in lines.info
    ), lines.info
    with pytest.raises(LayoutSourceError, match="layout 'imigue41' needs"):  # asked: refused
        prepare_release(root, tmp_path / "o.npz", layout="imigue41")


def test_parent_folders_of_the_output_are_created(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    out = tmp_path / "data" / "deeper" / "imigue22.npz"
    _quiet(root, out, layout="imigue22")
    assert NativeClips(out).layout == "imigue22"


def test_a_train_folder_video_without_labels_is_named_in_a_warning(tmp_path):
    root = make_imigue_release(tmp_path / "release")
    (root / "imigue_skeleton_train" / "0187" / "0187_label.csv").unlink()
    with warns(r"split 'train': 1 unlabelled clip\(s\) from video\(s\) 0187 \(no _label.csv\)"):
        prepare_release(root, tmp_path / "out.npz", layout="imigue22")


def _pickle(tmp_path, v: int) -> object:
    from pymg.data.formats import save_pyskl

    rng = np.random.default_rng(v)
    anns = [
        {"frame_dir": f"c{i}", "label": i % 2, "img_shape": (720, 1280), "total_frames": 6,
         "keypoint": rng.uniform(1, 700, (1, 6, v, 2)).astype(np.float32),
         "keypoint_score": rng.uniform(0.1, 1, (1, 6, v)).astype(np.float32)}
        for i in range(4)
    ]  # fmt: skip
    path = tmp_path / f"v{v}.pkl"
    save_pyskl(path, anns, {"train": ["c0", "c1"], "test": ["c2", "c3"]})
    return path


def test_pyskl_pickles_record_their_layout(tmp_path):
    report = prepare_pyskl(_pickle(tmp_path, 22), tmp_path / "new" / "a.npz")
    assert report["layout"] == "imigue22" and NativeClips(tmp_path / "new" / "a.npz").layout == (
        "imigue22"
    )
    with logged() as lines:  # 17 joints: coco17 or coco17_pyskl; V alone does not say
        report = prepare_pyskl(_pickle(tmp_path, 17), tmp_path / "b.npz")
    assert report["layout"] is None
    assert any("pass source_layout" in w and "--source-layout" in w for w in lines.warnings)
    report = prepare_pyskl(_pickle(tmp_path, 17), tmp_path / "c.npz", source_layout="coco17")
    assert report["layout"] == "coco17" and NativeClips(tmp_path / "c.npz").layout == "coco17"
    report = prepare_pyskl(_pickle(tmp_path, 41), tmp_path / "d.npz", layout="imigue22")
    assert report["layout"] == "imigue22"
    assert NativeClips(tmp_path / "d.npz")[0]["keypoint"].shape == (1, 6, 22, 2)
