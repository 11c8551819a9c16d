"""A new user's path on an iMiGUE-layout release, from the command line only:
`pymg prepare` -> `pymg train` (tiny) -> `pymg test --split test` (unlabelled) -> submission."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from release_trees import make_imigue_release

from pymg.cli import main
from pymg.data import NativeClips

RELEASE = [  # the tiny training on the prepared release: its 32 classes, its val split
    'data.source="imigue22.npz"',
    'data.layout="imigue22"',
    'data.test_split="val"',
    "model.num_classes=32",
    "optim.batch_size=2",
]


def _sets(tiny_sets: list[str], *items: str) -> list[str]:
    return [*tiny_sets, *(arg for item in (*RELEASE, *items) for arg in ("--set", item))]


def test_release_to_submission(tmp_path: Path, monkeypatch, capsys, tiny_sets) -> None:
    monkeypatch.chdir(tmp_path)
    make_imigue_release(tmp_path / "iMiGUE")
    # no data/ folder yet, no --layout: the light_hand files carry imigue22 at most
    assert main(["prepare", "iMiGUE", "--out", "data/imigue22.npz"]) == 0
    captured = capsys.readouterr()
    assert "4 videos, 9 clips, layout imigue22, splits by folders" in captured.out
    err = captured.err.splitlines()
    assert err[0].startswith("layout imigue22: the richest iMiGUE layout the light_hand CSV files")
    assert err[1].split()[:4] == ["split", "videos", "clips", "frames"]
    args = _sets(tiny_sets, 'data.source="data/imigue22.npz"')
    assert main(["train", "demo", "--work-dir", "run", *args]) == 0
    # data.test_split = "val": the outputs are named after the split they hold
    assert json.loads((tmp_path / "run" / "val_metrics.json").read_text())["num_samples"] == 2
    assert (tmp_path / "run" / "val_predictions.csv").is_file()
    assert not list((tmp_path / "run").glob("test_*"))
    capsys.readouterr()
    assert main(["test", "run/latest.pt", "--split", "test", "--out", "sub"]) == 0
    out = capsys.readouterr().out
    assert "metrics" not in out  # an unlabelled split has no metrics
    lines = (tmp_path / "sub" / "latest_test_predictions.csv").read_text().split("\n")
    assert lines[-1] == "" and [line.split(",")[0] for line in lines[:-1]] == ["0054_0", "0054_1"]
    assert all(0 <= int(line.split(",")[1]) <= 31 for line in lines[:-1])
    assert not (tmp_path / "sub" / "latest_test_metrics.json").exists()


def test_train_refuses_an_unlabelled_split(tmp_path: Path, monkeypatch, capsys, tiny_sets) -> None:
    monkeypatch.chdir(tmp_path)
    make_imigue_release(tmp_path / "iMiGUE")
    assert main(["prepare", "iMiGUE", "--out", "imigue22.npz", "--layout", "imigue22"]) == 0
    args = _sets(tiny_sets, 'data.train_split="test"')
    assert main(["train", "demo", "--work-dir", "run", *args]) == 2
    err = capsys.readouterr().err
    assert (
        "split 'test' of 'imigue22.npz' holds 2 unlabelled clip(s) (label -1): 0054_0, 0054_1"
        in err
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layout", "imigue22"], "no split could be determined: .*--split-file .*--subjects"),
        (["--layout", "imigue41"], "layout 'imigue41' needs 19 OpenPose point"),
        (["--train-subjects", "1,2"], "--train-subjects needs --subjects FILE"),
        (["--subjects", "s.csv", "--train-subjects", "a,b"], "--train-subjects takes comma"),
    ],
)
def test_prepare_errors_point_to_cli_options(tmp_path, monkeypatch, capsys, extra, message):
    import re

    monkeypatch.chdir(tmp_path)
    root = make_imigue_release(tmp_path / "interview")
    for split in root.iterdir():  # a release without split folders
        for video in split.iterdir():
            video.rename(root / video.name)
        split.rmdir()
    (tmp_path / "s.csv").write_text("0004,2\n")
    assert main(["prepare", "interview", "--out", "x.npz", *extra]) == 2
    assert re.search(message, capsys.readouterr().err), message


def test_prepare_split_file_and_subjects_from_cli(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    make_imigue_release(tmp_path / "rel")
    (tmp_path / "test_id.txt").write_text("0054_0,0054_1,0054_1\n")
    args = ["--layout", "imigue22", "--split-file", "test=test_id.txt", "--split-rest", "train"]
    assert main(["prepare", "rel", "--out", "a.npz", *args]) == 0
    assert NativeClips(tmp_path / "a.npz").splits["test"] == ["0054_0", "0054_1"]
    (tmp_path / "subjects.csv").write_text("0004,2\n0187,9\n0002,2\n0054,9\n")
    subj = ["--subjects", "subjects.csv", "--train-subjects", "9", "--img-shape", "720", "1280"]
    assert main(["prepare", "rel", "--out", "b.npz", "--layout", "imigue22", *subj]) == 0
    assert "splits by subjects (test 5, train 4)" in capsys.readouterr().out


def test_prepare_trims_the_padding_of_miga23_pickles(tmp_path: Path, monkeypatch) -> None:
    import numpy as np

    from pymg.data.formats import save_pyskl

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    anns = []
    for k, length in enumerate((37, 90, 12)):  # MiGA'23: every clip padded to 90 frames
        kp = np.zeros((1, 90, 22, 2), np.float32)
        sc = np.zeros((1, 90, 22), np.float32)
        kp[:, :length] = rng.uniform(1, 700, (1, length, 22, 2))
        sc[:, :length] = rng.uniform(0.1, 1, (1, length, 22))
        anns.append({"frame_dir": f"0054_{k}", "label": k, "total_frames": 90,
                     "img_shape": (720, 1280), "original_shape": (720, 1280),
                     "keypoint": kp, "keypoint_score": sc})  # fmt: skip
    save_pyskl(tmp_path / "train.pkl", anns, {"train": ["0054_0", "0054_1", "0054_2"]})
    assert main(["prepare", "train.pkl", "--out", "t.npz"]) == 0
    assert NativeClips(tmp_path / "t.npz").lengths.tolist() == [37, 90, 12]
    assert main(["prepare", "train.pkl", "--out", "k.npz", "--keep-padding"]) == 0
    assert NativeClips(tmp_path / "k.npz").lengths.tolist() == [90, 90, 90]


def test_prepare_source_layout_of_a_pickle(tmp_path: Path, monkeypatch, capsys) -> None:
    import numpy as np

    from pymg.data.formats import save_pyskl

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    anns = [{"frame_dir": f"c{k}", "label": k, "img_shape": (720, 1280), "total_frames": 5,
             "keypoint": rng.uniform(1, 700, (1, 5, 17, 2)).astype(np.float32),
             "keypoint_score": rng.uniform(0.1, 1, (1, 5, 17)).astype(np.float32)}
            for k in range(2)]  # fmt: skip
    save_pyskl(tmp_path / "coco.pkl", anns, {"train": ["c0", "c1"]})
    args = ["prepare", "coco.pkl", "--out", "out/c.npz", "--source-layout", "coco17"]
    assert main(args) == 0
    assert "layout coco17" in capsys.readouterr().out
    assert NativeClips(tmp_path / "out" / "c.npz").layout == "coco17"
    rel = make_imigue_release(tmp_path / "rel")
    assert main(["prepare", str(rel), "--out", "r.npz", "--source-layout", "coco17"]) == 2
    assert "--source-layout applies to PYSKL pickles" in capsys.readouterr().err


def test_viz_reads_the_layout_from_the_file(tmp_path: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    make_imigue_release(tmp_path / "iMiGUE")
    assert main(["prepare", "iMiGUE", "--out", "imigue22.npz", "--layout", "imigue22"]) == 0
    capsys.readouterr()
    assert main(["viz", "skeleton", "imigue22.npz", "--split", "train", "--out", "s.png"]) == 0
    assert main(["viz", "heatmap", "imigue22.npz", "--out", "h.png", "--size", "32"]) == 0
    assert (tmp_path / "s.png").is_file() and (tmp_path / "h.png").is_file()
