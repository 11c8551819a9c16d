"""Builders of the probe's hostile inputs (raw releases, score files, configs, pickles): each
takes a scratch folder, writes the input there and returns the command that reads it
(``["pymg", ...]``). Needs the repository's ``tests/`` folder on ``sys.path`` (its writers of raw
releases), as :mod:`probe_hostile` arranges."""

from __future__ import annotations

import json
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hostile_files import deflate_member, deflated_repeat, npy_header, npz_bomb, write_zip

__all__ = [
    "edit", "import_names", "imported", "json_release", "laughs", "light_hand_numbers",
    "native_bomb", "npz_bomb", "person", "pyskl_pickle", "release", "rewrite", "scores_pair",
    "sparse", "xlsx_bomb", "xlsx_release",
]  # fmt: skip


def release(tmp: Path, mutate: Callable[[Path], None] | None = None) -> list[str]:
    """An iMiGUE release in ``tmp/rel`` (changed by ``mutate``) -> ``pymg prepare`` on it."""
    from release_trees import make_imigue_release

    rel = make_imigue_release(tmp / "rel")
    if mutate is not None:
        mutate(rel)
    return ["pymg", "prepare", "rel", "--out", "out.npz", "--layout", "imigue22"]


def video_file(rel: Path, video: str, suffix: str) -> Path:
    return next(rel.rglob(f"{video}{suffix}"))


def light_hand_numbers(numbers: list[int]) -> Callable[[Path], None]:
    def mutate(rel: Path) -> None:
        from release_trees import video_points, write_light_hand

        path = video_file(rel, "0187", "_light_hand.csv")
        write_light_hand(path, video_points("0187", len(numbers)), numbers)

    return mutate


def rewrite(video: str, suffix: str, text: str | bytes) -> Callable[[Path], None]:
    def mutate(rel: Path) -> None:
        path = video_file(rel, video, suffix)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    return mutate


def edit(video: str, suffix: str, change: Callable[[str], str], enc: str) -> Callable[[Path], None]:
    def mutate(rel: Path) -> None:
        path = video_file(rel, video, suffix)
        path.write_bytes(change(path.read_text(encoding="utf-8")).encode(enc))

    return mutate


def sparse(video: str, suffix: str, size: int) -> Callable[[Path], None]:
    def mutate(rel: Path) -> None:
        with video_file(rel, video, suffix).open("r+b") as handle:
            handle.truncate(size)

    return mutate


def json_release(tmp: Path, frames: dict[int, Any], bad_name: int | None = None) -> list[str]:
    """A JSON-folder release: video 0001 with the given frame documents."""
    from release_trees import write_labels

    folder = tmp / "rel" / "train" / "0001"
    folder.mkdir(parents=True)
    for n, doc in frames.items():
        text = doc if isinstance(doc, str) else json.dumps(doc)
        (folder / f"0001_{n:012d}_keypoints.json").write_text(text)
    write_labels(folder / "0001_label.csv", [(1, 0, 2)])
    return ["pymg", "prepare", "rel", "--out", "out.npz", "--layout", "coco17"]


def person(value: Any = None) -> dict[str, Any]:
    pts = np.random.default_rng(0).uniform(1, 500, (25, 3)).round(2).tolist()
    flat = [v for p in pts for v in p]
    if value is not None:
        flat[0] = value
    return {"pose_keypoints_2d": flat}


def xlsx_release(tmp: Path, dimension: str | None = None, cell: Any = None) -> list[str]:
    import openpyxl
    from release_trees import video_points, write_labels

    rel = tmp / "rel" / "train"
    rel.mkdir(parents=True)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([f"p{i}" for i in range(411)])
    for t, frame in enumerate(video_points("0001", 5)):
        values: list[Any] = [float(v) for v in frame.reshape(-1)]
        if cell is not None and t == 2:
            values[3] = cell
        sheet.append(values)
    path = rel / "0001_openpose.xlsx"
    book.save(path)
    write_labels(rel / "0001_label.csv", [(1, 0, 4)])
    if dimension is not None:
        _patch_sheet(path, lambda xml: re.sub(rb'<dimension ref="[^"]*"', dimension.encode(), xml))
    return ["pymg", "prepare", "rel", "--out", "out.npz", "--layout", "coco17"]


def _patch_sheet(path: Path, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    members[sheet] = change(members[sheet])
    write_zip(path, [deflate_member(n, data) for n, data in members.items()])


def xlsx_bomb(tmp: Path) -> list[str]:
    """200,000 identical rows of 411 numbers, about 2 MB deflated (1.8 GB of XML)."""
    cmd = xlsx_release(tmp)
    path = tmp / "rel" / "train" / "0001_openpose.xlsx"
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = members.pop(sheet)
    head = xml[: xml.index(b"<sheetData>") + len(b"<sheetData>")]
    tail = xml[xml.index(b"</sheetData>") :]
    head = re.sub(rb'<dimension ref="[^"]*"/>', b"", head)
    row = b"<row>" + b"".join(b'<c t="n"><v>12.5</v></c>' for _ in range(411)) + b"</row>"
    data, crc, size = deflated_repeat(head, row * 100, 2000, tail)
    write_zip(path, [deflate_member(n, d) for n, d in members.items()] + [(sheet, data, crc, size)])
    return cmd


def pyskl_pickle(tmp: Path) -> list[str]:
    """4 KB pickle whose keypoint is a nested list of shared rows (memo references)."""
    pair = [1.0, 2.0]
    frame = [pair] * 1000
    clip = [frame] * 20000  # [T=20000, V=1000, 2] after conversion: 320 MB float64 per person
    ann = {"frame_dir": "a", "label": 0, "img_shape": (100, 100), "total_frames": 20000,
           "keypoint": [clip] * 10, "keypoint_score": [[[1.0] * 1000] * 20000] * 10}  # fmt: skip
    (tmp / "x.pkl").write_bytes(pickle.dumps({"split": {}, "annotations": [ann]}, protocol=4))
    return ["pymg", "prepare", "x.pkl", "--out", "out.npz"]


def laughs(tmp: Path) -> list[str]:
    lines = ["a0 = [1, 1]"] + [f"a{i} = [a{i - 1}, a{i - 1}]" for i in range(1, 32)]
    lines.append("model = dict(type='RecognizerGCN', backbone=dict(type='STGCN', x=a31))")
    (tmp / "laughs.py").write_text("\n".join(lines) + "\n")
    (tmp / "w.pth").write_bytes(b"")
    return ["pymg", "import", "laughs.py", "w.pth", "--out", "m.pt"]


def native_bomb(tmp: Path) -> list[str]:
    """A 3 MB native .npz whose keypoint and score members inflate to 1.5 GB each (each under
    the per-array cap, 3 GB together)."""
    from pymg.data import save_native

    clip = {"keypoint": np.zeros((1, 2, 17, 2), np.float32), "frame_dir": "a", "label": 0,
            "keypoint_score": np.ones((1, 2, 17), np.float32), "img_shape": (64, 64)}  # fmt: skip
    save_native(tmp / "small.npz", [clip], layout="coco17", compress=True)
    with zipfile.ZipFile(tmp / "small.npz") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}

    frames = (1500 << 20) // (17 * 2 * 4 * 4096) * 4096
    out = []
    for name, data in members.items():
        if name == "keypoint.npy":
            head = npy_header((1, frames, 17, 2))
            out.append((name, *deflated_repeat(head, bytes(17 * 2 * 4 * 4096), frames // 4096)))
        elif name == "score.npy":
            head = npy_header((1, frames, 17))
            out.append((name, *deflated_repeat(head, bytes(17 * 4 * 4096), frames // 4096)))
        else:
            out.append(deflate_member(name, data))
    write_zip(tmp / "x.npz", [(n, d, c, s) for n, d, c, s in out])
    return ["pymg", "viz", "skeleton", "x.npz", "--layout", "coco17", "--out", "a.png"]


def scores_pair(tmp: Path, second_labels: list[int] | None, text: bool = False) -> list[str]:
    from pymg.engine.evaluate import ScoreSet, save_scores

    rng = np.random.default_rng(0)
    ids = ["c0", "c1", "c2"]
    save_scores(ScoreSet(rng.random((3, 2), np.float32), np.array([0, 1, 1]), ids, ["x", "y"]),
                tmp / "a.npz")  # fmt: skip
    if text:
        (tmp / "b.npz").write_text("clip,score\nc0,0.5\n")
    else:
        labels = np.array(second_labels if second_labels is not None else [0, 1, 1])
        save_scores(ScoreSet(rng.random((3, 2), np.float32), labels, ids, ["x", "y"]),
                    tmp / "b.npz")  # fmt: skip
    return ["pymg", "fuse", "a.npz", "b.npz", "--out", "f"]


def imported(tmp: Path) -> Path:
    import torch
    from pyskl_reference_gcn import ReferenceGCN, randomize
    from test_pyskl_import import gcn_config, save_checkpoint

    torch.manual_seed(0)
    ref = ReferenceGCN(3, convention="mmaction2", layout="coco", mode="spatial")
    randomize(ref, 3)
    (tmp / "gcn.py").write_text(gcn_config("coco", "spatial", 3, ""))
    save_checkpoint(ref.eval(), tmp / "gcn.pth", "mmaction2")
    return tmp / "gcn.py"


def import_names(tmp: Path) -> list[str]:
    imported(tmp)
    (tmp / "names.txt").write_text("a\nb\nc\nd\ne\n")
    return ["pymg", "import", "gcn.py", "gcn.pth", "--out", "m.pt", "--class-names", "names.txt"]
