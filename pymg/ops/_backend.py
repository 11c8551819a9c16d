"""Choice between the native kernels (:mod:`pymg._native`) and the pure-torch reference.

``impl="auto"`` (the default of every op) uses the native launchers when the compiled extension is
loaded and supports the tensors' device, and otherwise the torch reference, warning once per process
(:class:`NativeFallbackWarning`) with the reason. ``impl="native"`` raises instead of falling back;
``impl="reference"`` always uses :mod:`pymg.ops.reference`. :func:`use_impl` sets the default for a
block of code (a context manager; an explicit ``impl=`` other than "auto" wins).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import warnings
from collections.abc import Iterator
from types import ModuleType

import torch

from pymg.ops import _checks, reference

IMPLS = _checks.IMPLS

_default_impl: contextvars.ContextVar[str] = contextvars.ContextVar("pymg_ops_impl", default="auto")
_warned = False


class NativeFallbackWarning(RuntimeWarning):
    """Emitted once per process when pymg.ops falls back to the slower pure-torch reference."""


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


def _load_native() -> tuple[ModuleType | None, str]:
    """The native module when its extension is loaded, else (None, why not)."""
    try:
        native = importlib.import_module("pymg._native")
    except ImportError as exc:
        return None, f"pymg._native could not be imported: {exc}"
    try:
        if native.available():
            return native, ""
        info = native.info()
    except Exception as exc:  # a broken build must not break the reference path
        return None, f"pymg._native failed: {exc!r}"
    reason = info.get("native_error") if isinstance(info, dict) else None
    return None, f"the compiled extension pymg._C is not loaded ({reason or 'no reason given'})"


def _native_for(device: torch.device) -> tuple[ModuleType | None, str]:
    native, reason = _load_native()
    if native is None:
        return None, reason
    if device.type == "cpu":
        return native, ""
    if device.type == "cuda":
        try:
            compiled = bool(native.cuda_compiled())
        except Exception as exc:
            return None, f"pymg._native.cuda_compiled() failed: {exc!r}"
        if compiled:
            return native, ""
        return None, "pymg._C was built without CUDA support"
    return None, f"the native kernels do not support {device.type} tensors"


def select(impl: str, device: torch.device) -> ModuleType:
    """The backend module (native or reference) with the three ``*_into`` launchers."""
    global _warned
    _checks.check_choice(impl, "impl", IMPLS)
    if impl == "auto":
        impl = _default_impl.get()
    if impl == "reference":
        return reference
    native, reason = _native_for(device)
    if native is not None:
        return native
    if impl == "native":
        raise RuntimeError(f"impl='native' was requested but {reason}")
    if not _warned:
        _warned = True
        warnings.warn(
            f"pymg native kernels unavailable: {reason}; pymg.ops falls back to the pure-torch "
            "reference implementation (slower). Pass impl='reference' to silence this.",
            NativeFallbackWarning,
            stacklevel=3,
        )
    return reference


def native_available(device: torch.device | str = "cpu") -> bool:
    """True when the native kernels can run on ``device``."""
    return _native_for(torch.device(device))[0] is not None
