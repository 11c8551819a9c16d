"""The native backend: the C++/CUDA kernels of ``pymg._C`` behind the ``Backend`` interface.

See :class:`pymg.ops.backend.Backend`.

The methods take what the public ops pass after validation (contiguous float32 points, an int32
CPU limb table, int64 lengths, float32 positions) and a preallocated output that the kernel
overwrites completely (``torch.empty`` is enough). Before handing raw pointers to the kernels they
assert the layout that memory safety depends on (dtype, shape, device, contiguity); argument values
are not re-validated here. CPU kernels run on ``torch.get_num_threads()`` OpenMP threads (one
thread never enters the OpenMP runtime, which keeps forked DataLoader workers safe); CUDA kernels
run on ``torch.cuda.current_stream()`` of the tensors' device.

Kernel codes (``DTYPE_*``, ``GATHER_*``) are read from ``pymg._C``, where they are defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from pymg import _native
from pymg.ops.constants import GATHER_MODES, HEATMAP_DTYPES, WINDOW_SIGMAS

__all__ = ["NATIVE", "NativeBackend", "dtype_code", "gather_mode_code"]


def dtype_code(dtype: torch.dtype) -> int:
    """The kernels' output dtype code (``pymg._C.DTYPE_FLOAT32`` ...) of a heatmap dtype."""
    if dtype not in HEATMAP_DTYPES:
        raise TypeError(f"out must be one of {HEATMAP_DTYPES}, got {dtype}")
    return int(getattr(_native.require(), "DTYPE_" + str(dtype).removeprefix("torch.").upper()))


def gather_mode_code(mode: str) -> int:
    """The kernels' gather mode code (``pymg._C.GATHER_LINEAR`` ...) of a mode name."""
    if mode not in GATHER_MODES:
        raise ValueError(f"mode must be one of {GATHER_MODES}, got {mode!r}")
    return int(getattr(_native.require(), "GATHER_" + mode.upper()))


def _layout(name: str, t: Any, dtype: torch.dtype, shape: Sequence[int], device: Any) -> None:
    """Raise unless ``t`` is a contiguous ``dtype`` tensor of ``shape`` on ``device``."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {t.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(t.shape)}")
    if t.device != device:
        raise ValueError(f"{name} must be on {device}, got {t.device}")
    if not t.is_contiguous():
        raise ValueError(f"{name} must be contiguous")


def _points(kp: Any, sc: Any) -> tuple[int, int, int, int]:
    if not isinstance(kp, torch.Tensor) or kp.dim() != 5 or kp.shape[-1] != 2:
        shape = tuple(kp.shape) if isinstance(kp, torch.Tensor) else type(kp).__name__
        raise ValueError(f"kp must be a float32 tensor of shape [N, M, T, V, 2], got {shape}")
    n, m, t, v, _ = kp.shape
    _layout("kp", kp, torch.float32, (n, m, t, v, 2), kp.device)
    _layout("sc", sc, torch.float32, (n, m, t, v), kp.device)
    return n, m, t, v


def _heatmap_out(out: Any, nct: tuple[int, int, int], device: torch.device) -> tuple[int, int, int]:
    """Asserts a heatmap output [N, C, T, H, W]; returns (H, W, the kernel's dtype code)."""
    if not isinstance(out, torch.Tensor) or out.dim() != 5:
        raise ValueError("out must be a tensor of shape [N, C, T, H, W]")
    h, w = int(out.shape[3]), int(out.shape[4])
    code = dtype_code(out.dtype)
    _layout("out", out, out.dtype, (*nct, h, w), device)
    return h, w, code


def _launch_target(device: torch.device) -> tuple[int, int, int]:
    """(device index or -1, stream handle, CPU thread count) for a launch on ``device``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return index, int(torch.cuda.current_stream(index).cuda_stream), 1
    if device.type != "cpu":
        raise ValueError(f"tensors must be on a CPU or CUDA device, got {device}")
    return -1, 0, max(1, torch.get_num_threads())


class NativeBackend:
    """The compiled kernels (CPU and CUDA); see :class:`pymg.ops.backend.Backend`."""

    name = "native"

    def joint_heatmaps_into(
        self, kp: torch.Tensor, sc: torch.Tensor, out: torch.Tensor, sigma: float, eps: float
    ) -> None:
        """Draws joint heatmaps of kp [N, M, T, V, 2], sc [N, M, T, V] into out [N, V, T, H, W]."""
        _native.require()  # a clear RuntimeError when the extension is missing
        from pymg import _C as mod  # typed by pymg/_C.pyi, so mypy checks the call

        n, m, t, v = _points(kp, sc)
        h, w, code = _heatmap_out(out, (n, v, t), kp.device)
        device, stream, threads = _launch_target(kp.device)
        mod.joint_heatmaps(
            kp.data_ptr(), sc.data_ptr(), out.data_ptr(), n, m, t, v, h, w,
            float(sigma), WINDOW_SIGMAS, float(eps), code, device, stream, threads,
        )  # fmt: skip

    def limb_heatmaps_into(
        self,
        kp: torch.Tensor,
        sc: torch.Tensor,
        limbs: torch.Tensor,
        out: torch.Tensor,
        sigma: float,
        eps: float,
    ) -> None:
        """Draws limb heatmaps into out [N, L, T, H, W]; limbs int32 [L, 2] on the CPU."""
        _native.require()  # a clear RuntimeError when the extension is missing
        from pymg import _C as mod  # typed by pymg/_C.pyi, so mypy checks the call

        n, m, t, v = _points(kp, sc)
        if not isinstance(limbs, torch.Tensor) or limbs.dim() != 2 or limbs.shape[1] != 2:
            raise ValueError("limbs must be an int32 CPU tensor of shape [L, 2]")
        num_limbs = int(limbs.shape[0])
        _layout("limbs", limbs, torch.int32, (num_limbs, 2), torch.device("cpu"))
        h, w, code = _heatmap_out(out, (n, num_limbs, t), kp.device)
        device, stream, threads = _launch_target(kp.device)
        mod.limb_heatmaps(
            kp.data_ptr(), sc.data_ptr(), limbs.data_ptr(), num_limbs, out.data_ptr(),
            n, m, t, v, h, w, float(sigma), WINDOW_SIGMAS, float(eps), code, device, stream,
            threads,
        )  # fmt: skip

    def gather_frames_into(
        self,
        kp: torch.Tensor,
        sc: torch.Tensor,
        lengths: torch.Tensor,
        positions: torch.Tensor,
        out_kp: torch.Tensor,
        out_sc: torch.Tensor,
        mode: str,
        eps: float,
    ) -> None:
        """Gathers frames at positions f32 [N, K, T2] into out_kp, out_sc (lengths int64 [N])."""
        _native.require()  # a clear RuntimeError when the extension is missing
        from pymg import _C as mod  # typed by pymg/_C.pyi, so mypy checks the call

        n, m, t, v = _points(kp, sc)
        if not isinstance(positions, torch.Tensor) or positions.dim() != 3:
            raise ValueError("positions must be a float32 tensor of shape [N, K, T2]")
        k, t2 = int(positions.shape[1]), int(positions.shape[2])
        _layout("lengths", lengths, torch.int64, (n,), kp.device)
        _layout("positions", positions, torch.float32, (n, k, t2), kp.device)
        _layout("out_kp", out_kp, torch.float32, (n * k, m, t2, v, 2), kp.device)
        _layout("out_sc", out_sc, torch.float32, (n * k, m, t2, v), kp.device)
        code = gather_mode_code(mode)
        device, stream, threads = _launch_target(kp.device)
        mod.gather_frames(
            kp.data_ptr(), sc.data_ptr(), lengths.data_ptr(), positions.data_ptr(),
            out_kp.data_ptr(), out_sc.data_ptr(), n, m, t, v, k, t2, code, float(eps),
            device, stream, threads,
        )  # fmt: skip


#: The native backend instance that :func:`pymg.ops.backend.get_backend` returns.
NATIVE = NativeBackend()
