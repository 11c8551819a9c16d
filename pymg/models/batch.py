"""The keypoint batch both model families take: checked, completed and aligned to ``clip_len``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from pymg.ops import align_frames
from pymg.topology import Skeleton


def align_batch(
    batch: Mapping[str, Any],
    layout: Skeleton,
    clip_len: int,
    *,
    strategy: str,
    num_clips: int = 1,
    training: bool = False,
    generator: torch.Generator | None = None,
    eps: float = 1e-3,
    device: torch.device | None = None,
) -> tuple[Tensor, Tensor]:
    """Check ``batch["keypoint"]`` against ``layout`` and align every clip in time.

    A missing ``score`` means every point is present; a missing ``length`` means every sample has
    all T frames.

    Args:
        batch: ``keypoint [N, M, T, V, 2]``, optional ``score [N, M, T, V]`` and ``length [N]``,
            as from :func:`pymg.data.collate`.
        layout: the model's skeleton; V must equal ``layout.num_joints``.
        clip_len, strategy, num_clips, training, generator, eps: as in
            :func:`pymg.ops.align_frames`.
        device: where to align (None: the keypoints' device).

    Returns:
        float32 ``(keypoints [N * num_clips, M, clip_len, V, 2], scores [N * num_clips, M,
        clip_len, V])``; sample ``n``'s clips are rows ``n * num_clips .. + num_clips - 1``.
    """
    if not isinstance(batch, Mapping):
        raise TypeError(f"batch must be a dict with 'keypoint', got {type(batch).__name__}")
    keypoint = batch.get("keypoint")
    if not isinstance(keypoint, Tensor) or keypoint.dim() != 5 or keypoint.shape[-1] != 2:
        got = tuple(keypoint.shape) if isinstance(keypoint, Tensor) else type(keypoint).__name__
        raise ValueError(f"batch['keypoint']: expected a Tensor [N, M, T, V, 2], got {got}")
    n, _, t, v, _ = keypoint.shape
    if v != layout.num_joints:
        raise ValueError(
            f"batch['keypoint']: expected V={layout.num_joints} joints for layout "
            f"{layout.name!r}, got V={v}"
        )
    device = keypoint.device if device is None else device
    keypoint = keypoint.to(device=device, dtype=torch.float32)
    score = batch.get("score")
    if score is not None:
        score = torch.as_tensor(score).to(device=device, dtype=torch.float32)
    length = batch.get("length")
    if length is None:  # on the CPU: align_frames builds positions there, so no device sync
        length = torch.full((n,), t, dtype=torch.int64)
    else:  # align_frames takes lengths on the CPU as they are (it builds positions there)
        length = torch.as_tensor(length).to(dtype=torch.int64)
        if length.device.type != "cpu":
            length = length.to(device)
    return align_frames(
        keypoint,
        score,
        length,
        clip_len,
        strategy=strategy,
        num_clips=num_clips,
        training=training,
        generator=generator,
        eps=eps,
    )
