"""The detection evaluator: hand-computed cases, the SMG kit's formula, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymg.cli import main
from pymg.engine.detection_metrics import (
    SegmentRow,
    average_precision,
    evaluate_detections,
    read_detections_csv,
    tiou,
)


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _gt(tmp_path: Path, rows: list[str], name: str = "gt.csv") -> Path:
    return _csv(tmp_path / name, "video,start,end,label", rows)


def _det(tmp_path: Path, rows: list[str], name: str = "det.csv") -> Path:
    return _csv(tmp_path / name, "video,start,end,label,score", rows)


def test_tiou_counts_frames_inclusively() -> None:
    assert tiou((10, 19), (15, 24)) == pytest.approx(5 / 15)
    assert tiou((3, 3), (3, 3)) == 1.0
    assert tiou((0, 4), (5, 9)) == 0.0  # adjacent, no shared frame
    assert tiou((0, 9), (9, 12)) == pytest.approx(1 / 13)


def test_plus_one_convention_separates_default_from_kit(tmp_path: Path) -> None:
    # inclusive: overlap 15..19 = 5 frames, union 10 + 10 - 5 = 15 -> 1/3 >= 0.3: a match;
    # the kit: (19 - 15) / (24 - 10) = 4/14 = 0.2857 <= 0.3: no match
    gt = _gt(tmp_path, ["v,10,19,2"])
    det = _det(tmp_path, ["v,15,24,2,0.9"])
    ours = evaluate_detections(det, gt, iou=0.3)
    assert (ours["tp"], ours["precision"], ours["recall"], ours["f1"]) == (1, 1.0, 1.0, 1.0)
    kit = evaluate_detections(det, gt, iou=0.3, kit_compat=True)
    assert (kit["tp"], kit["f1"]) == (0, 0.0)


def test_kit_reuses_a_detection_for_several_ground_truths(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["v,0,9,1", "v,12,21,1"])
    det = _det(tmp_path, ["v,0,21,1,0.5"])
    kit = evaluate_detections(det, gt, kit_compat=True)
    # alpha = 9/21 with each ground truth; the detection is not used up: TP 2 of 1 detection
    assert kit["tp"] == 2
    assert kit["precision"] == 2.0 and kit["recall"] == 1.0
    assert kit["f1"] == pytest.approx(2 * 2.0 * 1.0 / (3.0 + 1e-7), abs=1e-12)
    ours = evaluate_detections(det, gt)
    # tIoU 10/22 with each; a detection matches once: TP 1, P 1, R 0.5, F1 2/3
    assert ours["tp"] == 1 and ours["f1"] == pytest.approx(2 / 3)


def test_greedy_by_score_and_highest_tiou_among_unmatched(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["v,0,12,0", "v,14,25,0", "w,0,9,3"])
    det = _det(
        tmp_path,
        [
            "v,0,12,0,0.8",  # exact match of the first, but scored lower
            "v,10,19,0,0.9",  # tIoU 3/20 = 0.15 with the first, 6/16 = 0.375 with the second
            "w,2,11,3,0.7",  # 8/12
            "w,2,11,4,0.95",  # wrong class
        ],
    )
    m = evaluate_detections(det, gt)
    assert (m["tp"], m["detections"], m["ground_truths"], m["videos"]) == (3, 4, 3, 2)
    assert m["precision"] == 0.75 and m["recall"] == 1.0
    assert m["f1"] == pytest.approx(2 * 0.75 / 1.75)


def test_a_higher_scored_detection_takes_the_ground_truth_first(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["v,0,9,0", "v,20,29,0"])
    det = _det(tmp_path, ["v,0,9,0,0.5", "v,2,11,0,0.9"])
    m = evaluate_detections(det, gt)
    assert (m["tp"], m["precision"], m["recall"], m["f1"]) == (1, 0.5, 0.5, 0.5)
    kit = evaluate_detections(det, gt, kit_compat=True)
    assert kit["tp"] == 1 and kit["f1"] == pytest.approx(0.5 / (1 + 1e-7))


def test_map_by_hand(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["a,0,9,0", "b,0,9,0"])
    det = _det(tmp_path, ["a,0,9,0,0.9", "a,50,59,0,0.8", "b,1,9,0,0.7"])
    m = evaluate_detections(det, gt)
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: interpolated AP = 0.5 * 1 + 0.5 * 2/3
    assert m["mAP"]["0.3"] == pytest.approx(0.5 + 1 / 3)
    assert m["mAP"]["0.7"] == pytest.approx(0.5 + 1 / 3)  # 9/10 >= 0.7
    assert average_precision([True, False, True], 2) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([], 3) == 0.0


def test_empty_detections_file_scores_zero(tmp_path: Path) -> None:
    m = evaluate_detections(_det(tmp_path, []), _gt(tmp_path, ["v,0,9,0"]))
    assert (m["tp"], m["detections"], m["precision"], m["recall"], m["f1"]) == (0, 0, 0, 0, 0)
    assert m["mAP"] == {"0.3": 0.0, "0.5": 0.0, "0.7": 0.0}


def test_detections_of_unknown_videos_are_false_positives(tmp_path: Path) -> None:
    m = evaluate_detections(_det(tmp_path, ["v,0,9,0,1", "x,0,9,0,1"]), _gt(tmp_path, ["v,0,9,0"]))
    assert m["precision"] == 0.5 and m["videos_without_ground_truth"] == ["x"]


def test_unsorted_ground_truth_gives_the_same_scores(tmp_path: Path) -> None:
    rows = ["v,40,49,1", "v,0,9,0", "v,20,31,1", "w,5,9,2"]
    det = _det(tmp_path, ["v,1,9,0,0.3", "v,21,30,1,0.6", "v,40,45,1,0.9", "w,0,9,2,0.2"])
    a = evaluate_detections(det, _gt(tmp_path, rows, "a.csv"))
    b = evaluate_detections(det, _gt(tmp_path, rows[::-1], "b.csv"))
    assert a == b and a["tp"] == 4


def test_overlapping_ground_truth_of_one_class_is_refused(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["v,0,9,0", "v,30,40,1", "v,5,12,0"])
    with pytest.raises(ValueError, match=r"gt\.csv: line 4: video 'v' class 0: .*overlaps 0\.\.9"):
        evaluate_detections(_det(tmp_path, []), gt)
    # other classes may overlap (two micro-gestures at once)
    ok = evaluate_detections(_det(tmp_path, []), _gt(tmp_path, ["v,0,9,0", "v,5,12,1"], "ok.csv"))
    assert ok["ground_truths"] == 2


def test_class_out_of_range(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["v,0,9,0", "v,20,29,32"])
    with pytest.raises(ValueError, match=r"gt\.csv:3: label 32 out of range 0\.\.31"):
        evaluate_detections(_det(tmp_path, []), gt, num_classes=32)
    with pytest.raises(ValueError, match=r"det\.csv:2: label -1 out of range"):
        evaluate_detections(_det(tmp_path, ["v,0,9,-1,0.5"]), _gt(tmp_path, ["v,0,9,0"], "g.csv"))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("v,0,9.5,0,0.5", r"det\.csv:3: end frame must be an integer, got '9\.5'"),
        ("v,9,3,0,0.5", r"det\.csv:3: end frame 3 before start frame 9"),
        ("v,-2,3,0,0.5", r"det\.csv:3: negative start frame -2"),
        ("v,0,9,0,nan", r"det\.csv:3: score must be finite"),
        ("v,0,9,0,high", r"det\.csv:3: score must be a number, got 'high'"),
        ("v,0,9", r"det\.csv:3: 3 cells, the header names 5"),
        (",0,9,0,1", r"det\.csv:3: empty video id"),
    ],
)
def test_bad_detection_lines_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    det = _det(tmp_path, ["v,0,9,0,0.5", row])
    with pytest.raises(ValueError, match=message):
        read_detections_csv(det)


def test_bad_headers_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"empty\.csv: empty file; expected a header row"):
        read_detections_csv(tmp_path / "empty.csv")
    noscore = _csv(tmp_path / "n.csv", "video,start,end,label", ["v,0,9,0"])
    with pytest.raises(ValueError, match=r"n\.csv:1: header .* lacks column\(s\) score"):
        read_detections_csv(noscore)


def test_class_name_column_is_ignored(tmp_path: Path) -> None:
    det = _csv(
        tmp_path / "d.csv",
        "video,start,end,label,class_name,score",
        ["v,0,9,3,touch jaw,0.25"],
    )
    assert read_detections_csv(det) == [SegmentRow("v", 0, 9, 3, 0.25, 2)]


def _kit_f1(dets: list[SegmentRow], gts: list[SegmentRow], thr: float) -> tuple[int, float]:
    """The SMG kit's loop, written out on numpy arrays per video as the kit holds them."""
    correct = 0.0
    recall_len = acc_len = 0
    for video in sorted({g.video for g in gts}):
        vd = [d for d in dets if d.video == video]
        pred_label = np.array([d.label for d in vd], np.int64)
        begin = np.array([d.start for d in vd], np.int64)
        end = np.array([d.end for d in vd], np.int64)
        gl = [(g.label, g.start, g.end) for g in gts if g.video == video]
        for label, gb, ge in gl:
            for i in range(len(begin)):
                if pred_label[i] == label:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        alpha = (min(end[i], ge) - max(begin[i], gb)) / (
                            max(end[i], ge) - min(begin[i], gb)
                        )
                    if alpha > thr:
                        np.delete(pred_label, i)  # result discarded, as in the kit
                        correct += 1
                        break
        recall_len += len(gl)
        acc_len += len(pred_label)
    recall, precision = correct / recall_len, correct / acc_len
    return int(correct), 2 * recall * precision / (recall + precision + 0.0000001)


def _greedy_reference(dets: list[SegmentRow], gts: list[SegmentRow], thr: float) -> int:
    """Matching by an exhaustive tIoU matrix per video (written independently of the library)."""
    tp = 0
    for video in {g.video for g in gts}:
        vd = sorted([d for d in dets if d.video == video], key=lambda d: -d.score)
        vg = [g for g in gts if g.video == video]
        s = np.array([[g.start for g in vg]]), np.array([[g.end for g in vg]])
        free = np.ones(len(vg), bool)
        for d in vd:
            inter = np.clip(np.minimum(d.end, s[1]) - np.maximum(d.start, s[0]) + 1, 0, None)[0]
            union = (d.end - d.start + 1) + (s[1] - s[0] + 1)[0] - inter
            iou = np.where(free & (np.array([g.label for g in vg]) == d.label), inter / union, -1)
            j = int(np.argmax(iou))
            if iou[j] >= thr:
                free[j] = False
                tp += 1
    return tp


@pytest.mark.parametrize("seed", range(6))
def test_random_parity_with_the_kit_and_a_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gts: list[SegmentRow] = []
    dets: list[SegmentRow] = []
    for v in range(3):
        for c in range(3):  # non-overlapping per class
            t = 0
            while t < 300:
                t += int(rng.integers(0, 40))
                length = int(rng.integers(1, 40))
                gts.append(SegmentRow(f"v{v}", t, t + length - 1, c))
                t += length
        for _ in range(int(rng.integers(5, 40))):
            s = int(rng.integers(0, 320))
            dets.append(
                SegmentRow(f"v{v}", s, s + int(rng.integers(0, 50)), int(rng.integers(0, 3)),
                           float(rng.random()))
            )  # fmt: skip
    for thr in (0.1, 0.3, 0.5):
        kit = evaluate_detections(dets, gts, iou=thr, kit_compat=True)
        assert (kit["tp"], kit["f1"]) == pytest.approx(_kit_f1(dets, gts, thr), abs=1e-12)
        assert evaluate_detections(dets, gts, iou=thr)["tp"] == _greedy_reference(dets, gts, thr)


def test_cli_writes_metrics_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = _gt(tmp_path, ["v,10,19,2"])
    det = _det(tmp_path, ["v,15,24,2,0.9"])
    out = tmp_path / "m" / "metrics.json"
    assert main(["evaluate-detections", str(det), "--gt", str(gt), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "F1@0.3 (greedy): 100.00%" in text
    assert json.loads(out.read_text())["tp"] == 1
    assert main(["evaluate-detections", str(det), "--gt", str(gt), "--kit-compat"]) == 0
    assert "F1@0.3 (SMG kit): 0.00%" in capsys.readouterr().out
    bad = _det(tmp_path, ["v,15,x,2,0.9"], "bad.csv")
    assert main(["evaluate-detections", str(bad), "--gt", str(gt)]) == 2
    assert "bad.csv:2: end frame must be an integer" in capsys.readouterr().err


def test_the_worked_example_of_the_docs(tmp_path: Path) -> None:
    gt = _gt(tmp_path, ["A,10,19,2", "A,40,69,5", "A,80,99,5", "B,0,49,7"])
    det = _det(
        tmp_path,
        ["A,15,24,2,0.9", "A,40,99,5,0.8", "A,82,97,5,0.6", "B,0,20,7,0.7", "B,30,49,3,0.5"],
    )
    m = evaluate_detections(det, gt)
    assert (m["tp"], m["precision"], m["recall"]) == (4, 0.8, 1.0)
    assert m["f1"] == pytest.approx(0.8888889, abs=1e-6)
    assert m["mAP"] == pytest.approx({"0.3": 1.0, "0.5": 1 / 3, "0.7": 0.25 / 3})
    assert m["ap_per_class"]["0.7"] == pytest.approx({"2": 0.0, "5": 0.25, "7": 0.0})
    kit = evaluate_detections(det, gt, kit_compat=True)
    assert (kit["tp"], kit["precision"], kit["recall"]) == (3, 0.6, 0.75)
    assert kit["f1"] == pytest.approx(2 * 0.6 * 0.75 / (1.35 + 1e-7), abs=1e-12)
