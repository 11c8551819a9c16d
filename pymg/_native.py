"""Loader of the compiled kernels in ``pymg._C`` and facts about its build.

The extension is imported lazily on first use; if it cannot be imported (not built, wrong platform),
:func:`available` returns False and :func:`load_error` keeps the reason, so :mod:`pymg.ops` can
fall back to its torch backend. The kernels are launched by :mod:`pymg.ops.backend_native`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = [
    "available",
    "cuda_compiled",
    "cuda_device_count",
    "cuda_usable",
    "info",
    "load_error",
    "require",
]

_module: ModuleType | None = None
_error: str | None = None
_tried = False
_device_count: int | None = None


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


def require() -> Any:
    """The ``pymg._C`` module; RuntimeError (with the import error) when it is unavailable."""
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
    """CUDA devices seen by the extension's own (static) runtime; 0 without a driver or kernels.

    Asked once per process (the ops ask before each launch; the count does not change).
    """
    global _device_count
    if _device_count is None:
        mod = _load()
        _device_count = int(mod.cuda_device_count()) if mod is not None else 0
    return _device_count


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
