"""Writers of small raw releases laid out exactly as the real ones (for the release tests).

* iMiGUE / MiGA'23: ``imigue_skeleton_{train,validate,test}/<NNNN>/<NNNN>_light_hand.csv`` (no
  header, 106 columns: frame number, 25 BODY_25 points, 5 right then 5 left fingertips, each
  x, y, conf) and ``<NNNN>_label.csv`` (no header, ``class,start,end``, 0-based, end inclusive).
* MiGA'25: ``<video>_openpose.xlsx`` (a header row, then 411 values per frame) next to
  ``<video>_label.csv``, all videos in one folder.
* OpenPose JSON: ``<video>/<video>_<12-digit frame>_keypoints.json``, one file per frame.

Every video's points come from :func:`video_points`, so a test can recompute what any frame
and joint must hold.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

RIGHT_TIPS = [116 + k for k in (4, 8, 12, 16, 20)]
LEFT_TIPS = [95 + k for k in (4, 8, 12, 16, 20)]
LIGHT_HAND_POINTS = list(range(25)) + RIGHT_TIPS + LEFT_TIPS


def video_points(video: str, frames: int) -> np.ndarray:
    """Deterministic OpenPose-137 points of a video: float32 [F, 137, 3] (x, y, conf > 0)."""
    rng = np.random.default_rng(int("".join(c for c in video if c.isdigit()) or "7"))
    pts = np.empty((frames, 137, 3), np.float32)
    pts[..., 0] = rng.uniform(10, 1270, (frames, 137))
    pts[..., 1] = rng.uniform(10, 710, (frames, 137))
    pts[..., 2] = rng.uniform(0.05, 1.0, (frames, 137))
    return np.round(pts, 3)


def write_labels(path: Path, rows: Iterable[Sequence[object]], header: str | None = None) -> None:
    """A label CSV: optional header line, then the rows as written."""
    lines = [header] if header else []
    lines += [",".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_light_hand(path: Path, pts: np.ndarray, numbers: Sequence[int] | None = None) -> None:
    """A ``_light_hand.csv``: row = frame number + the 35 points of ``pts`` [F, 137, 3]."""
    numbers = list(range(len(pts))) if numbers is None else list(numbers)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for n, frame in zip(numbers, pts, strict=True):
            writer.writerow([n, *(f"{v:.3f}" for v in frame[LIGHT_HAND_POINTS].reshape(-1))])


def write_xlsx(path: Path, pts: np.ndarray, index_column: bool = False) -> None:
    """A MiGA'25 ``_openpose.xlsx``: a header row, then 411 (or 412) values per frame."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    header = [f"p{i}_{c}" for i in range(137) for c in "xyc"]
    sheet.append((["frame"] if index_column else []) + header)
    for t, frame in enumerate(pts):
        values = [float(v) for v in frame.reshape(-1)]
        sheet.append(([t] if index_column else []) + values)
    book.save(path)


def openpose_person(frame: np.ndarray, face: bool = True, hands: bool = True) -> dict:
    """An OpenPose JSON person from one frame of points [137, 3]."""
    flat = [float(v) for v in frame.reshape(-1)]
    return {
        "person_id": [-1],
        "pose_keypoints_2d": flat[: 25 * 3],
        "face_keypoints_2d": flat[25 * 3 : 95 * 3] if face else [],
        "hand_left_keypoints_2d": flat[95 * 3 : 116 * 3] if hands else [],
        "hand_right_keypoints_2d": flat[116 * 3 :] if hands else [],
    }


def write_json_video(folder: Path, video: str, pts: np.ndarray, numbers: Sequence[int]) -> None:
    """OpenPose JSON files for the frames ``numbers`` (frame ``numbers[i]`` holds ``pts[i]``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, frame in zip(numbers, pts, strict=True):
        doc = {"version": 1.3, "people": [openpose_person(frame)]}
        (folder / f"{video}_{n:012d}_keypoints.json").write_text(json.dumps(doc))


IMIGUE_VIDEOS = {
    # video: (folder split, frames, label rows or None for an unlabelled 2-column file)
    "0004": ("train", 60, [(1, 0, 9), (99, 10, 29), (17, 30, 59)]),
    "0187": ("train", 40, [(31, 0, 14), (5, 15, 39)]),
    "0002": ("validate", 30, [(22, 0, 11), (99, 12, 29)]),
    "0054": ("test", 50, None),
}


def make_imigue_release(root: Path, videos: dict = IMIGUE_VIDEOS) -> Path:
    """The public iMiGUE skeleton layout; the test videos' label files hold only start,end."""
    for video, (split, frames, rows) in videos.items():
        folder = root / f"imigue_skeleton_{split}" / video
        folder.mkdir(parents=True)
        write_light_hand(folder / f"{video}_light_hand.csv", video_points(video, frames))
        if rows is None:
            write_labels(folder / f"{video}_label.csv", [(0, 19), (20, 49)])
        else:
            write_labels(folder / f"{video}_label.csv", rows)
    return root


def make_miga25_release(root: Path, videos: dict[str, int], labels: dict[str, list]) -> Path:
    """MiGA'25: ``<video>_openpose.xlsx`` + ``<video>_label.csv`` side by side in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for video, frames in videos.items():
        write_xlsx(root / f"{video}_openpose.xlsx", video_points(video, frames))
        write_labels(root / f"{video}_label.csv", labels[video])
    return root


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
        'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
        'r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
        'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def xlsx_column(index: int) -> str:
    """Spreadsheet column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def xlsx_row(r: int, values: Sequence[object]) -> str:
    """One ``<row>`` of a sheet (1-based row ``r``): numbers, booleans (``t="b"``) or text."""
    cells = []
    for j, v in enumerate(values):
        ref = f"{xlsx_column(j)}{r}"
        if isinstance(v, bool):
            cells.append(f'<c r="{ref}" t="b"><v>{int(v)}</v></c>')
        elif isinstance(v, str):
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>')
        else:
            cells.append(f'<c r="{ref}"><v>{v}</v></c>')
    return f'<row r="{r}">{"".join(cells)}</row>'


def write_xlsx_xml(
    path: Path, rows: Iterable[str], dimension: str | None = None, level: int = 6
) -> None:
    """An ``.xlsx`` written part by part, its one sheet streamed from ``rows`` (``<row>`` XML),
    deflated, with an optional declared ``<dimension ref=...>`` (true or not): how a hostile or
    huge sheet is made in a few MB without a spreadsheet library."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, text in _XLSX_PARTS.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(
                b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main">'
            )
            if dimension is not None:
                f.write(f'<dimension ref="{dimension}"/>'.encode())
            f.write(b"<sheetData>")
            for row in rows:
                f.write(row.encode())
            f.write(b"</sheetData></worksheet>")


# --- SMG (Kinect v2) and mmpose whole-body, for the untrimmed tests ---------------------------

SMG_VIDEOS = {
    # video: (folder split, frames, finelabels rows: class 1..17, start, end numbered from 1)
    "Sample0001": ("train", 80, [(3, 11, 40), (17, 50, 80), (1, 41, 49)]),
    "Sample0002": ("train", 45, [(2, 1, 20)]),
    "Sample0036": ("validate", 60, [(5, 30, 45), (5, 5, 20)]),
}


def smg_values(video: str, frames: int, color_first: bool = False) -> np.ndarray:
    """Deterministic SMG skeleton rows: float64 [F, 25, 11] (world 3, orientation 4, then the
    depth pixel pair and the colour pixel pair, or colour first with ``color_first``)."""
    rng = np.random.default_rng(int(video[-4:]))
    v = np.empty((frames, 25, 11))
    v[..., 0:3] = rng.uniform(-1.0, 3.0, (frames, 25, 3))
    v[..., 3:7] = rng.uniform(-1.0, 1.0, (frames, 25, 4))
    depth = np.stack([rng.uniform(150, 360, (frames, 25)), rng.uniform(40, 400, (frames, 25))], -1)
    color = np.stack(
        [rng.uniform(700, 1300, (frames, 25)), rng.uniform(100, 1050, (frames, 25))], -1
    )
    v[..., 7:9], v[..., 9:11] = (color, depth) if color_first else (depth, color)
    return np.round(v, 4)


def write_smg_video(folder: Path, video: str, values: np.ndarray, rows: list | None) -> None:
    """SMG files: ``_skeleton.csv`` (275 values a row), ``_data.csv``, ``_finelabels.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{video}_skeleton.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for frame in values:
            writer.writerow([f"{x:.4f}" for x in frame.reshape(-1)])
    (folder / f"{video}_data.csv").write_text(f"{len(values)},30,4500\n", encoding="utf-8")
    if rows is not None:
        write_labels(folder / f"{video}_finelabels.csv", rows)


def make_smg_release(root: Path, videos: dict = SMG_VIDEOS) -> Path:
    """``smg_data_phase1/smg_skeleton_{train,validate}/SampleNNNN/`` as public loaders use it."""
    for video, (split, frames, rows) in videos.items():
        folder = root / "smg_data_phase1" / f"smg_skeleton_{split}" / video
        write_smg_video(folder, video, smg_values(video, frames), rows)
    return root


def wholebody_points(video: str, frames: int, persons: int = 1) -> np.ndarray:
    """Deterministic COCO-WholeBody points: float32 [P, F, 133, 3] (x, y, score > 0)."""
    rng = np.random.default_rng(int("".join(c for c in video if c.isdigit()) or "5"))
    pts = np.empty((persons, frames, 133, 3), np.float32)
    pts[..., 0] = rng.uniform(10, 1270, (persons, frames, 133))
    pts[..., 1] = rng.uniform(10, 710, (persons, frames, 133))
    pts[..., 2] = rng.uniform(0.05, 1.0, (persons, frames, 133))
    return np.round(pts, 3)


def mmpose_instance(frame: np.ndarray) -> dict:
    """One instance as mmpose's ``split_instances`` writes it, from points [133, 3]."""
    return {
        "keypoints": [[float(x), float(y)] for x, y in frame[:, :2]],
        "keypoint_scores": [float(s) for s in frame[:, 2]],
        "bbox": [[float(frame[:, 0].min()), float(frame[:, 1].min()),
                  float(frame[:, 0].max()), float(frame[:, 1].max())]],
        "bbox_score": 0.97,
    }  # fmt: skip


def write_mmpose_video(path: Path, pts: np.ndarray, persons_per_frame: Sequence[int]) -> None:
    """mmpose's video predictions: one ``<video>.json``, ``[{"frame_id", "instances"}, ...]``
    (written with an indent, as ``mmengine.dump(..., indent='  ')`` does)."""
    doc = [
        {"frame_id": t, "instances": [mmpose_instance(pts[p, t]) for p in range(n)]}
        for t, n in enumerate(persons_per_frame)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent="  "), encoding="utf-8")
