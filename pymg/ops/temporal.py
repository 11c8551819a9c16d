"""Temporal alignment: resample keypoint clips at fractional frame positions.

:func:`gather_frames` reads positions (from :func:`pymg.ops.frame_positions` or your own) and
:func:`align_frames` does both steps. Both run on the backend chosen by ``impl`` (see
:mod:`pymg.ops.backend`), through the custom ops ``torch.ops.pymg.gather_frames`` and
``frame_positions`` (:mod:`pymg.ops.custom_ops`), so they work under ``torch.compile`` and on meta
tensors.
"""

from __future__ import annotations

import torch

from pymg.ops import _checks
from pymg.ops.constants import GATHER_MODES, IMPLS
from pymg.ops.custom_ops import host_to_device
from pymg.ops.positions import check_position_args, frame_positions_eager


def _check_inputs(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None,
    lengths: torch.Tensor,
    mode: str,
    eps: float,
    impl: str,
) -> tuple[torch.Tensor, float]:
    """Validates the arguments shared by both ops; returns (float32 scores, eps as float)."""
    n, _, t, _ = _checks.check_keypoints(keypoints)
    sc = _checks.prepare_scores(scores, keypoints)
    _checks.check_lengths(lengths, n, t, values=False)
    if lengths.device.type != "cpu":
        _checks.check_same_device(keypoints, lengths, "lengths")
    _checks.check_choice(mode, "mode", GATHER_MODES)
    eps_f = _checks.check_real(eps, "eps", positive=False)
    _checks.check_choice(impl, "impl", IMPLS)
    return sc, eps_f


def _gather(
    keypoints: torch.Tensor,
    sc: torch.Tensor,
    lengths: torch.Tensor,
    positions: torch.Tensor,
    mode: str,
    eps: float,
    impl: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The custom op on validated arguments."""
    with torch.no_grad():
        kp = _checks.as_float32(keypoints.detach())
        pos = positions.detach().to(torch.float32).contiguous()
        out_kp, out_sc = torch.ops.pymg.gather_frames(
            kp, sc.detach(), lengths.detach(), pos, mode, eps, impl
        )
    return out_kp, out_sc


def gather_frames(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None,
    lengths: torch.Tensor,
    positions: torch.Tensor,
    *,
    mode: str = "linear",
    eps: float = 1e-3,
    impl: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample each sample's frames at fractional ``positions``.

    For a position p of sample n (true length ``lengths[n]``):

    * p < 0, p >= length or NaN: zero keypoints and zero scores (padding);
    * ``mode="nearest"``: frame floor(p + 0.5) (ties go to the later frame), clamped to length - 1;
    * ``mode="linear"``: frames i0 = floor(p) and i1 = min(i0 + 1, length - 1) blended as
      ``(1 - w) * a + w * b`` with w = p - i0, for coordinates and scores alike. When either point
      is missing (a NaN/inf coordinate, a NaN/inf score or a score below ``eps``) the nearer
      frame's point is copied unchanged instead (w >= 0.5 -> the later frame), so a real point is
      never blended with a missing one. Integer positions copy frames exactly.

    Args:
        keypoints: [N, M, T, V, 2] floating tensor (padded to T; frames >= length are ignored).
            N = 0 gives empty outputs, M = 0 outputs with no person.
        scores: [N, M, T, V] floating tensor, or None (all ones).
        lengths: integer tensor [N], 1 <= lengths <= T, on the keypoints' device or on the CPU
            (then copied to the keypoints' device without a host sync).
        positions: floating tensor [N, K, T'] on the keypoints' device (float32 is used).
        mode: "linear" or "nearest" (:data:`pymg.ops.constants.GATHER_MODES`).
        eps: missing-point score threshold (>= 0).
        impl: "auto", "native" or "reference".

    Returns:
        (keypoints float32 [N*K, M, T', V, 2], scores float32 [N*K, M, T', V]); sample n's clips
        are rows n*K .. n*K + K - 1.
    """
    sc, eps_f = _check_inputs(keypoints, scores, lengths, mode, eps, impl)
    n = keypoints.shape[0]
    if not isinstance(positions, torch.Tensor):
        raise TypeError(
            f"positions must be a floating torch.Tensor [N, K, T'], got {type(positions).__name__}"
        )
    if not positions.is_floating_point():
        raise TypeError(f"positions must have a floating dtype, got {positions.dtype}")
    if positions.dim() != 3 or positions.shape[0] != n or min(positions.shape[1:]) == 0:
        raise ValueError(
            f"positions must have shape [N, K, T'] with N = {n}, K >= 1 and T' >= 1, "
            f"got {tuple(positions.shape)}"
        )
    _checks.check_same_device(keypoints, positions, "positions")
    return _gather(keypoints, sc, lengths, positions, mode, eps_f, impl)


def align_frames(
    keypoints: torch.Tensor,
    scores: torch.Tensor | None,
    lengths: torch.Tensor,
    clip_len: int,
    *,
    strategy: str = "uniform",
    num_clips: int = 1,
    training: bool = False,
    generator: torch.Generator | None = None,
    mode: str = "linear",
    eps: float = 1e-3,
    impl: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Align each sample to ``clip_len`` frames (:func:`frame_positions` + :func:`gather_frames`).

    Args:
        keypoints: [N, M, T, V, 2]; scores: [N, M, T, V] or None (all ones).
        lengths: integer tensor [N] (1 <= lengths <= T), on the CPU or the keypoints' device.
        clip_len: L; strategy, num_clips, training, generator: see :func:`frame_positions`;
        mode, eps, impl: see :func:`gather_frames`.

    Returns:
        (keypoints float32 [N*K, M, L, V, 2], scores float32 [N*K, M, L, V]).
    """
    sc, eps_f = _check_inputs(keypoints, scores, lengths, mode, eps, impl)
    clip_len, num_clips = check_position_args(clip_len, strategy, num_clips, training, generator)
    n, m, _, v, _ = keypoints.shape
    _checks.check_output_size(
        (n * num_clips, m, clip_len, v, 2), torch.float32, "align_frames: clip_len"
    )
    if generator is None:  # the custom op: positions made on the CPU, copied without a sync
        positions = torch.ops.pymg.frame_positions(
            lengths, clip_len, strategy, num_clips, training, keypoints.device
        )
    else:
        positions = frame_positions_eager(
            lengths.detach().cpu(),
            clip_len,
            strategy=strategy,
            num_clips=num_clips,
            training=training,
            generator=generator,
        )
    positions = host_to_device(positions, keypoints.device)
    return _gather(keypoints, sc, lengths, positions, mode, eps_f, impl)
