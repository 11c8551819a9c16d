"""Loss-side strategies for long-tailed training sets: class weights and logit adjustment.

All of them start from ``n_c``, the number of training clips of class ``c`` (:func:`class_counts`).

Class weights (the ``weight`` of the cross-entropy; ``loss.class_weights``), normalised so that
they sum to the number of classes ``K`` (classes without training clips get weight 0 and the
others sum to the number of classes present):

* ``"inverse"``: ``w_c ~ 1 / n_c`` (inverse class frequency);
* ``"sqrt_inverse"``: ``w_c ~ 1 / sqrt(n_c)`` (inverse frequency smoothed by a square root, as
  in a 2026 MiGA solution);
* ``"effective"``: ``w_c ~ (1 - beta) / (1 - beta^n_c)``, the inverse "effective number of
  samples" of Cui et al., CVPR 2019 ("Class-Balanced Loss Based on Effective Number of
  Samples"), who search ``beta`` in {0.9, 0.99, 0.999, 0.9999}; ``beta -> 0`` gives no
  weighting, ``beta -> 1`` inverse frequency.

Logit adjustment (Menon et al., ICLR 2021, "Long-tail learning via logit adjustment"), with class
priors ``pi_c = n_c / sum_j n_j``:

* as a training loss: softmax cross-entropy on ``logits + tau * log(pi)`` (paper: ``tau = 1``);
* post hoc, at test time: predict ``argmax(logits - tau * log(pi))``; on averaged class
  probabilities ``p`` this is :func:`adjust_probabilities`, ``softmax(log p - tau * log(pi))``.

A class without training clips counts as one clip in the priors, so its log-prior stays finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "CLASS_WEIGHTS",
    "adjust_probabilities",
    "check_counts",
    "class_counts",
    "class_weights",
    "log_class_priors",
    "logit_adjustment",
]

CLASS_WEIGHTS = ("none", "inverse", "sqrt_inverse", "effective")
"""The values of ``loss.class_weights``."""


def class_counts(labels: Any, num_classes: int) -> np.ndarray:
    """int64 [K]: training clips per class.

    Args:
        labels: [N] class indices in ``[0, K)``.
        num_classes: ``K``.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"labels must be a 1-D integer array [N], got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    return np.bincount(y.astype(np.int64), minlength=num_classes).astype(np.int64)


def check_counts(counts: Any) -> np.ndarray:
    """``counts`` as float64 [K] after checking it is 1-D, non-negative and not all zero."""
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or (n < 0).any() or not (n > 0).any():
        raise ValueError(f"counts must be a 1-D array [K] of counts >= 0, not all 0; got {n}")
    return n


def class_weights(counts: Any, kind: str, beta: float = 0.999) -> np.ndarray:
    """Per-class cross-entropy weights, float64 [K] (module docstring).

    Args:
        counts: [K] training clips per class.
        kind: one of :data:`CLASS_WEIGHTS` (``"none"`` gives all ones).
        beta: the ``beta`` of ``"effective"``, in ``[0, 1)``.

    Returns:
        float64 [K], summing to the number of classes with clips (0 for classes without).
    """
    n = check_counts(counts)
    present = n > 0
    if kind == "none":
        return np.ones_like(n)
    if kind == "inverse":
        raw = 1.0 / n[present]
    elif kind == "sqrt_inverse":
        raw = 1.0 / np.sqrt(n[present])
    elif kind == "effective":
        if not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"beta must lie in [0, 1), got {beta}")
        raw = (1.0 - beta) / (1.0 - np.power(beta, n[present]))
    else:
        raise ValueError(f"class weights must be one of {', '.join(CLASS_WEIGHTS)}; got {kind!r}")
    out = np.zeros_like(n)
    out[present] = raw * present.sum() / raw.sum()
    return out


def log_class_priors(counts: Any) -> np.ndarray:
    """float64 [K]: ``log(pi_c)``, ``pi_c = max(n_c, 1) / sum_j max(n_j, 1)``."""
    n = np.maximum(check_counts(counts), 1.0)
    return np.log(n / n.sum())


def logit_adjustment(counts: Any, tau: float) -> np.ndarray:
    """float64 [K]: ``tau * log(pi_c)``, added to the logits by the training loss."""
    return float(tau) * log_class_priors(counts)


def adjust_probabilities(probabilities: Any, counts: Any, tau: float) -> np.ndarray:
    """Post-hoc logit adjustment of class probabilities: ``softmax(log p - tau * log(pi))``.

    For one view (``p = softmax(logits)``) the argmax equals ``argmax(logits - tau * log(pi))``;
    for probabilities averaged over views it adjusts their log.

    Shape:
        - probabilities: ``[N, K]``; counts: ``[K]``
        - output: float32 ``[N, K]``, rows summing to 1
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != np.asarray(counts).shape[0]:
        raise ValueError(
            f"probabilities must be [N, K] with K = len(counts) = {np.asarray(counts).shape}, "
            f"got shape {p.shape}"
        )
    logp = np.log(np.clip(p, np.finfo(np.float64).tiny, None)) - float(tau) * log_class_priors(
        counts
    )
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)
