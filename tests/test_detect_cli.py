"""``pymg demo --untrimmed --quick`` trains a detector; ``pymg detect`` runs it: files, errors."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest

from pymg.cli import detect as detect_cli
from pymg.cli import main
from pymg.engine.detect_data import DETECTION_HEADER


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    work = tmp_path_factory.mktemp("detect_demo")
    assert main(["demo", "--untrimmed", "--quick", "--work-dir", str(work)]) == 0
    return work


def test_the_untrimmed_demo_writes_detections_metrics_and_timelines(trained, capsys):
    metrics = json.loads((trained / "detect_metrics.json").read_text())
    assert set(metrics) == {"detector", "window_argmax", "no_detections"}
    assert metrics["no_detections"]["f1"] == 0.0
    assert metrics["no_detections"]["ground_truths"] > 0
    assert (trained / "latest.pt").is_file()
    with (trained / "detections.csv").open() as handle:
        assert tuple(next(csv.reader(handle))) == DETECTION_HEADER
    pytest.importorskip("matplotlib")
    assert sorted(p.name for p in trained.glob("timeline_*.png")) == [
        "timeline_untrimmed_s03_0002.png"
    ]


def test_pymg_detect_writes_the_csv_and_the_metrics(trained, tmp_path, capsys):
    out = tmp_path / "det"
    code = main(["detect", str(trained / "latest.pt"), "synthetic_untrimmed", "--split", "test",
                 "--out", str(out), "--stride", "4", "--thresholds", "0.02,0.05", "--hysteresis",
                 "0", "--min-len",
                 "2", "--no-pictures"])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "detections in 1 videos" in text and "tIoU 0.3: precision" in text
    with (out / "detections.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "low thresholds should give detections"
    for row in rows:
        assert row["video"] == "untrimmed_s03_0002"
        assert 0 <= int(row["start"]) <= int(row["end"]) < 500
        assert 0 <= int(row["label"]) < 8 and row["class_name"]
        assert 0.0 <= float(row["score"]) <= 1.0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["detections"] == len(rows) and metrics["iou"] == 0.3


def test_pymg_detect_reads_a_release_folder_and_one_video_file(trained, tmp_path, capsys):
    from release_trees import make_miga25_release

    labels = {"v1": [(3, 10, 40), (7, 60, 90)], "v2": [(5, 20, 70)]}
    root = make_miga25_release(tmp_path / "miga25", {"v1": 120, "v2": 100}, labels)
    out = tmp_path / "det"
    code = main(["detect", str(trained / "latest.pt"), str(root), "--out", str(out),
                 "--no-pictures", "--thresholds", "0.02"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with (out / "detections.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["video"] for r in rows} <= {"v1", "v2"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ground_truths"] == 3  # the label rows of both videos, read as segments
    one = tmp_path / "one"
    code = main(["detect", str(trained / "latest.pt"), str(root / "v2_openpose.xlsx"), "--out",
                 str(one), "--no-pictures"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert json.loads((one / "metrics.json").read_text())["ground_truths"] == 1


def test_pymg_detect_refuses_inputs_it_cannot_read(trained, tmp_path, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    code = main(["detect", str(trained / "latest.pt"), str(folder), "--out", str(tmp_path)])
    assert code == 2
    assert str(folder) in capsys.readouterr().err
    code = main(["detect", str(trained / "latest.pt"), str(tmp_path / "nope.npz"), "--out",
                 str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "no such file or folder" in capsys.readouterr().err
    code = main(["detect", str(trained / "latest.pt"), "synthetic_untrimmed", "--out",
                 str(tmp_path), "--thresholds", "0.5,x"])  # fmt: skip
    assert code == 2
    assert "--thresholds: numbers separated by commas" in capsys.readouterr().err


def test_a_clip_classifier_is_not_a_detector(tmp_path, capsys):
    from pymg.engine import load_config, train

    cfg = load_config("demo", ["data.synthetic_clips=40", "data.synthetic_classes=2",
                               "model.num_classes=2", "schedule.epochs=1", "model.clip_len=4",
                               "data.train_size=16", "data.test_size=16",
                               f'runtime.work_dir="{tmp_path}"'])  # fmt: skip
    train(cfg, final_test=False)
    code = main(["detect", str(tmp_path / "latest.pt"), "synthetic_untrimmed", "--out",
                 str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    assert "class_names must end with 'background'" in capsys.readouterr().err


def test_detect_parser_reads_every_setting():
    sub = argparse.ArgumentParser().add_subparsers()
    p = detect_cli.register(sub)
    args = p.parse_args(["ck.pt", "a.npz", "b.npz", "--out", "o", "--window", "64",
                         "--stride", "4", "--thresholds", "0.4,0.6", "--hysteresis", "0.1",
                         "--min-len", "3", "--merge-gap", "2", "--max-len", "99",
                         "--nms-iou", "0.4", "--batch-windows", "2", "--num-clips", "2",
                         "--flip", "on"])  # fmt: skip
    assert args.inputs == ["a.npz", "b.npz"]
    assert detect_cli.settings(args) == {
        "window": 64, "stride": 4, "batch_windows": 2, "hysteresis": 0.1, "min_len": 3,
        "merge_gap": 2, "max_len": 99, "nms_iou": 0.4, "thresholds": (0.4, 0.6),
        "num_clips": 2, "flip": True,
    }  # fmt: skip
    assert np.isclose(args.iou, 0.3)
