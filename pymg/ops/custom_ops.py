"""The ops as ``torch.library`` custom ops (namespace ``pymg``), so ``torch.compile`` sees them.

Registered here (importing :mod:`pymg.ops` registers them):

* ``torch.ops.pymg.joint_heatmaps(kp, sc, height, width, sigma, eps, dtype, impl)``
  -> [N, V, T, H, W]
* ``torch.ops.pymg.limb_heatmaps(kp, sc, limbs, height, width, sigma, eps, dtype, impl)``
  -> [N, L, T, H, W], ``limbs`` a flat list ``[a0, b0, a1, b1, ...]``
* ``torch.ops.pymg.gather_frames(kp, sc, lengths, positions, mode, eps, impl)``, ``mode`` a name
  of :data:`pymg.ops.constants.GATHER_MODES`
  -> ([N*K, M, T', V, 2], [N*K, M, T', V])
* ``torch.ops.pymg.frame_positions(lengths, clip_len, strategy, num_clips, training, device)``
  -> [N, K, L] float32 on ``device``

Each op has a real implementation (the backend that :func:`pymg.ops.backend.get_backend` chooses
at run time from ``impl`` and the device) and a fake one that only
gives output shapes, dtypes and devices. So ``torch.compile(fullgraph=True)`` traces them without a
graph break, and meta tensors give meta outputs. The extension itself stays free of libtorch: the
registration is Python, the kernels still receive raw pointers.

The public functions of :mod:`pymg.ops` validate their arguments (everything that does not depend
on tensor values) and call these ops with contiguous float32 inputs; the one check of tensor
*values* (lengths within ``[1, T]``) runs inside the real implementation of ``gather_frames``, where
values exist. Call the public functions, not these ops: the ops trust their inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pymg.ops import _checks
from pymg.ops.backend import get_backend
from pymg.ops.positions import frame_positions_eager

__all__ = ["host_to_device", "limb_table"]

_limb_tables: dict[tuple[int, ...], Tensor] = {}
_pinned_limb_tables: dict[tuple[int, ...], Tensor] = {}


def limb_table(limbs: list[int], pinned: bool = False) -> Tensor:
    """The int32 CPU table [L, 2] of a flat limb list, cached per distinct list.

    ``pinned=True`` returns a page-locked copy (CUDA launches copy it to the device without
    blocking the host; it is kept alive in the cache, so the asynchronous copy never reads freed
    memory).
    """
    key = tuple(limbs)
    cache = _pinned_limb_tables if pinned else _limb_tables
    table = cache.get(key)
    if table is None:
        table = torch.tensor(key, dtype=torch.int32).view(-1, 2)
        if pinned:
            table = table.pin_memory()
        cache[key] = table
    return table


def host_to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` on ``device``; a CPU -> CUDA copy goes through pinned memory without a host sync."""
    if t.device == device:
        return t
    if device.type == "cuda" and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _heatmap_out(kp: Tensor, channels: int, height: int, width: int, dtype: torch.dtype) -> Tensor:
    n, _, t, _, _ = kp.shape
    return torch.empty((n, channels, t, height, width), dtype=dtype, device=kp.device)


@torch.library.custom_op("pymg::joint_heatmaps", mutates_args=())
def _joint_heatmaps(
    kp: Tensor,
    sc: Tensor,
    height: int,
    width: int,
    sigma: float,
    eps: float,
    dtype: torch.dtype,
    impl: str,
) -> Tensor:
    out = _heatmap_out(kp, kp.shape[3], height, width, dtype)
    get_backend(impl, kp.device).joint_heatmaps_into(kp, sc, out, sigma, eps)
    return out


@_joint_heatmaps.register_fake
def _joint_heatmaps_fake(
    kp: Tensor,
    sc: Tensor,
    height: int,
    width: int,
    sigma: float,
    eps: float,
    dtype: torch.dtype,
    impl: str,
) -> Tensor:
    return _heatmap_out(kp, kp.shape[3], height, width, dtype)


@torch.library.custom_op("pymg::limb_heatmaps", mutates_args=())
def _limb_heatmaps(
    kp: Tensor,
    sc: Tensor,
    limbs: list[int],
    height: int,
    width: int,
    sigma: float,
    eps: float,
    dtype: torch.dtype,
    impl: str,
) -> Tensor:
    out = _heatmap_out(kp, len(limbs) // 2, height, width, dtype)
    table = limb_table(limbs, pinned=kp.device.type == "cuda")
    get_backend(impl, kp.device).limb_heatmaps_into(kp, sc, table, out, sigma, eps)
    return out


@_limb_heatmaps.register_fake
def _limb_heatmaps_fake(
    kp: Tensor,
    sc: Tensor,
    limbs: list[int],
    height: int,
    width: int,
    sigma: float,
    eps: float,
    dtype: torch.dtype,
    impl: str,
) -> Tensor:
    return _heatmap_out(kp, len(limbs) // 2, height, width, dtype)


def _gather_outputs(kp: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    n, m, _, v, _ = kp.shape
    k, j = positions.shape[1], positions.shape[2]
    out_kp = torch.empty((n * k, m, j, v, 2), dtype=torch.float32, device=kp.device)
    out_sc = torch.empty((n * k, m, j, v), dtype=torch.float32, device=kp.device)
    return out_kp, out_sc


@torch.library.custom_op("pymg::gather_frames", mutates_args=())
def _gather_frames(
    kp: Tensor,
    sc: Tensor,
    lengths: Tensor,
    positions: Tensor,
    mode: str,
    eps: float,
    impl: str,
) -> tuple[Tensor, Tensor]:
    _checks.check_lengths(lengths, kp.shape[0], kp.shape[2])
    length = host_to_device(lengths.to(torch.int64), kp.device).contiguous()
    out_kp, out_sc = _gather_outputs(kp, positions)
    backend = get_backend(impl, kp.device)
    backend.gather_frames_into(kp, sc, length, positions, out_kp, out_sc, mode, eps)
    return out_kp, out_sc


@_gather_frames.register_fake
def _gather_frames_fake(
    kp: Tensor, sc: Tensor, lengths: Tensor, positions: Tensor, mode: str, eps: float, impl: str
) -> tuple[Tensor, Tensor]:
    return _gather_outputs(kp, positions)


@torch.library.custom_op(
    "pymg::frame_positions", mutates_args=(), tags=(torch.Tag.nondeterministic_seeded,)
)
def _frame_positions(
    lengths: Tensor,
    clip_len: int,
    strategy: str,
    num_clips: int,
    training: bool,
    device: torch.device,
) -> Tensor:
    positions = frame_positions_eager(
        lengths.cpu(), clip_len, strategy=strategy, num_clips=num_clips, training=training
    )
    return host_to_device(positions, device)


@_frame_positions.register_fake
def _frame_positions_fake(
    lengths: Tensor,
    clip_len: int,
    strategy: str,
    num_clips: int,
    training: bool,
    device: torch.device,
) -> Tensor:
    return torch.empty((lengths.shape[0], num_clips, clip_len), dtype=torch.float32, device=device)
