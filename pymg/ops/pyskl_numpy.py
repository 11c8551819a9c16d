"""A per-point numpy loop of PYSKL's ``GeneratePoseTarget`` rules.

This module is the independent oracle of the tests and the "numpy loop" baseline of the benchmarks.
It is a plain, readable transcription of the rules (listed below and in docs/ops.md), one person,
frame and joint/limb at a time, written for clarity rather than speed:

* pixel ``i`` sits at coordinate ``i`` (x = column, y = row);
* window ``[max(int(c - 3 sigma), 0), min(int(c + 3 sigma) + 1, size))`` per axis in float64
  (``int`` truncates toward zero, so a joint at x = -2.5 still lights column 0);
* joint value ``exp(-((x - mx)^2 + (y - my)^2) / 2 / sigma^2) * score`` in float32 on the window,
  exactly 0 outside it; persons are combined with ``max``;
* a point is skipped when its float32 score, compared in float64, is below ``eps`` (so a score
  stored as float32(1e-4) is skipped with eps=1e-4); pymg also skips NaN/inf coordinates and NaN
  scores (PYSKL has no missing-point convention beyond zero scores);
* a limb (a, b) has strength ``min(s_a, s_b)``; when ``|AB|^2 < 1`` (float32) a joint gaussian is
  drawn at A with score ``s_a``; otherwise the value is ``exp(-d2 / 2 / sigma^2) * strength`` with
  ``d2`` the squared distance to the segment, on the bounding box of A and B grown by 3 sigma.

Single-sample functions use PYSKL's layout ``[T, C, H, W]``; the ``batch_*`` helpers return pymg's
``[N, C, T, H, W]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PYSKL_EPS = 1e-3


def _window(
    lo: float | np.floating, hi: float | np.floating, sigma: float, size: int
) -> tuple[int, int]:
    """Half-open pixel range lit along one axis by a shape spanning [lo, hi] (float64 bounds)."""
    start = max(int(float(lo) - 3 * sigma), 0)
    stop = min(int(float(hi) + 3 * sigma) + 1, size)
    return start, stop


def _is_missing(x: np.float32, y: np.float32, score: np.float32, eps: float) -> bool:
    if not (np.isfinite(x) and np.isfinite(y)):
        return True
    return not float(score) >= eps  # float32 score compared in float64; NaN is missing


def draw_joint(
    arr: np.ndarray, mx: np.float32, my: np.float32, score: np.float32, sigma: float, eps: float
) -> None:
    """Max-combine one joint gaussian into ``arr`` [H, W] (float32) in place."""
    if _is_missing(mx, my, score, eps):
        return
    h, w = arr.shape
    x0, x1 = _window(mx, mx, sigma, w)
    y0, y1 = _window(my, my, sigma, h)
    if x0 >= x1 or y0 >= y1:
        return
    x = np.arange(x0, x1, dtype=np.float32)
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    patch = np.exp(-((x - mx) ** 2 + (y - my) ** 2) / np.float32(2) / np.float32(sigma**2))
    patch = patch * score
    np.maximum(arr[y0:y1, x0:x1], patch, out=arr[y0:y1, x0:x1])


def draw_limb(
    arr: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    score_a: np.float32,
    score_b: np.float32,
    sigma: float,
    eps: float,
) -> None:
    """Max-combine the limb A-B (points [2] float32) into ``arr`` [H, W] (float32) in place."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return
    strength = min(score_a, score_b)
    if np.isnan(score_a) or np.isnan(score_b) or not float(strength) >= eps:
        return
    h, w = arr.shape
    x0, x1 = _window(min(a[0], b[0]), max(a[0], b[0]), sigma, w)
    y0, y1 = _window(min(a[1], b[1]), max(a[1], b[1]), sigma, h)
    if x0 >= x1 or y0 >= y1:
        return
    with np.errstate(over="ignore", invalid="ignore"):  # see the overflow note below
        _draw_segment(arr, a, b, score_a, strength, (x0, x1, y0, y1), sigma, eps)


def _draw_segment(
    arr: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    score_a: np.float32,
    strength: np.float32,
    window: tuple[int, int, int, int],
    sigma: float,
    eps: float,
) -> None:
    x0, x1, y0, y1 = window
    d2_ab = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2  # float32, as PYSKL
    if d2_ab < 1:
        draw_joint(arr, a[0], a[1], score_a, sigma, eps)
        return
    x = np.arange(x0, x1, dtype=np.float32)[None, :]
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    d2_start = (x - a[0]) ** 2 + (y - a[1]) ** 2
    d2_end = (x - b[0]) ** 2 + (y - b[1]) ** 2
    u = (d2_start - d2_end + d2_ab) / np.float32(2) / d2_ab
    px = x - (a[0] + u * (b[0] - a[0]))
    py = y - (a[1] + u * (b[1] - a[1]))
    d2_line = px**2 + py**2
    d2 = np.where(u <= 0, d2_start, np.where(u >= 1, d2_end, d2_line))
    # pymg: a distance that overflowed float32 (|coordinates| > ~1e19) is NaN; draw 0 there
    # (PYSKL would write NaN into the map).
    d2 = np.where(np.isnan(d2), np.float32(np.inf), d2)
    patch = np.exp(-d2 / np.float32(2) / np.float32(sigma**2)) * strength
    np.maximum(arr[y0:y1, x0:x1], patch, out=arr[y0:y1, x0:x1])


def _prepare(
    keypoint: np.ndarray, score: np.ndarray | None, img_shape: Sequence[int], scaling: float
) -> tuple[np.ndarray, np.ndarray, int, int]:
    kp = np.asarray(keypoint, dtype=np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 2:
        raise ValueError(f"keypoint must have shape [M, T, V, 2], got {kp.shape}")
    if score is None:
        sc = np.ones(kp.shape[:-1], dtype=np.float32)
    else:
        sc = np.asarray(score, dtype=np.float32)
        if sc.shape != kp.shape[:-1]:
            raise ValueError(f"score must have shape {kp.shape[:-1]}, got {sc.shape}")
    if scaling != 1:
        kp = kp * np.float32(scaling)
    h = int(img_shape[0] * scaling + 0.5)
    w = int(img_shape[1] * scaling + 0.5)
    return kp, sc, h, w


def joint_heatmaps(
    keypoint: np.ndarray,
    score: np.ndarray | None,
    img_shape: Sequence[int],
    *,
    sigma: float = 0.6,
    eps: float = PYSKL_EPS,
    scaling: float = 1.0,
) -> np.ndarray:
    """Joint heatmaps of one sample, PYSKL layout.

    Args:
        keypoint: [M, T, V, 2] pixel coordinates (x, y).
        score: [M, T, V] or None (all ones).
        img_shape: (H, W) of the image the coordinates refer to.

    Returns:
        float32 [T, V, H', W'] with H' = int(H * scaling + 0.5).
    """
    kp, sc, h, w = _prepare(keypoint, score, img_shape, scaling)
    m_count, t_count, v_count, _ = kp.shape
    out = np.zeros((t_count, v_count, h, w), dtype=np.float32)
    for t in range(t_count):
        for v in range(v_count):
            for m in range(m_count):
                draw_joint(out[t, v], kp[m, t, v, 0], kp[m, t, v, 1], sc[m, t, v], sigma, eps)
    return out


def limb_heatmaps(
    keypoint: np.ndarray,
    score: np.ndarray | None,
    img_shape: Sequence[int],
    limbs: Sequence[tuple[int, int]],
    *,
    sigma: float = 0.6,
    eps: float = PYSKL_EPS,
    scaling: float = 1.0,
) -> np.ndarray:
    """Limb heatmaps of one sample, PYSKL layout.

    Args:
        keypoint: [M, T, V, 2]; score: [M, T, V] or None; limbs: L pairs (a, b) of joint indices.

    Returns:
        float32 [T, L, H', W'].
    """
    kp, sc, h, w = _prepare(keypoint, score, img_shape, scaling)
    m_count, t_count, _, _ = kp.shape
    out = np.zeros((t_count, len(limbs), h, w), dtype=np.float32)
    for t in range(t_count):
        for c, (ia, ib) in enumerate(limbs):
            for m in range(m_count):
                draw_limb(
                    out[t, c], kp[m, t, ia], kp[m, t, ib], sc[m, t, ia], sc[m, t, ib], sigma, eps
                )
    return out


def flip_double(heatmaps: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """PYSKL's ``double`` option: [T, C, H, W] -> [2T, C, H, W].

    The second half is ``flipped[t, c, y, x] = heatmaps[t, perm[c], y, W - 1 - x]``.
    """
    flipped = heatmaps[:, list(perm), :, ::-1]
    return np.concatenate([heatmaps, flipped], axis=0)


def batch_joint_heatmaps(
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    size: Sequence[int],
    *,
    sigma: float = 0.6,
    eps: float = PYSKL_EPS,
) -> np.ndarray:
    """Batched convenience in pymg's layout: [N, M, T, V, 2] -> float32 [N, V, T, H, W]."""
    samples = [
        joint_heatmaps(kp, None if scores is None else scores[i], size, sigma=sigma, eps=eps)
        for i, kp in enumerate(keypoints)
    ]
    return np.stack(samples).transpose(0, 2, 1, 3, 4).copy()


def batch_limb_heatmaps(
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    size: Sequence[int],
    limbs: Sequence[tuple[int, int]],
    *,
    sigma: float = 0.6,
    eps: float = PYSKL_EPS,
) -> np.ndarray:
    """Batched convenience in pymg's layout: [N, M, T, V, 2] -> float32 [N, L, T, H, W]."""
    samples = [
        limb_heatmaps(kp, None if scores is None else scores[i], size, limbs, sigma=sigma, eps=eps)
        for i, kp in enumerate(keypoints)
    ]
    return np.stack(samples).transpose(0, 2, 1, 3, 4).copy()
