"""A restricted unpickler for annotation pickles from untrusted sources.

``pickle.load`` runs whatever callable a pickle names, so a downloaded ``.pkl`` can execute code.
:func:`safe_load` admits only what PYSKL/mmaction2 annotation files need: builtin containers and
scalars (which need no globals at all), ``set``/``frozenset``/``complex``/``bytearray``/``slice``,
``collections.OrderedDict``, latin-1 ``_codecs.encode`` (how protocol 2 stores bytes), and numpy
arrays, dtypes and scalars (numpy 1.x ``numpy.core.*`` and numpy 2.x ``numpy._core.*`` names both
resolve to the installed numpy). Python-2 names (``__builtin__.set``) are mapped first. Any global
else (``os.system``, ``subprocess.Popen``, ``builtins.eval``, ``torch._utils...``) raises
:class:`UnsafePickleError` *before* anything is called.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "UnsafePickleError", "safe_load", "safe_loads"]


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; ``.module``/``.name`` say which."""

    def __init__(self, module: str, name: str, source: str) -> None:
        super().__init__(
            f"refusing to load global '{module}.{name}' from {source}: annotation pickles may only "
            "hold builtin containers/scalars and numpy arrays (convert trusted files with "
            "pymg.data.formats.save_native to avoid pickles)"
        )
        self.module = module
        self.name = name


def _numpy_internals() -> dict[str, Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    found = {
        "_reconstruct": multiarray._reconstruct,
        "scalar": multiarray.scalar,
        "_frombuffer": getattr(numeric, "_frombuffer", None),
    }
    return {k: v for k, v in found.items() if v is not None}


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` (protocol-2 pickles store bytes as latin-1 text)."""
    if encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin-1", errors)


def _build_allowed() -> dict[tuple[str, str], Any]:
    internals = _numpy_internals()
    allowed: dict[tuple[str, str], Any] = {
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "slice"): slice,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for prefix in ("numpy.core", "numpy._core"):
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = internals["_reconstruct"]
        allowed[(f"{prefix}.multiarray", "scalar")] = internals["scalar"]
        if "_frombuffer" in internals:
            allowed[(f"{prefix}.numeric", "_frombuffer")] = internals["_frombuffer"]
    # numpy dtype classes (numpy >= 1.25 pickles dtypes of these via numpy.dtypes.*)
    for name in (
        "Float16DType",
        "Float32DType",
        "Float64DType",
        "Int8DType",
        "Int16DType",
        "Int32DType",
        "Int64DType",
        "UInt8DType",
        "UInt16DType",
        "UInt32DType",
        "UInt64DType",
        "BoolDType",
        "StrDType",
        "BytesDType",
    ):
        cls = getattr(getattr(np, "dtypes", None), name, None)
        if cls is not None:
            allowed[("numpy.dtypes", name)] = cls
    return allowed


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = _build_allowed()
"""``(module, name) -> object`` admitted by :func:`safe_load`."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        # Python-2 names written by protocols 0-2 with fix_imports (e.g. __builtin__.set)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise UnsafePickleError(module, name, self._source)
        return obj

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise pickle.UnpicklingError(f"{self._source}: persistent ids are not allowed ({pid!r})")


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the allow-list; see :func:`safe_load`."""
    return _RestrictedUnpickler(io.BytesIO(data), source).load()


def safe_load(path: str | os.PathLike[str] | BinaryIO) -> Any:
    """Load a pickle file that may only contain containers, scalars and numpy arrays.

    Args:
        path: a file path or a binary file object.

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: the pickle names a global outside :data:`ALLOWED_GLOBALS`
            (nothing it names is imported or called).
        pickle.UnpicklingError: truncated or corrupt data (message names the file).
    """
    if hasattr(path, "read"):
        source = str(getattr(path, "name", "<file>"))
        return _load_checked(path, source)  # type: ignore[arg-type]
    source = os.fspath(path)
    with open(source, "rb") as f:
        return _load_checked(f, source)


def _load_checked(f: BinaryIO, source: str) -> Any:
    try:
        return _RestrictedUnpickler(f, source).load()
    except UnsafePickleError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError) as exc:
        raise pickle.UnpicklingError(
            f"{source}: truncated or corrupt pickle ({type(exc).__name__}: {exc})"
        ) from exc
