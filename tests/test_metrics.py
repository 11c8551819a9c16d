"""Metrics, fusion, score files and submission CSV on hand-made arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymg.engine import fuse_scores
from pymg.engine.evaluate import (
    ScoreSet,
    fuse_score_files,
    load_scores,
    save_scores,
    write_report,
    write_submission,
)
from pymg.engine.metrics import (
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    per_class_table,
    plot_confusion,
    shot_accuracy,
    shot_groups,
    summarize,
    topk_accuracy,
)

# 5 samples, 4 classes; hand-checked below
SCORES = np.array(
    [
        [0.70, 0.10, 0.15, 0.05],  # true 0 -> pred 0, rank of truth 1
        [0.10, 0.20, 0.60, 0.10],  # true 1 -> pred 2, truth rank 2
        [0.05, 0.50, 0.40, 0.05],  # true 2 -> pred 1, truth rank 2
        [0.30, 0.20, 0.10, 0.40],  # true 3 -> pred 3
        [0.25, 0.35, 0.30, 0.10],  # true 0 -> pred 1, truth rank 3
    ]
)
LABELS = np.array([0, 1, 2, 3, 0])


def test_topk_by_hand() -> None:
    assert topk_accuracy(SCORES, LABELS, 1) == pytest.approx(2 / 5)
    assert topk_accuracy(SCORES, LABELS, 2) == pytest.approx(4 / 5)
    assert topk_accuracy(SCORES, LABELS, 3) == pytest.approx(5 / 5)
    assert topk_accuracy(SCORES, LABELS, 10) == 1.0


def test_topk_ties_go_to_the_lower_index() -> None:
    scores = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert topk_accuracy(scores, np.array([0, 1]), 1) == 0.5


def test_confusion_and_class_accuracies_by_hand() -> None:
    pred = SCORES.argmax(1)
    cm = confusion_matrix(pred, LABELS, 4)
    expected = np.zeros((4, 4), np.int64)
    for t, p in [(0, 0), (1, 2), (2, 1), (3, 3), (0, 1)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64
    np.testing.assert_allclose(per_class_accuracy(cm), [0.5, 0.0, 0.0, 1.0])
    assert mean_class_accuracy(cm) == pytest.approx((0.5 + 0 + 0 + 1) / 4)


def test_absent_classes_are_left_out_of_the_mean() -> None:
    cm = confusion_matrix(np.array([0, 0, 2]), np.array([0, 2, 2]), 3)
    acc = per_class_accuracy(cm)
    assert acc[0] == 1.0 and np.isnan(acc[1]) and acc[2] == 0.5
    assert mean_class_accuracy(cm) == pytest.approx(0.75)


def test_random_against_a_loop_reference() -> None:
    rng = np.random.default_rng(3)
    n, k = 200, 7
    scores = rng.random((n, k))
    labels = rng.integers(0, k, n)
    for top in (1, 3, 5):
        ref = np.mean([labels[i] in np.argsort(-scores[i])[:top] for i in range(n)])
        assert topk_accuracy(scores, labels, top) == pytest.approx(ref)
    pred = scores.argmax(1)
    cm = confusion_matrix(pred, labels, k)
    assert cm.sum() == n
    for c in range(k):
        mask = labels == c
        assert per_class_accuracy(cm)[c] == pytest.approx((pred[mask] == c).mean())


def test_summarize_is_json_ready() -> None:
    names = ["a", "b", "c", "d"]
    out = summarize(SCORES, LABELS, names)
    json.dumps(out)
    assert out["num_samples"] == 5
    assert out["top1"] == pytest.approx(0.4)
    assert out["top5"] == 1.0  # K = 4 < 5
    assert out["per_class"] == {"a": 0.5, "b": 0.0, "c": 0.0, "d": 1.0}
    assert out["confusion"][0] == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("scores", "labels", "error", "pattern"),
    [
        (np.zeros(4), np.zeros(4, int), ValueError, r"scores must be a 2-D array \[N, K\]"),
        (
            np.zeros((3, 2)),
            np.zeros(2, int),
            ValueError,
            r"labels must be a 1-D array \[N\] with N=3",
        ),
        (np.zeros((2, 2)), np.array([0, 2]), ValueError, r"labels must lie in \[0, 2\)"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), TypeError, "labels must be integers"),
        (np.zeros((0, 2)), np.zeros(0, int), ValueError, "at least one sample"),
    ],
)
def test_bad_inputs(scores: np.ndarray, labels: np.ndarray, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        topk_accuracy(scores, labels, 1)


def test_bad_k_and_confusion_inputs() -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        topk_accuracy(SCORES, LABELS, 0)
    with pytest.raises(ValueError, match=r"predictions must lie in \[0, 4\)"):
        confusion_matrix(np.array([4]), np.array([0]), 4)
    with pytest.raises(ValueError, match="one length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), 4)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        confusion_matrix(np.array([0]), np.array([0]), 0)
    with pytest.raises(ValueError, match="cm holds no samples"):
        mean_class_accuracy(np.zeros((3, 3)))


def test_fuse_scores_weighted_mean() -> None:
    import pymg.models

    assert fuse_scores is pymg.models.fuse_scores  # one definition, re-exported by the engine
    a = np.array([[0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.2, 0.8], [0.4, 0.6]])
    np.testing.assert_allclose(fuse_scores([a, b], softmax=False), [[0.4, 0.6], [0.3, 0.7]])
    np.testing.assert_allclose(fuse_scores([a, b], [1, 3], softmax=False), (a + 3 * b) / 4)
    np.testing.assert_allclose(fuse_scores([a, b], [2, 0], softmax=False), a)
    with pytest.raises(ValueError, match=r"scores\[1\] has shape \(1, 2\)"):
        fuse_scores([a, b[:1]])
    with pytest.raises(ValueError, match="not all 0"):
        fuse_scores([a, b], [0, 0])
    with pytest.raises(ValueError, match="weights must have 2 entries"):
        fuse_scores([a, b], [1])


def _set(scores: np.ndarray, labels: np.ndarray, ids: list[str]) -> ScoreSet:
    return ScoreSet(scores.astype(np.float32), labels, ids, ["a", "b", "c", "d"])


def test_score_files_round_trip_and_fuse_by_clip_id(tmp_path: Path) -> None:
    ids = [f"clip{i}" for i in range(5)]
    joint = _set(SCORES, LABELS, ids)
    rng = np.random.default_rng(0)
    limb_scores = rng.dirichlet(np.ones(4), size=5)
    order = np.array([3, 0, 4, 1, 2])  # the limb file lists the clips in another order
    limb = _set(limb_scores[order], LABELS[order], [ids[i] for i in order])
    pj, pl = save_scores(joint, tmp_path / "j.npz"), save_scores(limb, tmp_path / "l.npz")
    back = load_scores(pj)
    np.testing.assert_array_equal(back.scores, joint.scores)
    assert back.clip_ids == ids and back.class_names == ["a", "b", "c", "d"]
    fused = fuse_score_files([pj, pl])
    np.testing.assert_allclose(fused.scores, (SCORES + limb_scores) / 2, rtol=1e-6)
    assert fused.clip_ids == ids
    np.testing.assert_array_equal(fused.labels, LABELS)
    weighted = fuse_score_files([pj, pl], [0.4, 0.6])
    np.testing.assert_allclose(weighted.scores, 0.4 * SCORES + 0.6 * limb_scores, rtol=1e-6)


def test_fusion_rejects_mismatched_files(tmp_path: Path) -> None:
    ids = [f"clip{i}" for i in range(5)]
    pj = save_scores(_set(SCORES, LABELS, ids), tmp_path / "j.npz")
    other = save_scores(_set(SCORES, LABELS, [*ids[:4], "zzz"]), tmp_path / "o.npz")
    with pytest.raises(ValueError, match="does not hold the same"):
        fuse_score_files([pj, other])
    with pytest.raises(ValueError, match="at least two score files"):
        fuse_score_files([pj])
    with pytest.raises(FileNotFoundError, match="score file not found"):
        load_scores(tmp_path / "none.npz")
    np.savez(tmp_path / "x.npz", scores=SCORES)
    with pytest.raises(ValueError, match="not a pymg score file"):
        load_scores(tmp_path / "x.npz")


def test_submission_csv_layout(tmp_path: Path) -> None:
    ids = [f"00{i}4_{i}" for i in range(5)]
    path = write_submission(_set(SCORES, LABELS, ids), tmp_path / "sub.csv")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""  # newline-terminated, no blank rows, no header
    assert lines[:-1] == [f"{ids[i]},{int(SCORES[i].argmax())}" for i in range(5)]


def test_submission_refuses_nan_scores(tmp_path: Path) -> None:
    scores = SCORES.copy()
    scores[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf \\(first at clip 'c'\\)"):
        write_submission(_set(scores, LABELS, list("abcde")), tmp_path / "sub.csv")
    assert not (tmp_path / "sub.csv").exists()


def test_report_and_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    metrics = write_report(_set(SCORES, LABELS, list("abcde")), tmp_path, prefix="x_")
    saved = json.loads((tmp_path / "x_metrics.json").read_text())
    assert saved["top1"] == pytest.approx(metrics["top1"]) == pytest.approx(0.4)
    png = (tmp_path / "x_confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    out = plot_confusion(np.eye(3, dtype=int), tmp_path / "sub" / "cm.png", normalize=False)
    assert out.is_file()
    with pytest.raises(ValueError, match="square matrix"):
        plot_confusion(np.zeros((2, 3)), tmp_path / "bad.png")
    unlabeled = ScoreSet(SCORES, np.full(5, -1), list("abcde"), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="carry no labels"):
        write_report(unlabeled, tmp_path)


def test_fusion_refuses_nan_score_files(tmp_path: Path) -> None:
    ids = [f"clip{i}" for i in range(5)]
    pj = save_scores(_set(SCORES, LABELS, ids), tmp_path / "j.npz")
    broken = SCORES.copy()
    broken[3, 0] = np.inf
    broken[4, 2] = np.nan
    pb = save_scores(_set(broken, LABELS, ids), tmp_path / "broken.npz")
    with pytest.raises(
        ValueError, match=r"broken.npz: scores hold NaN or inf \(2 clip\(s\), first 'clip3'\)"
    ):
        fuse_score_files([pj, pb])


# ----------------------------------------------------------------------------- per class, shots
# rows = true class, columns = predicted; 4 classes, class 3 never occurs in the test set
CM = np.array(
    [
        [8, 1, 1, 0],  # class 0: 10 samples, 8 right
        [2, 3, 0, 0],  # class 1: 5 samples, 3 right
        [0, 1, 1, 0],  # class 2: 2 samples, 1 right
        [0, 0, 0, 0],  # class 3: absent from the test set, never predicted
    ]
)


def test_per_class_table_on_a_hand_made_confusion_matrix() -> None:
    rows = per_class_table(
        CM, ["a", "b", "c", "d"], [150, 100, 19, 20], ["many", "medium", "few", "medium"]
    )
    assert [r["name"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["support"] for r in rows] == [10, 5, 2, 0]
    assert [r["accuracy"] for r in rows] == [0.8, 0.6, 0.5, None]
    assert [r["recall"] for r in rows] == [0.8, 0.6, 0.5, None]
    # precision = diagonal / column sums 10, 5, 2, 0
    assert [r["precision"] for r in rows] == [0.8, 0.6, 0.5, None]
    assert [r["train_count"] for r in rows] == [150, 100, 19, 20]
    cm2 = np.array([[3, 1], [3, 1]])  # precision differs from recall here
    two = per_class_table(cm2, ["x", "y"])
    assert [r["precision"] for r in two] == [0.5, 0.5] and [r["recall"] for r in two] == [
        0.75,
        0.25,
    ]
    assert "group" not in two[0]


def test_shot_groups_and_their_accuracy_by_hand() -> None:
    # > 100 many, < 20 few, 20..100 medium (both ends included)
    assert shot_groups([150, 101, 100, 20, 19, 0]) == [
        "many",
        "many",
        "medium",
        "medium",
        "few",
        "few",
    ]
    assert shot_groups([150, 50, 5], many=40, few=10) == ["many", "many", "few"]
    groups = shot_groups([150, 100, 19, 20])
    # many: class 0 (0.8); medium: classes 1 (0.6) and 3 (absent: left out); few: class 2 (0.5)
    assert shot_accuracy(CM, groups) == {"many": 0.8, "medium": 0.6, "few": 0.5}
    assert shot_accuracy(CM, ["many"] * 4) == {
        "many": pytest.approx(19 / 30),
        "medium": None,
        "few": None,
    }
    with pytest.raises(ValueError, match="few <= many"):
        shot_groups([1, 2], many=10, few=20)
    with pytest.raises(ValueError, match=r"groups must have K=4 entries, got 3"):
        shot_accuracy(CM, ["many"] * 3)


def test_summarize_with_training_counts(tmp_path: Path) -> None:
    out = summarize(SCORES, LABELS, ["a", "b", "c", "d"], train_counts=[500, 30, 3, 101])
    json.dumps(out)
    # per-class accuracy 0.5, 0, 0, 1 -> many = mean(0.5, 1), medium = 0, few = 0
    assert out["shots"] == {"many": 0.75, "medium": 0.0, "few": 0.0}
    assert out["shot_thresholds"] == {"many": 100, "few": 20}
    assert [c["group"] for c in out["classes"]] == ["many", "medium", "few", "many"]
    assert "shots" not in summarize(SCORES, LABELS)
    with pytest.raises(ValueError, match="train_counts must have K=4 entries"):
        summarize(SCORES, LABELS, train_counts=[1, 2])
    metrics = write_report(
        _set(SCORES, LABELS, list("abcde")), tmp_path, prefix="y_", png=False,
        train_counts=[500, 30, 3, 101], shots=(200, 10),
    )  # fmt: skip
    assert metrics["shots"] == {"many": 0.5, "medium": 0.5, "few": 0.0}
    lines = (tmp_path / "y_per_class.csv").read_text().splitlines()
    assert lines[0] == "class,name,accuracy,precision,recall,support,train_count,group"
    assert lines[2] == "1,b,0.0,0.0,0.0,1,30,medium"  # class b: 1 sample, 2 predictions, 0 right
