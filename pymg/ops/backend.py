"""The backend interface of the ops and the one place that chooses an implementation.

Two implementations of :class:`Backend`, with identical signatures and results:
:data:`pymg.ops.backend_native.NATIVE` (the compiled kernels of ``pymg._C``) and
:data:`pymg.ops.backend_torch.TORCH` (pure torch). :func:`get_backend` picks one:
``impl="auto"`` (the default of every op) uses the native kernels when the compiled extension is
loaded, has kernels for the tensors' device type and (CUDA) its runtime sees the device, and
otherwise the torch backend, warning once per process (:class:`NativeFallbackWarning`) with the
reason. ``impl="native"`` raises instead of falling back;
``impl="reference"`` always uses the torch backend. :func:`use_impl` sets the default for a block of
code (a context manager; an explicit ``impl=`` other than "auto" wins).
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator
from typing import Protocol

import torch

from pymg import _native
from pymg.ops import _checks
from pymg.ops.backend_native import NATIVE
from pymg.ops.backend_torch import TORCH
from pymg.ops.constants import IMPLS

__all__ = [
    "Backend",
    "NativeFallbackWarning",
    "get_backend",
    "native_available",
    "native_compiled",
    "use_impl",
]

_default_impl: contextvars.ContextVar[str] = contextvars.ContextVar("pymg_ops_impl", default="auto")
_warned = False


class Backend(Protocol):
    """What the public ops call after validation. Every method fills preallocated outputs.

    Inputs are contiguous: ``kp`` float32 [N, M, T, V, 2], ``sc`` float32 [N, M, T, V] on one
    device; outputs are on that device and every element is written (``torch.empty`` is enough).
    """

    name: str

    def joint_heatmaps_into(
        self, kp: torch.Tensor, sc: torch.Tensor, out: torch.Tensor, sigma: float, eps: float
    ) -> None:
        """Joint heatmaps into ``out`` [N, V, T, H, W] (float32, float16 or bfloat16)."""

    def limb_heatmaps_into(
        self,
        kp: torch.Tensor,
        sc: torch.Tensor,
        limbs: torch.Tensor,
        out: torch.Tensor,
        sigma: float,
        eps: float,
    ) -> None:
        """Limb heatmaps into ``out`` [N, L, T, H, W]; ``limbs`` int32 [L, 2] on the CPU."""

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
        """Frames at ``positions`` float32 [N, K, T'] (``lengths`` int64 [N], values in [1, T]).

        Fills ``out_kp`` float32 [N*K, M, T', V, 2] and ``out_sc`` float32 [N*K, M, T', V];
        ``mode`` is one of :data:`pymg.ops.constants.GATHER_MODES`.
        """


class NativeFallbackWarning(RuntimeWarning):
    """Emitted once per process when pymg.ops falls back to the slower torch backend."""


@contextlib.contextmanager
def use_impl(impl: str) -> Iterator[None]:
    """Context manager: run the ops inside the block with ``impl`` ("auto", "native", "reference").

    Example::

        with pymg.ops.use_impl("reference"):
            h = pymg.ops.joint_heatmaps(kp, size=(56, 56))
    """
    _checks.check_choice(impl, "impl", IMPLS)
    token = _default_impl.set(impl)
    try:
        yield
    finally:
        _default_impl.reset(token)


def _native_missing(device: torch.device) -> str:
    """Why ``pymg._C`` has no kernels for ``device``'s type ("" when they are compiled in)."""
    try:
        if not _native.available():
            return f"the compiled extension pymg._C is not loaded ({_native.load_error()})"
        if device.type == "cpu":
            return ""
        if device.type != "cuda":
            return f"the native kernels do not support {device.type} tensors"
        return "" if _native.cuda_compiled() else "pymg._C was built without CUDA support"
    except Exception as exc:  # a broken build must not break the torch path
        return f"pymg._native failed: {exc!r}"


def _native_unusable(device: torch.device) -> str:
    """Why the native kernels cannot run on ``device`` ("" when they can).

    Compiled in is not enough for CUDA: the extension's own (static) CUDA runtime must also see
    the device, which it does not on a machine without a GPU or with a driver older than the CUDA
    toolkit ``pymg._C`` was built with.
    """
    reason = _native_missing(device)
    if reason or device.type != "cuda":
        return reason
    try:
        count = _native.cuda_device_count()
    except Exception as exc:  # a broken build must not break the torch path
        return f"pymg._native failed: {exc!r}"
    index = 0 if device.index is None else device.index
    if index >= count:
        return (
            f"the CUDA kernels are compiled in but pymg._C's CUDA runtime sees {count} device(s), "
            f"so not {device} (no GPU, or a driver older than the CUDA toolkit it was built with)"
        )
    return ""


def get_backend(impl: str, device: torch.device) -> Backend:
    """The backend that runs ops on ``device`` for ``impl`` ("auto", "native" or "reference")."""
    global _warned
    _checks.check_choice(impl, "impl", IMPLS)
    if impl == "auto":
        impl = _default_impl.get()
    if impl == "reference":
        return TORCH
    reason = _native_unusable(device)
    if not reason:
        return NATIVE
    if impl == "native":
        raise RuntimeError(f"impl='native' was requested but {reason}")
    if not _warned:
        _warned = True
        warnings.warn(
            f"pymg native kernels unavailable: {reason}; pymg.ops falls back to the pure-torch "
            "backend (slower). Pass impl='reference' to silence this.",
            NativeFallbackWarning,
            stacklevel=3,
        )
    return TORCH


def native_compiled(device: torch.device | str = "cpu") -> bool:
    """True when ``pymg._C`` is loaded with kernels for ``device``'s type, present or not.

    ``native_compiled("cuda")`` is True for a build with CUDA kernels even on a machine without a
    GPU; :func:`native_available` says whether the kernels can run there.
    """
    return not _native_missing(torch.device(device))


def native_available(device: torch.device | str = "cpu") -> bool:
    """True when the native kernels can run on ``device`` (what ``impl="auto"`` then uses).

    That is: compiled in (:func:`native_compiled`) and, for CUDA, the device is visible to the
    extension's CUDA runtime, so ``native_available("cuda")`` is False on a machine without a GPU.
    """
    return not _native_unusable(torch.device(device))
