"""pymg: skeleton-based micro-gesture recognition.

``import pymg`` stays light: subpackages (``pymg.ops``, ``pymg.data``, ``pymg.models``, ...) are
imported explicitly by the user, :func:`build_info` imports torch only when called, and
``pymg.Recognizer`` (inference from a checkpoint) is loaded on first access.
"""

from typing import Any

from pymg._version import __version__

__all__ = ["Recognizer", "__version__", "build_info"]

_LAZY = {"Recognizer": "pymg.engine.inference"}


def __getattr__(name: str) -> Any:
    """Lazy top-level shortcuts: ``pymg.Recognizer`` imports the engine on first use only."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pymg' has no attribute {name!r}")


def build_info() -> dict[str, Any]:
    """Facts about this installation, for bug reports and ``pymg info``.

    Returns:
        dict with ``version``; ``native_loaded`` (bool) and ``native_error`` (why ``pymg._C``
        did not import, else None); ``cuda_compiled`` (the CUDA kernels are built in);
        ``cuda_usable`` (they can run: compiled in and a GPU seen by the extension's own CUDA
        runtime; False on a machine without one); ``cuda_available``
        (``torch.cuda.is_available()``); the extension's ``cuda_runtime``, ``cuda_archs``,
        ``openmp`` and ``compiler`` (None when it is not loaded); ``num_threads``
        (``torch.get_num_threads()``); ``openmp_threads`` (threads the CPU kernels use:
        ``num_threads`` with OpenMP, else 1) and ``torch`` (torch's version).
    """
    import torch

    from pymg import _native

    native = _native.info()
    return {
        "version": __version__,
        "native_loaded": native["native_loaded"],
        "native_error": native["native_error"],
        "cuda_compiled": bool(native.get("cuda_compiled", False)),
        "cuda_usable": _native.cuda_usable(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_runtime": native.get("cuda_runtime"),
        "cuda_archs": native.get("cuda_archs"),
        "openmp": native.get("openmp"),
        "compiler": native.get("compiler"),
        "num_threads": torch.get_num_threads(),
        "openmp_threads": torch.get_num_threads() if native.get("openmp") else 1,
        "torch": torch.__version__,
    }
