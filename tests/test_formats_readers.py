"""Raw release readers on files laid out as the real releases: light_hand CSV, MiGA xlsx,
OpenPose JSON folders, label CSVs; what each source carries and which layouts it can build."""

from __future__ import annotations

import json

import numpy as np
import pytest
from release_trees import (
    LEFT_TIPS,
    RIGHT_TIPS,
    openpose_person,
    video_points,
    write_json_video,
    write_labels,
    write_light_hand,
    write_xlsx,
)

from pymg.data.formats import (
    LayoutSourceError,
    Segment,
    buildable_layouts,
    layout_indices,
    map_miga_label,
    read_label_csv,
    read_light_hand_csv,
    read_openpose_json_dir,
    read_openpose_xlsx,
)
from pymg.topology import get_layout


# ----------------------------------------------------------------------------- label CSV
def test_label_csv_rows_and_header(tmp_path):
    path = tmp_path / "0004_label.csv"
    write_labels(path, [(1, 0, 9), (99, 10, 29), (17, 30, 59.0)])
    assert read_label_csv(path) == [
        Segment(1, 0, 9, 1), Segment(99, 10, 29, 2), Segment(17, 30, 59, 3)
    ]  # fmt: skip
    write_labels(path, [(3, 0, 2)], header="label,start_frame,end_frame")
    assert read_label_csv(path) == [Segment(3, 0, 2, 2)]
    write_labels(path, [(0, 19), (20, 49)])  # a challenge test split: start,end only
    assert read_label_csv(path) == [Segment(None, 0, 19, 1), Segment(None, 20, 49, 2)]
    assert [map_miga_label(r) for r in (1, 31, 99, 32)] == [0, 30, 31, 31]
    with pytest.raises(ValueError, match="raw MiGA label must be 1..31, 32 or 99, got 40"):
        map_miga_label(40)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(1, 0, "9O"), (2, 10, 20)], r"_label\.csv:1: end frame must be an integer, got '9O'"),
        ([(1, 0, 9), (2, 10, "inf")], r"_label\.csv:2: end frame must be an integer, got 'inf'"),
        ([(1, 0, 9), (2, "1e400", 20)], r":2: start frame must be an integer, got '1e400'"),
        ([(1, 0, 9), (2, 10.5, 20)], r":2: start frame must be an integer, got '10.5'"),
        ([(1, 0, 9), ("nan", 10, 20)], r":2: class must be an integer, got 'nan'"),
        ([(1, 0, 9), (2, 10)], r":2: mixes labelled \(3-cell\) and unlabelled"),
        ([(1, 0, 9, 4)], r":1: expected class,start,end .*got 4 cells"),
        ([(1, 9, 3)], r":1: end frame 3 before start frame 9"),
        ([(1, -2, 3)], r":1: negative start frame -2"),
    ],
)
def test_label_csv_errors_name_file_and_line(tmp_path, rows, message):
    path = tmp_path / "0004_label.csv"
    write_labels(path, rows)
    with pytest.raises(ValueError, match=message):
        read_label_csv(path)


# ----------------------------------------------------------------------------- light_hand CSV
def test_light_hand_values_at_mapped_points(tmp_path):
    pts = video_points("0187", 12)
    path = tmp_path / "0187_light_hand.csv"
    write_light_hand(path, pts)
    keys = read_light_hand_csv(path)
    assert keys.keypoint.shape == (1, 12, 137, 2) and keys.score.shape == (1, 12, 137)
    assert keys.keypoint.dtype == np.float32 and keys.source == "light_hand CSV"
    carried = list(range(25)) + RIGHT_TIPS + LEFT_TIPS
    assert np.flatnonzero(keys.carried).tolist() == sorted(carried)
    np.testing.assert_allclose(keys.keypoint[0][:, carried], pts[:, carried, :2], atol=1e-3)
    np.testing.assert_allclose(keys.score[0][:, carried], pts[:, carried, 2], atol=1e-3)
    others = np.setdiff1d(np.arange(137), carried)
    assert not keys.keypoint[0][:, others].any() and not keys.score[0][:, others].any()
    swapped = read_light_hand_csv(path, hand_order="left_right")
    np.testing.assert_array_equal(
        swapped.keypoint[0][:, LEFT_TIPS], keys.keypoint[0][:, RIGHT_TIPS]
    )
    np.testing.assert_array_equal(
        swapped.keypoint[0][:, RIGHT_TIPS], keys.keypoint[0][:, LEFT_TIPS]
    )
    with pytest.raises(ValueError, match="hand_order must be one of"):
        read_light_hand_csv(path, hand_order="right")


def test_light_hand_frame_numbers_place_rows(tmp_path):
    pts = video_points("0002", 4)
    path = tmp_path / "0002_light_hand.csv"
    write_light_hand(path, pts, numbers=[0, 1, 4, 5])  # frames 2, 3: no detection
    keys = read_light_hand_csv(path)
    assert keys.num_frames == 6
    np.testing.assert_allclose(keys.keypoint[0, 4, :25], pts[2, :25, :2], atol=1e-3)
    assert not keys.score[0, 2:4].any()
    text = path.read_text()
    path.write_text("frame," + ",".join(f"c{i}" for i in range(105)) + "\n" + text)
    np.testing.assert_array_equal(read_light_hand_csv(path).keypoint, keys.keypoint)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda rows: rows[:1] + [rows[1].replace(",", ",x", 1)] + rows[2:],
            r"_light_hand\.csv:2: column 1 is not a number: 'x",
        ),
        (lambda rows: [rows[0] + ",1.0"] + rows[1:], r"_light_hand\.csv:1: expected 106 values"),
        (
            lambda rows: ["1.5" + rows[0][1:]] + rows[1:],
            r"_light_hand\.csv:1: frame number must be a non-negative integer",
        ),
        (lambda rows: rows + [rows[1]], r"frame 1 appears in 2 rows"),
        (
            lambda rows: [_set_cell(rows[0], 1, "inf")] + rows[1:],
            r"_light_hand\.csv:1: column 1 is not finite",
        ),
        (lambda rows: rows[:2] + [_set_cell(rows[2], 5, "")], None),  # empty cell = 0
        (lambda rows: ["99999999" + rows[0][1:]] + rows[1:], r"more than the 1000000 frames"),
    ],
)
def test_light_hand_errors(tmp_path, edit, message):
    path = tmp_path / "0054_light_hand.csv"
    write_light_hand(path, video_points("0054", 3))
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    if message is None:
        assert read_light_hand_csv(path).keypoint[0, 2, 1, 1] == 0.0  # column 5 = point 1's y
        return
    with pytest.raises(ValueError, match=message):
        read_light_hand_csv(path)


def _set_cell(row: str, column: int, value: str) -> str:
    cells = row.split(",")
    cells[column] = value
    return ",".join(cells)


def test_layouts_from_sources(tmp_path):
    path = tmp_path / "0187_light_hand.csv"
    write_light_hand(path, video_points("0187", 2))
    keys = read_light_hand_csv(path)
    assert buildable_layouts(keys.carried) == ["coco17", "coco17_pyskl", "openpose18", "imigue22"]
    idx = layout_indices("imigue22", keys.carried, keys.source)
    assert idx.tolist() == list(get_layout("imigue22").source_indices)
    with pytest.raises(
        LayoutSourceError,
        match=r"layout 'imigue41' needs 19 OpenPose point\(s\) that light_hand CSV files do not "
        r"carry \(face: face_02, .*face_58\); layouts this source can build: coco17, "
        r"coco17_pyskl, openpose18, imigue22",
    ):
        layout_indices("imigue41", keys.carried, keys.source)


# ----------------------------------------------------------------------------- MiGA'25 xlsx
@pytest.mark.parametrize("engine", ["calamine", "openpyxl"])
@pytest.mark.parametrize("index_column", [False, True])
def test_xlsx_values(tmp_path, engine, index_column):
    pytest.importorskip("python_calamine" if engine == "calamine" else "openpyxl")
    pts = video_points("0010", 5)
    path = tmp_path / "0010_openpose.xlsx"
    write_xlsx(path, pts, index_column=index_column)
    keys = read_openpose_xlsx(path, engine=engine)
    assert keys.keypoint.shape == (1, 5, 137, 2) and keys.carried.all()
    np.testing.assert_array_equal(keys.keypoint[0], pts[..., :2])
    np.testing.assert_array_equal(keys.score[0], pts[..., 2])
    assert buildable_layouts(keys.carried)[-2:] == ["imigue22", "imigue41"]


def test_xlsx_empty_row_is_a_frame_and_errors_name_the_cell(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    pytest.importorskip("python_calamine")
    pts = video_points("0011", 3).reshape(3, -1).tolist()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["x0", "y0", "c0"])
    sheet.append(pts[0])
    sheet.append([None])  # a frame OpenPose wrote nothing for
    sheet.append(pts[1])
    book.save(tmp_path / "gap.xlsx")
    keys = read_openpose_xlsx(tmp_path / "gap.xlsx")
    assert keys.num_frames == 3 and not keys.score[0, 1].any()
    np.testing.assert_allclose(keys.keypoint[0, 2, :, 0], np.asarray(pts[1][0::3]), rtol=1e-6)
    sheet.append(pts[2][:7] + ["x"] + pts[2][8:])
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(ValueError, match=r"bad\.xlsx: row 5, column 8: 'x' is not a finite"):
        read_openpose_xlsx(tmp_path / "bad.xlsx")
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.xlsx: unreadable \.xlsx"):
        read_openpose_xlsx(tmp_path / "junk.xlsx")
    with pytest.raises(ValueError, match="engine must be one of"):
        read_openpose_xlsx(tmp_path / "gap.xlsx", engine="pandas")


# ----------------------------------------------------------------------------- OpenPose JSON
def test_json_gap_is_kept_as_frames_without_detections(tmp_path):
    pts = video_points("0020", 4)
    folder = tmp_path / "0020"
    write_json_video(folder, "0020", pts, numbers=[0, 1, 4, 5])
    keys = read_openpose_json_dir(folder)
    assert keys.keypoint.shape == (1, 6, 137, 2) and keys.carried.all()
    np.testing.assert_allclose(keys.keypoint[0, [0, 1, 4, 5]], pts[..., :2])
    np.testing.assert_allclose(keys.score[0, [0, 1, 4, 5]], pts[..., 2])
    assert not keys.keypoint[0, 2:4].any() and not keys.score[0, 2:4].any()


def test_json_people_and_parts(tmp_path):
    pts = video_points("0021", 2)
    folder = tmp_path / "v"
    folder.mkdir()
    two = {"people": [openpose_person(pts[0], face=False), openpose_person(pts[1])]}
    (folder / "v_000000000000_keypoints.json").write_text(json.dumps(two))
    (folder / "v_000000000001_keypoints.json").write_text(json.dumps({"people": []}))
    keys = read_openpose_json_dir(folder)
    assert keys.keypoint.shape == (2, 2, 137, 2)
    assert not keys.score[0, 0, 25:95].any() and keys.score[0, 0, :25].all()
    np.testing.assert_allclose(keys.keypoint[1, 0], pts[1, :, :2])
    assert not keys.score[:, 1].any()
    assert read_openpose_json_dir(folder, max_persons=1).keypoint.shape[0] == 1


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"people": ["not a person"]}, r"_000000000003_keypoints\.json: person 0 is a str"),
        ({"people": [{"pose_keypoints_2d": [1.0] * 10}]}, r"pose_keypoints_2d has 10 values"),
        ({"people": [{"pose_keypoints_2d": [None] * 75}]}, "NaN, inf or nested"),
        ({"persons": []}, r"expected an object with a 'people' list"),
    ],
)
def test_json_errors_name_the_file(tmp_path, doc, message):
    folder = tmp_path / "v"
    write_json_video(folder, "v", video_points("0022", 1), numbers=[0])
    (folder / "v_000000000003_keypoints.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message):
        read_openpose_json_dir(folder)


def test_json_duplicate_frame_numbers(tmp_path):
    folder = tmp_path / "v"
    write_json_video(folder, "v", video_points("0023", 1), numbers=[7])
    (folder / "v_7_keypoints.json").write_text(json.dumps({"people": []}))
    with pytest.raises(ValueError, match="are both frame 7"):
        read_openpose_json_dir(folder)
