"""The keypoint batch every model family takes: checked, aligned to ``clip_len``, mirrored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from pymg.checks import check_keypoint_shape
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

    A missing ``keypoint_score`` means every point is present; a missing ``length`` means every
    sample has all T frames.

    Args:
        batch: ``keypoint [N, M, T, V, 2]``, optional ``keypoint_score [N, M, T, V]`` and
            ``length [N]``, as from :func:`pymg.data.collate`.
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
    if not isinstance(keypoint, Tensor):
        got = type(keypoint).__name__
        raise ValueError(f"batch['keypoint']: expected a Tensor [N, M, T, V, 2], got {got}")
    n, _, t, v = check_keypoint_shape(keypoint.shape, "batch['keypoint']", batched=True)
    if v != layout.num_joints:
        raise ValueError(
            f"batch['keypoint']: expected V={layout.num_joints} joints for layout "
            f"{layout.name!r}, got V={v}; the data and the model must share one layout "
            "(set data.layout in the config, or --layout on the command line)"
        )
    device = keypoint.device if device is None else device
    keypoint = keypoint.to(device=device, dtype=torch.float32)
    if "score" in batch and "keypoint_score" not in batch:
        raise ValueError("batch['score']: the scores are batch['keypoint_score'] (PYSKL's name)")
    score = batch.get("keypoint_score")
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


def mirror_keypoints(
    batch: Mapping[str, Any], perm: Sequence[int], wh: Tensor | None = None
) -> dict[str, Any]:
    """Horizontally mirrored copy of a keypoint batch (the test-time flip of keypoint models).

    ``x -> W - x`` for present points (missing points, both coordinates 0, stay 0), joints and
    scores permuted left <-> right with ``perm`` (the layout's ``joint_flip_perm``), as the data
    ``Flip`` transform does.

    Args:
        batch: ``keypoint [N, M, T, V, 2]``, optional ``keypoint_score [N, M, T, V]``, and
            ``img_shape [N, 2]`` (H, W) unless ``wh`` is given.
        perm: ``[V]`` left/right permutation of the joints.
        wh: ``[N, 2]`` (W, H) per sample, or None to take it from ``img_shape``.

    Shape:
        - output: the batch with ``keypoint`` (and ``keypoint_score``) mirrored, same shapes
    """
    kp = batch["keypoint"]
    if wh is None:
        wh = image_sizes(batch, int(kp.shape[0])).flip(-1)
    width = wh[:, 0].to(device=kp.device, dtype=kp.dtype).view(-1, 1, 1, 1)
    present = (kp != 0).any(dim=-1)
    x = torch.where(present, width - kp[..., 0], kp[..., 0])
    index = torch.as_tensor(list(perm), dtype=torch.long, device=kp.device)
    out = dict(batch, keypoint=torch.stack([x, kp[..., 1]], dim=-1).index_select(3, index))
    score = batch.get("keypoint_score")
    if score is not None:
        out["keypoint_score"] = torch.as_tensor(score).index_select(3, index.to(score.device))
    return out


def image_sizes(batch: Mapping[str, Any], n: int) -> Tensor:
    """``batch["img_shape"]`` checked: float32 ``[N, 2]`` (H, W) on the CPU.

    Raises:
        ValueError: missing, not ``[N, 2]``, or a size <= 0.
    """
    shape = batch.get("img_shape")
    if shape is None:
        raise ValueError(
            "batch['img_shape']: expected [N, 2] (H, W) per sample, as pymg.data.collate gives "
            "it; the batch has none"
        )
    sizes = torch.as_tensor(shape).detach().to("cpu", torch.float32)
    if sizes.shape != (n, 2) or not bool((sizes > 0).all()):
        raise ValueError(
            f"batch['img_shape']: expected a positive [N, 2] = [{n}, 2] (H, W), got "
            f"{sizes.tolist() if sizes.numel() <= 8 else tuple(sizes.shape)}"
        )
    return sizes
