"""Loader and launchers of the compiled kernels in ``pymg._C``.

The extension is imported lazily on first use; if it cannot be imported (not built, wrong platform),
:func:`available` returns False and :func:`load_error` keeps the reason, so :mod:`pymg.ops` can
fall back to its pure-torch reference. The ``*_into`` launchers take already-validated tensors (see
:mod:`pymg.ops`) and a preallocated output that the kernel overwrites completely, so
``torch.empty`` is enough. They only check what would otherwise corrupt memory: dtypes,
contiguity, devices and the shapes that tie the arguments together. CPU kernels run on
``torch.get_num_threads()`` OpenMP threads (one thread never enters the OpenMP runtime, which keeps
forked DataLoader workers safe); CUDA kernels run on ``torch.cuda.current_stream()`` of the
tensors' device.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import torch

__all__ = [
    "GATHER_LINEAR",
    "GATHER_NEAREST",
    "available",
    "cuda_compiled",
    "cuda_device_count",
    "cuda_usable",
    "gather_frames_into",
    "info",
    "joint_heatmaps_into",
    "limb_heatmaps_into",
    "load_error",
    "output_dtypes",
]

#: ``mode`` codes of :func:`gather_frames_into` (the same values as ``pymg._C.GATHER_*``).
GATHER_LINEAR = 0
GATHER_NEAREST = 1

_module: ModuleType | None = None
_error: str | None = None
_tried = False


def _load() -> ModuleType | None:
    """Imports ``pymg._C`` once; returns None (and records why) when it is unavailable."""
    global _module, _error, _tried
    if not _tried:
        _tried = True
        try:
            _module = importlib.import_module("pymg._C")
        except (ImportError, OSError) as exc:  # missing build, ABI or loader problems
            _module = None
            _error = f"{type(exc).__name__}: {exc}"
    return _module


def _require() -> Any:
    mod = _load()
    if mod is None:
        raise RuntimeError(f"the native extension pymg._C is not available ({_error})")
    return mod


def available() -> bool:
    """True when the compiled extension ``pymg._C`` imports."""
    return _load() is not None


def load_error() -> str | None:
    """Why ``pymg._C`` could not be imported, or None when it loaded (or was not tried yet)."""
    _load()
    return _error


def cuda_compiled() -> bool:
    """True when ``pymg._C`` was built with its CUDA kernels."""
    mod = _load()
    return bool(mod is not None and mod.cuda_compiled)


def cuda_device_count() -> int:
    """CUDA devices seen by the extension's own (static) runtime; 0 without a driver or kernels."""
    mod = _load()
    return int(mod.cuda_device_count()) if mod is not None else 0


def cuda_usable() -> bool:
    """True when the CUDA kernels are compiled in and the extension's runtime sees a device.

    False (never an exception) where the driver is missing or older than the CUDA toolkit the
    extension was built with; CUDA tensors then have to use the torch reference.
    """
    return cuda_compiled() and cuda_device_count() > 0


def info() -> dict[str, Any]:
    """Build facts of the extension.

    Returns:
        ``{"native_loaded": bool, "native_error": str | None}`` plus, when loaded, the
        extension's ``version``, ``cuda_compiled``, ``cuda_runtime``, ``cuda_archs``,
        ``cuda_compiler``, ``openmp``, ``openmp_max_threads`` and ``compiler``.
    """
    mod = _load()
    out: dict[str, Any] = {"native_loaded": mod is not None, "native_error": _error}
    if mod is not None:
        out.update(mod.build_info())
        out["openmp_max_threads"] = int(mod.openmp_max_threads())
    return out


def output_dtypes() -> dict[torch.dtype, int]:
    """Heatmap output dtypes the kernels write, mapped to their ``pymg._C.DTYPE_*`` codes."""
    mod = _require()
    return {
        torch.float32: int(mod.DTYPE_FLOAT32),
        torch.float16: int(mod.DTYPE_FLOAT16),
        torch.bfloat16: int(mod.DTYPE_BFLOAT16),
    }


def _check(
    name: str, t: torch.Tensor, dtype: torch.dtype, shape: Sequence[int], device: torch.device
) -> None:
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


def _launch_target(device: torch.device) -> tuple[int, int, int]:
    """(device index or -1, stream handle, CPU thread count) for a launch on ``device``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return index, int(torch.cuda.current_stream(index).cuda_stream), 1
    if device.type != "cpu":
        raise ValueError(f"tensors must be on a CPU or CUDA device, got {device}")
    return -1, 0, max(1, torch.get_num_threads())


def _points(kp: torch.Tensor, sc: torch.Tensor) -> tuple[int, int, int, int]:
    if not isinstance(kp, torch.Tensor) or kp.dim() != 5 or kp.shape[-1] != 2:
        shape = tuple(kp.shape) if isinstance(kp, torch.Tensor) else type(kp).__name__
        raise ValueError(f"kp must be a float32 tensor of shape [N, M, T, V, 2], got {shape}")
    n, m, t, v, _ = kp.shape
    _check("kp", kp, torch.float32, (n, m, t, v, 2), kp.device)
    _check("sc", sc, torch.float32, (n, m, t, v), kp.device)
    return n, m, t, v


def _heatmap_out(
    out: torch.Tensor, layout: str, nct: tuple[int, int, int], device: torch.device
) -> tuple[int, int, int]:
    """Checks a heatmap output ``out`` [N, C, T, H, W]; returns (H, W, the kernel's dtype code)."""
    if out.dim() != 5:
        raise ValueError(f"out must have shape {layout}, got {tuple(out.shape)}")
    h, w = int(out.shape[3]), int(out.shape[4])
    codes = output_dtypes()
    if out.dtype not in codes:
        raise TypeError(f"out must be float32, float16 or bfloat16, got {out.dtype}")
    _check("out", out, out.dtype, (*nct, h, w), device)
    return h, w, codes[out.dtype]


def joint_heatmaps_into(
    kp: torch.Tensor, sc: torch.Tensor, out: torch.Tensor, sigma: float, eps: float
) -> torch.Tensor:
    """Draws joint heatmaps into ``out`` (every element is written).

    Args:
        kp: float32 [N, M, T, V, 2] keypoints (x = column, y = row), contiguous.
        sc: float32 [N, M, T, V] scores (a point is skipped when score < eps or a coordinate is
            NaN/inf).
        out: [N, V, T, H, W] float32, float16 or bfloat16 on kp's device, contiguous.
        sigma: gaussian standard deviation in pixels (> 0).
        eps: score threshold.

    Returns:
        ``out``.
    """
    mod = _require()
    n, m, t, v = _points(kp, sc)
    h, w, code = _heatmap_out(out, "[N, V, T, H, W]", (n, v, t), kp.device)
    device, stream, threads = _launch_target(kp.device)
    mod.joint_heatmaps(
        kp.data_ptr(), sc.data_ptr(), out.data_ptr(), n, m, t, v, h, w,
        float(sigma), float(eps), code, device, stream, threads,
    )  # fmt: skip
    return out


def limb_heatmaps_into(
    kp: torch.Tensor,
    sc: torch.Tensor,
    limbs: torch.Tensor,
    out: torch.Tensor,
    sigma: float,
    eps: float,
) -> torch.Tensor:
    """Draws limb heatmaps into ``out`` (every element is written).

    Args:
        kp: float32 [N, M, T, V, 2] keypoints, contiguous.
        sc: float32 [N, M, T, V] scores.
        limbs: int32 [L, 2] joint index pairs on the CPU (indices are checked against V).
        out: [N, L, T, H, W] float32, float16 or bfloat16 on kp's device, contiguous.
        sigma: gaussian standard deviation in pixels (> 0).
        eps: score threshold; a limb is skipped when min(s_a, s_b) < eps.

    Returns:
        ``out``.
    """
    mod = _require()
    n, m, t, v = _points(kp, sc)
    if not isinstance(limbs, torch.Tensor) or limbs.dim() != 2 or limbs.shape[1] != 2:
        raise ValueError("limbs must be an int32 CPU tensor of shape [L, 2]")
    num_limbs = int(limbs.shape[0])
    _check("limbs", limbs, torch.int32, (num_limbs, 2), torch.device("cpu"))
    h, w, code = _heatmap_out(out, "[N, L, T, H, W]", (n, num_limbs, t), kp.device)
    device, stream, threads = _launch_target(kp.device)
    mod.limb_heatmaps(
        kp.data_ptr(), sc.data_ptr(), limbs.data_ptr(), num_limbs, out.data_ptr(), n, m, t, v, h, w,
        float(sigma), float(eps), code, device, stream, threads,
    )  # fmt: skip
    return out


def gather_frames_into(
    kp: torch.Tensor,
    sc: torch.Tensor,
    lengths: torch.Tensor,
    positions: torch.Tensor,
    out_kp: torch.Tensor,
    out_sc: torch.Tensor,
    mode: int,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gathers (and linearly blends) source frames at fractional positions into the outputs.

    Args:
        kp: float32 [N, M, T, V, 2] keypoints, contiguous.
        sc: float32 [N, M, T, V] scores.
        lengths: int64 [N] valid frames per sample (values above T are treated as T).
        positions: float32 [N, K, T2] source-frame positions; < 0, >= length or NaN gives zeros.
        out_kp: float32 [N*K, M, T2, V, 2] output keypoints (row n*K + k is sample n, clip k).
        out_sc: float32 [N*K, M, T2, V] output scores.
        mode: :data:`GATHER_LINEAR` or :data:`GATHER_NEAREST` (frame floor(p + 0.5)).
        eps: score threshold below which a point is missing (never blended with a real one).

    Returns:
        ``(out_kp, out_sc)``.
    """
    mod = _require()
    n, m, t, v = _points(kp, sc)
    if not isinstance(positions, torch.Tensor) or positions.dim() != 3:
        raise ValueError("positions must be a float32 tensor of shape [N, K, T2]")
    k, t2 = int(positions.shape[1]), int(positions.shape[2])
    _check("lengths", lengths, torch.int64, (n,), kp.device)
    _check("positions", positions, torch.float32, (n, k, t2), kp.device)
    _check("out_kp", out_kp, torch.float32, (n * k, m, t2, v, 2), kp.device)
    _check("out_sc", out_sc, torch.float32, (n * k, m, t2, v), kp.device)
    device, stream, threads = _launch_target(kp.device)
    mod.gather_frames(
        kp.data_ptr(), sc.data_ptr(), lengths.data_ptr(), positions.data_ptr(),
        out_kp.data_ptr(), out_sc.data_ptr(), n, m, t, v, k, t2, int(mode), float(eps),
        device, stream, threads,
    )  # fmt: skip
    return out_kp, out_sc
