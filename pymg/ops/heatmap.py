"""Joint and limb heatmap volumes from keypoints (PYSKL ``GeneratePoseTarget``-compatible).

The ops validate their inputs, convert them to contiguous float32 and call the custom ops
``torch.ops.pymg.joint_heatmaps`` / ``limb_heatmaps`` (:mod:`pymg.ops.custom_ops`), which run the
backend chosen by ``impl`` (see :mod:`pymg.ops.backend`).
They work under ``torch.compile`` and on meta tensors. They are not differentiable (heatmaps are
model inputs made from data).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pymg.ops import _checks
from pymg.ops.constants import IMPLS


def joint_heatmaps(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None = None,
    *,
    size: tuple[int, int],
    sigma: float = 0.6,
    eps: float = 1e-3,
    dtype: torch.dtype = torch.float32,
    impl: str = "auto",
) -> torch.Tensor:
    """Gaussian joint heatmaps, one channel per joint, persons combined by max.

    Args:
        keypoints: [N, M, T, V, 2] pixel coordinates (x = column, y = row; pixel i at coordinate i),
            any floating dtype, any device. NaN/inf coordinates mark missing points. N = 0 gives
            an empty output, M = 0 (no person) all zeros.
        scores: [N, M, T, V] confidences scaling each gaussian, or None (all ones). A point whose
            score (as float32, compared in float64) is below ``eps``, NaN or +-inf is skipped.
        size: output (H, W).
        sigma: gaussian standard deviation in pixels, finite and >= ``MIN_SIGMA`` (1e-3,
            :mod:`pymg.ops.constants`); the window is +-``WINDOW_SIGMAS`` (3) sigma, PYSKL's rule.
        eps: score threshold (>= 0). PYSKL uses 1e-3 (the default), mmaction2 1.x 1e-4.
        dtype: output dtype, float32, float16 or bfloat16 (computed in float32, rounded once).
        impl: "auto" (native kernels if available else reference, warning once), "native" or
            "reference".

    Returns:
        [N, V, T, H, W] tensor of ``dtype`` on ``keypoints.device``.

    Raises:
        SizeLimitError: the output would need more bytes than the memory cap
            (:mod:`pymg.limits`: 2 GiB or ``$PYMG_MAX_ARRAY_BYTES``), e.g. ``size=(100000,
            100000)``; the message gives the shape, the bytes and the cap.
    """
    n, _, t, v = _checks.check_keypoints(keypoints)
    h, w = _checks.check_size(size)
    sigma_f = _checks.check_sigma(sigma)
    eps_f = _checks.check_real(eps, "eps", positive=False)
    out_dtype = _checks.check_out_dtype(dtype)
    _checks.check_output_size((n, v, t, h, w), out_dtype, "joint_heatmaps: size")
    sc = _checks.prepare_scores(scores, keypoints)
    _checks.check_choice(impl, "impl", IMPLS)
    with torch.no_grad():
        kp = _checks.as_float32(keypoints.detach())
        out: torch.Tensor = torch.ops.pymg.joint_heatmaps(
            kp, sc.detach(), h, w, sigma_f, eps_f, out_dtype, impl
        )
    return out


def limb_heatmaps(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None = None,
    *,
    limbs: Sequence[tuple[int, int]] | torch.Tensor,
    size: tuple[int, int],
    sigma: float = 0.6,
    eps: float = 1e-3,
    dtype: torch.dtype = torch.float32,
    impl: str = "auto",
) -> torch.Tensor:
    """Limb heatmaps: a gaussian tube around each segment (a, b), persons combined by max.

    The value at pixel P is ``exp(-d^2 / 2 sigma^2) * min(s_a, s_b)`` with d the distance from P to
    the segment AB; a limb with ``|AB|^2 < 1`` is drawn as the joint gaussian of A with score s_a
    (PYSKL rule). A limb is skipped when ``min(s_a, s_b) < eps`` or an endpoint's coordinate or
    score is NaN/inf.

    Args:
        keypoints: [N, M, T, V, 2]; scores: [N, M, T, V] or None (all ones).
        limbs: L pairs (a, b) of joint indices in [0, V), a sequence or an integer tensor [L, 2].
        size, sigma, eps, dtype, impl: as in :func:`joint_heatmaps`.

    Returns:
        [N, L, T, H, W] tensor of ``dtype`` on ``keypoints.device``.

    Raises:
        SizeLimitError: as in :func:`joint_heatmaps`.
    """
    n, _, t, v = _checks.check_keypoints(keypoints)
    table = _checks.check_limbs(limbs, v)
    h, w = _checks.check_size(size)
    sigma_f = _checks.check_sigma(sigma)
    eps_f = _checks.check_real(eps, "eps", positive=False)
    out_dtype = _checks.check_out_dtype(dtype)
    _checks.check_output_size((n, len(table) // 2, t, h, w), out_dtype, "limb_heatmaps: size")
    sc = _checks.prepare_scores(scores, keypoints)
    _checks.check_choice(impl, "impl", IMPLS)
    with torch.no_grad():
        kp = _checks.as_float32(keypoints.detach())
        out: torch.Tensor = torch.ops.pymg.limb_heatmaps(
            kp, sc.detach(), table, h, w, sigma_f, eps_f, out_dtype, impl
        )
    return out


def flip_heatmaps(heatmaps: torch.Tensor, perm: Sequence[int] | torch.Tensor) -> torch.Tensor:
    """Horizontally flipped heatmaps with left/right channels swapped (PYSKL's ``double`` copy).

    ``out[n, c, t, y, x] = heatmaps[n, perm[c], t, y, W - 1 - x]``.

    Args:
        heatmaps: [N, C, T, H, W] tensor (any dtype and device).
        perm: a permutation of range(C), e.g. ``Skeleton.joint_flip_perm`` or ``limb_flip_perm``.

    Returns:
        A new [N, C, T, H, W] tensor.
    """
    if not isinstance(heatmaps, torch.Tensor):
        raise TypeError(f"heatmaps must be a torch.Tensor [N, C, T, H, W], got {type(heatmaps)}")
    if heatmaps.dim() != 5:
        raise ValueError(f"heatmaps must have shape [N, C, T, H, W], got {tuple(heatmaps.shape)}")
    index = _checks.check_perm(perm, heatmaps.shape[1])
    # channel views joined by one cat: no index tensor, so no host-to-device copy (and no host
    # sync) on CUDA, and nothing data-dependent for torch.compile
    if not index:  # C = 0
        return heatmaps.flip(-1)
    return torch.cat([heatmaps[:, c : c + 1] for c in index], dim=1).flip(-1)
