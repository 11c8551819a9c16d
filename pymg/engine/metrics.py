"""Classification metrics on score arrays (NumPy), and the confusion-matrix picture.

Conventions: ``scores`` is [N, K] (probabilities or logits; only their order matters for the
accuracies), ``labels`` is an integer array [N] with values in ``[0, K)``. A confusion matrix is
int64 [K, K] with rows = true class and columns = predicted class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pymg.checks import check_int

__all__ = [
    "SHOT_GROUPS",
    "confusion_matrix",
    "mean_class_accuracy",
    "per_class_accuracy",
    "per_class_table",
    "plot_confusion",
    "shot_accuracy",
    "shot_groups",
    "summarize",
    "topk_accuracy",
]


_POSITIVE = "a positive integer"


def _check_scores_labels(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores)
    y = np.asarray(labels)
    if s.ndim != 2 or s.shape[1] == 0:
        raise ValueError(f"scores must be a 2-D array [N, K] with K >= 1, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.number):
        raise TypeError(f"scores must be numeric, got dtype {s.dtype}")
    if y.ndim != 1 or y.shape[0] != s.shape[0]:
        raise ValueError(f"labels must be a 1-D array [N] with N={s.shape[0]}, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= s.shape[1]):
        raise ValueError(f"labels must lie in [0, {s.shape[1]}), got range [{y.min()}, {y.max()}]")
    if s.shape[0] == 0:
        raise ValueError("scores must hold at least one sample (N >= 1)")
    return s.astype(np.float64, copy=False), y.astype(np.int64, copy=False)


def topk_accuracy(scores: Any, labels: Any, k: int = 1) -> float:
    """Fraction of samples whose true label is among the ``k`` highest scores.

    Args:
        scores: [N, K] scores. Ties are broken toward the lower class index.
        labels: [N] integer labels in ``[0, K)``.
        k: 1 <= k; values above K count every sample as correct.

    Returns:
        Accuracy in [0, 1].
    """
    s, y = _check_scores_labels(scores, labels)
    check_int(k, "k", minimum=1, expected=_POSITIVE)
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())


def confusion_matrix(predictions: Any, labels: Any, num_classes: int) -> np.ndarray:
    """Count matrix [K, K]: entry (i, j) = number of samples of true class i predicted as j.

    Args:
        predictions: [N] predicted class indices in ``[0, K)``.
        labels: [N] true class indices in ``[0, K)``.
        num_classes: K.
    """
    p = np.asarray(predictions)
    y = np.asarray(labels)
    check_int(num_classes, "num_classes", minimum=1, expected=_POSITIVE)
    if p.ndim != 1 or y.shape != p.shape:
        raise ValueError(
            f"predictions and labels must be 1-D arrays of one length, got {p.shape} and {y.shape}"
        )
    for name, arr in (("predictions", p), ("labels", y)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            got = f"[{arr.min()}, {arr.max()}]"
            raise ValueError(f"{name} must lie in [0, {num_classes}), got {got}")
    flat = y.astype(np.int64) * num_classes + p.astype(np.int64)
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def per_class_accuracy(cm: Any) -> np.ndarray:
    """Recall of each class from a confusion matrix [K, K]: float64 [K], NaN for absent classes."""
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square matrix [K, K], got shape {m.shape}")
    totals = m.sum(axis=1).astype(np.float64)
    out = np.full(m.shape[0], np.nan)
    present = totals > 0
    out[present] = np.diag(m)[present] / totals[present]
    return out


def mean_class_accuracy(cm: Any) -> float:
    """Mean of :func:`per_class_accuracy` over the classes that occur (rows with samples)."""
    acc = per_class_accuracy(cm)
    if np.isnan(acc).all():
        raise ValueError("cm holds no samples")
    return float(np.nanmean(acc))


SHOT_GROUPS = ("many", "medium", "few")
"""The class groups of long-tail reports, by training clips per class."""


def shot_groups(train_counts: Any, many: int = 100, few: int = 20) -> list[str]:
    """The group of each class: ``"many"`` (more than ``many`` training clips), ``"few"`` (fewer
    than ``few``) or ``"medium"`` (``few`` to ``many``, both included).

    Args:
        train_counts: [K] training clips per class.
        many, few: the thresholds, ``few <= many`` (100 and 20 as in long-tail benchmarks).
    """
    n = np.asarray(train_counts)
    if n.ndim != 1 or (n.size and (not np.issubdtype(n.dtype, np.integer) or n.min() < 0)):
        raise ValueError(f"train_counts must be a 1-D array [K] of counts >= 0, got {n!r}")
    if not 0 <= few <= many:
        raise ValueError(f"the thresholds need 0 <= few <= many, got few={few}, many={many}")
    return ["many" if c > many else "few" if c < few else "medium" for c in n.tolist()]


def shot_accuracy(cm: Any, groups: Sequence[str]) -> dict[str, float | None]:
    """Mean class accuracy within each of :data:`SHOT_GROUPS` (over its classes with test
    samples; ``None`` when it has none).

    Args:
        cm: [K, K] confusion matrix.
        groups: K group names (:func:`shot_groups`).
    """
    acc = per_class_accuracy(cm)
    if len(groups) != acc.shape[0]:
        raise ValueError(f"groups must have K={acc.shape[0]} entries, got {len(groups)}")
    out: dict[str, float | None] = {}
    for group in SHOT_GROUPS:
        chosen = acc[[g == group for g in groups]]
        chosen = chosen[~np.isnan(chosen)]
        out[group] = float(chosen.mean()) if chosen.size else None
    return out


def per_class_table(
    cm: Any, class_names: Sequence[str], train_counts: Any | None = None, groups: Any = None
) -> list[dict[str, Any]]:
    """One row per class: ``name``, ``accuracy`` (= recall: correct / true samples), ``precision``
    (correct / predicted), ``recall``, ``support`` (test samples), and, with ``train_counts``,
    ``train_count`` and ``group``. Undefined ratios (no samples, no predictions) are ``None``.

    Args:
        cm: [K, K] confusion matrix (rows true, columns predicted).
        class_names: K names.
        train_counts: optional [K] training clips per class.
        groups: optional K group names (:func:`shot_groups`), needed with ``train_counts``.
    """
    m = np.asarray(cm)
    recall = per_class_accuracy(m)
    predicted = m.sum(axis=0)
    rows = []
    for c, name in enumerate(class_names):
        row: dict[str, Any] = {
            "name": str(name),
            "accuracy": None if np.isnan(recall[c]) else float(recall[c]),
            "precision": float(m[c, c] / predicted[c]) if predicted[c] else None,
            "recall": None if np.isnan(recall[c]) else float(recall[c]),
            "support": int(m[c].sum()),
        }
        if train_counts is not None:
            row["train_count"] = int(np.asarray(train_counts)[c])
            row["group"] = groups[c]
        rows.append(row)
    return rows


def summarize(
    scores: Any,
    labels: Any,
    class_names: Sequence[str] | None = None,
    train_counts: Any | None = None,
    many: int = 100,
    few: int = 20,
) -> dict[str, Any]:
    """All metrics of one evaluation as a JSON-ready dict.

    Args:
        scores: [N, K] class scores (the argmax is the prediction).
        labels: [N] true labels.
        class_names: optional K names used as keys of ``per_class``.
        train_counts: optional [K] training clips per class: adds the many / medium / few-shot
            accuracies (:func:`shot_groups` with ``many`` and ``few``).

    Returns:
        ``{"num_samples", "top1", "top5", "mean_class_accuracy", "per_class": {name: acc|None},
        "classes": [per_class_table rows], "confusion": [[int]*K]*K}`` (top5 is top-min(5, K)),
        plus, with ``train_counts``, ``"shots": {"many", "medium", "few"}`` (accuracy or None)
        and ``"shot_thresholds": {"many", "few"}``.
    """
    s, y = _check_scores_labels(scores, labels)
    k = s.shape[1]
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"class_names must have K={k} entries, got {len(class_names)}")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    pred = np.argmax(s, axis=1)
    cm = confusion_matrix(pred, y, k)
    per_class = per_class_accuracy(cm)
    groups = None
    if train_counts is not None:
        if len(train_counts) != k:
            raise ValueError(f"train_counts must have K={k} entries, got {len(train_counts)}")
        groups = shot_groups(np.asarray(train_counts), many, few)
    out: dict[str, Any] = {
        "num_samples": int(s.shape[0]),
        "top1": topk_accuracy(s, y, 1),
        "top5": topk_accuracy(s, y, min(5, k)),
        "mean_class_accuracy": mean_class_accuracy(cm),
        "per_class": {
            n: (None if np.isnan(a) else float(a)) for n, a in zip(names, per_class, strict=True)
        },
        "classes": per_class_table(cm, names, train_counts, groups),
    }
    if groups is not None:
        out["shots"] = shot_accuracy(cm, groups)
        out["shot_thresholds"] = {"many": int(many), "few": int(few)}
    out["confusion"] = cm.tolist()
    return out


def plot_confusion(
    cm: Any, path: str | Path, class_names: Sequence[str] | None = None, normalize: bool = True
) -> Path:
    """Write the confusion matrix [K, K] as a PNG.

    Needs matplotlib: ``pip install "pymg-microgesture[viz]"``.

    Rows are true classes, columns predictions; with ``normalize`` each row is divided by its
    count (absent classes stay 0). Returns the written path.
    """
    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square matrix [K, K], got shape {m.shape}")
    from pymg.viz import new_figure, save_figure

    k = m.shape[0]
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    size = min(4 + 0.35 * k, 20)
    fig = new_figure(size, size, dpi=100)
    ax = fig.subplots()
    image = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=names, rotation=90, fontsize=7)
    ax.set_yticks(range(k), labels=names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
    fig.tight_layout()
    out = save_figure(fig, path)
    return out
