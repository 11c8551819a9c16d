"""A restricted unpickler for annotation pickles from untrusted sources.

``pickle.load`` runs whatever callable a pickle names, so a downloaded ``.pkl`` can execute code.
:func:`safe_load` admits only what PYSKL/mmaction2 annotation files need: builtin containers and
scalars (which need no globals at all), ``set``/``frozenset``/``complex``/``bytes``/
``bytearray``/``slice``, ``collections.OrderedDict``, latin-1 ``_codecs.encode`` (how protocol 2
stores bytes), and numpy arrays, dtypes and scalars (numpy 1.x ``numpy.core.*`` and numpy 2.x
``numpy._core.*`` names both resolve to the installed numpy). Python-2 names (``__builtin__.set``)
are mapped first. Any global else (``os.system``, ``subprocess.Popen``, ``builtins.eval``,
``torch._utils...``) raises :class:`UnsafePickleError` *before* anything is called.

A few admitted callables can still allocate memory out of proportion to the file, so they are
guarded, and every check runs before the allocation:

* ``numpy.ndarray`` may only be passed to ``_reconstruct`` (as numpy's own pickles do); calling it
  (``numpy.ndarray(shape, dtype)``, which allocates uninitialised memory of any size) raises
  :class:`UnsafePickleError`.
* ``_reconstruct`` may only build numpy's empty ``(0,)`` placeholder; the array's data must come
  from its pickled state, whose byte count must match its shape and dtype.
* every array (pickled state, ``_frombuffer``) and numpy scalar is held to the per-array cap
  (:data:`~pymg.data.formats.checks.DEFAULT_MAX_ARRAY_BYTES`, the ``max_array_bytes`` argument or
  ``$PYMG_MAX_ARRAY_BYTES``) and raises :class:`~pymg.data.formats.checks.ArrayTooLargeError`.
* a dtype's pickled state (which sets numpy-internal flags, sizes and field offsets directly) must
  describe a dtype numpy itself would make, and is applied once, before the dtype is used; so
  raw bytes cannot be passed off as object pointers.
* ``bytes(n)``/``bytearray(n)`` (n zero bytes) are refused, and no opcode may claim more bytes
  than the file still holds, so strings and bytes stay within the file's size.

Unpickling uses Python's pure-Python unpickler (whose opcode handlers can be checked); it is a few
times slower than the C one, which is immaterial next to the I/O of an annotation file.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import math
import os
import pickle
import reprlib
import struct
from typing import Any, BinaryIO

import numpy as np

from pymg.data.formats.checks import ArrayTooLargeError, resolve_max_array_bytes

__all__ = ["ALLOWED_GLOBALS", "UnsafePickleError", "safe_load", "safe_loads"]

_ADVICE = (
    "annotation pickles may only hold builtin containers/scalars and numpy arrays (convert "
    "trusted files with pymg.data.formats.save_native to avoid pickles)"
)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list, or calls an admitted one in a refused way.

    ``.module``/``.name`` say which global.
    """

    def __init__(self, module: str, name: str, source: str, reason: str | None = None) -> None:
        if reason is None:
            message = f"refusing to load global '{module}.{name}' from {source}: {_ADVICE}"
        else:
            message = f"refusing to {reason} ('{module}.{name}') from {source}"
        super().__init__(message)
        self.module = module
        self.name = name


class _CorruptPickle(pickle.UnpicklingError):
    """A structural problem found by a guard; the message already names the file."""


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


_NUMPY = _numpy_internals()


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` (protocol-2 pickles store bytes as latin-1 text)."""
    if encoding.replace("-", "").replace("_", "").lower() not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin-1", errors)


def _build_allowed() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("builtins", "bytes"): bytes,  # protocols 0-2 write b"" as bytes()
        ("builtins", "slice"): slice,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    for prefix in ("numpy.core", "numpy._core"):
        allowed[(f"{prefix}.multiarray", "_reconstruct")] = _NUMPY["_reconstruct"]
        allowed[(f"{prefix}.multiarray", "scalar")] = _NUMPY["scalar"]
        if "_frombuffer" in _NUMPY:
            allowed[(f"{prefix}.numeric", "_frombuffer")] = _NUMPY["_frombuffer"]
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
"""``(module, name) -> object`` admitted by :func:`safe_load` (``numpy.ndarray``, ``bytearray``
and the numpy array/scalar constructors are handed out wrapped in the guards described above)."""


class _NdarrayClass:
    """Stands for ``numpy.ndarray`` in a pickle: an argument to ``_reconstruct``, never called."""

    __slots__ = ("_source",)

    def __init__(self, source: str) -> None:
        self._source = source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError(
            "numpy",
            "ndarray",
            self._source,
            reason="call numpy.ndarray(...), which allocates uninitialised memory of any size "
            "(numpy pickles arrays through _reconstruct or _frombuffer and never calls it)",
        )

    def __repr__(self) -> str:
        return "numpy.ndarray"


class _BoundedInput:
    """Binary input whose reads may never ask for more bytes than the input still holds.

    Pickle opcodes carry their own lengths (``BINBYTES8`` and ``FRAME`` take 8-byte ones), and a
    file read of n bytes allocates n bytes first, so lengths are checked against what is left.
    """

    def __init__(self, f: BinaryIO, source: str) -> None:
        self.source = source
        size = None
        try:
            pos = f.tell()
            size = f.seek(0, io.SEEK_END) - pos
            f.seek(pos)
        except (AttributeError, OSError, ValueError):
            pass
        if size is None:  # not seekable: read it all (its size is then known)
            data = f.read()
            f, size = io.BytesIO(data), len(data)
        self._f = f
        self.size = size
        self.remaining = size

    def read(self, n: int = -1) -> bytes:
        if n > self.remaining:
            raise _CorruptPickle(
                f"{self.source}: truncated or corrupt pickle (an opcode asks for {n} bytes, the "
                f"file holds only {self.remaining} more)"
            )
        data = self._f.read(n)
        self.remaining -= len(data)
        return data

    def readline(self) -> bytes:
        line = self._f.readline()
        self.remaining -= len(line)
        return line


_REPR = reprlib.Repr()
_REPR.maxtuple = _REPR.maxlist = 10
_REPR.maxstring = _REPR.maxother = 80


def _short(value: Any) -> str:
    """A bounded repr of pickled (attacker-controlled) data for messages."""
    return _REPR.repr(value)


def _shape(value: Any, source: str, what: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    if type(value) is tuple and all(type(d) is int and d >= 0 for d in value):
        return value  # the common case, as numpy writes it
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0
        for d in value
    ):
        raise _CorruptPickle(
            f"{source}: {what} has shape {_short(value)}, expected a tuple of non-negative ints"
        )
    return tuple(int(d) for d in value)


_PyUnpickler: Any = pickle._Unpickler  # the pure-Python one: its opcode table can be amended


class _RestrictedUnpickler(_PyUnpickler):
    dispatch: dict[int, Any] = dict(_PyUnpickler.dispatch)

    def __init__(self, file: BinaryIO, source: str, max_array_bytes: int) -> None:
        self._input = _BoundedInput(file, source)
        super().__init__(self._input)
        self._source = source
        self._limit = max_array_bytes
        # keyed by the admitted objects; the guards call numpy's functions through _NUMPY
        self._guards: dict[int, Any] = {
            id(np.ndarray): _NdarrayClass(source),
            id(bytearray): self._bytes_guard(bytearray),
            id(bytes): self._bytes_guard(bytes),
            id(ALLOWED_GLOBALS[("numpy._core.multiarray", "_reconstruct")]): self._reconstruct,
            id(ALLOWED_GLOBALS[("numpy._core.multiarray", "scalar")]): self._scalar,
        }
        frombuffer = ALLOWED_GLOBALS.get(("numpy._core.numeric", "_frombuffer"))
        if frombuffer is not None:
            self._guards[id(frombuffer)] = self._frombuffer
        for key, obj in ALLOWED_GLOBALS.items():  # numpy.dtype and the numpy.dtypes classes
            if obj is np.dtype or key[0] == "numpy.dtypes":
                self._guards[id(obj)] = self._dtype_guard(obj)
        self._unbuilt: dict[int, np.dtype] = {}  # dtypes made but not yet given their state

    # ------------------------------------------------------------------ globals
    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        # Python-2 names written by protocols 0-2 with fix_imports (e.g. __builtin__.set)
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        obj = ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise UnsafePickleError(module, name, self._source)
        return self._guards.get(id(obj), obj)

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise pickle.UnpicklingError(
            f"{self._source}: persistent ids are not allowed ({_short(pid)})"
        )

    # ------------------------------------------------------------------ guards
    def _check_size(self, nbytes: int, dtype: np.dtype, dims: tuple[int, ...] | None) -> None:
        if nbytes > self._limit:  # the message is only built here: this runs once per array
            what = (
                f"a numpy scalar of dtype {dtype}"
                if dims is None
                else f"a pickled array of shape {list(dims)} and dtype {dtype}"
            )
            raise ArrayTooLargeError(self._source, what, nbytes, self._limit)

    def _bytes_guard(self, cls: type) -> Any:
        def construct(*args: Any) -> Any:
            if args and not isinstance(args[0], (bytes, bytearray, str)):
                raise _CorruptPickle(
                    f"{self._source}: {cls.__name__}({type(args[0]).__name__}) refused; pickled "
                    f"{cls.__name__} objects hold their bytes"
                )
            return cls(*args)

        return construct

    def _dtype_guard(self, make: Any) -> Any:
        def construct(*args: Any) -> np.dtype:
            made = make(*args)
            if not isinstance(made, np.dtype):  # pragma: no cover - numpy always returns one
                raise _CorruptPickle(f"{self._source}: {make!r} did not make a dtype")
            dtype = np.dtype(made, copy=True)  # never numpy's shared builtin instances
            self._unbuilt[id(dtype)] = dtype
            return dtype

        return construct

    def _check_built(self, dtype: np.dtype) -> None:
        """Refuse a dtype still waiting for its state (a later BUILD could change its size)."""
        if id(dtype) in self._unbuilt:
            raise _CorruptPickle(f"{self._source}: dtype {dtype} used before its state was set")

    def _build_dtype(self, dtype: np.dtype, state: Any) -> None:
        """Check a dtype's pickled state on a copy, then apply it.

        The state sets numpy-internal flags (whether items are object pointers), sizes and field
        offsets directly, so a forged one could make raw bytes act as object pointers or fields
        reach past an item. It must describe a dtype that numpy itself would construct, and may be
        applied once, to a dtype made just before and not used yet.
        """
        if self._unbuilt.pop(id(dtype), None) is None:
            raise _CorruptPickle(f"{self._source}: state applied twice or to a dtype in use")
        probe = np.dtype(dtype, copy=True)
        probe.__setstate__(state)  # type: ignore[attr-defined]
        bases = [f[0] for f in (probe.fields or {}).values()]
        if probe.subdtype is not None:
            bases.append(probe.subdtype[0])
        for base in bases:
            self._check_built(base)
        try:
            if probe.fields is not None:
                names = list(probe.names or ())
                fields = [probe.fields[n] for n in names]
                spec: dict[str, Any] = {
                    "names": names,
                    "formats": [f[0] for f in fields],
                    "offsets": [f[1] for f in fields],
                    "itemsize": probe.itemsize,
                }
                if any(len(f) > 2 for f in fields):
                    spec["titles"] = [f[2] if len(f) > 2 else None for f in fields]
                ref = np.dtype(spec, align=probe.isalignedstruct)  # type: ignore[call-overload]
            elif probe.subdtype is not None:
                ref = np.dtype(probe.subdtype)
            else:
                ref = np.dtype(probe.str)
        except (TypeError, ValueError) as exc:
            raise _CorruptPickle(
                f"{self._source}: invalid dtype state {_short(state)} ({exc})"
            ) from None
        if (ref, ref.itemsize, ref.alignment, ref.flags) != (
            probe,
            probe.itemsize,
            probe.alignment,
            probe.flags,
        ):
            raise _CorruptPickle(
                f"{self._source}: dtype state {_short(state)} does not describe a dtype numpy "
                f"would make (flags {probe.flags}, itemsize {probe.itemsize}; numpy's {ref}: flags "
                f"{ref.flags}, itemsize {ref.itemsize})"
            )
        dtype.__setstate__(state)  # type: ignore[attr-defined]

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if not isinstance(subtype, _NdarrayClass):
            raise UnsafePickleError(
                "numpy.core.multiarray",
                "_reconstruct",
                self._source,
                reason=f"reconstruct an array of class {_short(subtype)} (only numpy.ndarray)",
            )
        dims = _shape(shape, self._source, "an array placeholder")
        if math.prod(dims) != 0:
            raise _CorruptPickle(
                f"{self._source}: array placeholder of shape {dims}: numpy pickles an empty (0,) "
                "placeholder and the data in the array's state (a non-empty one would be "
                "uninitialised memory)"
            )
        return _NUMPY["_reconstruct"](np.ndarray, dims, dtype)

    def _scalar(self, dtype: Any, *obj: Any) -> Any:
        if not isinstance(dtype, np.dtype):
            raise _CorruptPickle(f"{self._source}: numpy scalar with dtype {_short(dtype)}")
        self._check_built(dtype)
        self._check_size(dtype.itemsize, dtype, None)
        if not obj and not dtype.hasobject:
            raise _CorruptPickle(f"{self._source}: numpy scalar of dtype {dtype} without data")
        return _NUMPY["scalar"](dtype, *obj)

    def _frombuffer(self, buf: Any, dtype: Any, shape: Any, *rest: Any) -> np.ndarray:
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise _CorruptPickle(f"{self._source}: array buffer with dtype {_short(dtype)}")
        self._check_built(dtype)
        dims = _shape(shape, self._source, "an array buffer")
        nbytes = math.prod(dims) * dtype.itemsize
        self._check_size(nbytes, dtype, dims)
        try:
            held = memoryview(buf).nbytes
        except TypeError:
            raise _CorruptPickle(
                f"{self._source}: array buffer is a {type(buf).__name__}, not bytes"
            ) from None
        if held != nbytes:
            raise _CorruptPickle(
                f"{self._source}: array buffer holds {held} bytes, shape {list(dims)} and dtype "
                f"{dtype} need {nbytes}"
            )
        return _NUMPY["_frombuffer"](buf, dtype, dims, *rest)

    def _check_array_state(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _CorruptPickle(
                f"{self._source}: array state must be (version, shape, dtype, is_fortran, data)"
            )
        shape, dtype, _, raw = state[-4:]
        if not isinstance(dtype, np.dtype):
            raise _CorruptPickle(f"{self._source}: array state with dtype {_short(dtype)}")
        self._check_built(dtype)
        dims = _shape(shape, self._source, "a pickled array")
        count = math.prod(dims)
        nbytes = count * dtype.itemsize
        self._check_size(nbytes, dtype, dims)
        if dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != count:
                raise _CorruptPickle(
                    f"{self._source}: object array of shape {list(dims)} needs a list of {count} "
                    "items"
                )
            return
        if not isinstance(raw, (bytes, bytearray, str)):
            raise _CorruptPickle(
                f"{self._source}: array data is a {type(raw).__name__}, expected bytes"
            )
        if len(raw) != nbytes:  # str: latin-1, one character per byte
            raise _CorruptPickle(
                f"{self._source}: array data holds {len(raw)} bytes, shape {list(dims)} and dtype "
                f"{dtype} need {nbytes}"
            )

    # ------------------------------------------------------------------ opcodes
    def _load_build(self) -> None:
        state, inst = self.stack[-1], self.stack[-2]
        if callable(inst):
            raise _CorruptPickle(f"{self._source}: BUILD applied to the global {inst!r}")
        if isinstance(inst, np.dtype):
            self._build_dtype(inst, state)
            self.stack.pop()
            return
        if isinstance(inst, np.ndarray):
            self._check_array_state(state)
        _PyUnpickler.load_build(self)

    def _load_newobj(self) -> None:
        self._check_class(self.stack[-2])
        _PyUnpickler.load_newobj(self)

    def _load_newobj_ex(self) -> None:
        self._check_class(self.stack[-3])
        _PyUnpickler.load_newobj_ex(self)

    def _check_class(self, cls: Any) -> None:
        if isinstance(cls, _NdarrayClass):
            cls()  # raises the refusal of numpy.ndarray
        if not isinstance(cls, type):
            raise UnsafePickleError(
                getattr(cls, "__module__", "?") or "?",
                getattr(cls, "__name__", repr(cls)),
                self._source,
                reason="create an object with __new__ of a non-class",
            )

    def _load_bytearray8(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self._input.size:  # bytearray(size) would be allocated before the read
            raise _CorruptPickle(
                f"{self._source}: truncated or corrupt pickle (a bytearray claims {size} bytes, "
                f"the file holds {self._input.size})"
            )
        buf = bytearray(size)
        self.readinto(buf)
        self.append(buf)

    def _load_ext(self) -> None:
        raise _CorruptPickle(f"{self._source}: extension-registry opcodes are not allowed")

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    for _op in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _load_ext
    del _op


def safe_loads(data: bytes, source: str = "<bytes>", *, max_array_bytes: int | None = None) -> Any:
    """Unpickle ``data`` with the allow-list; see :func:`safe_load`."""
    limit = resolve_max_array_bytes(max_array_bytes)
    return _load_checked(io.BytesIO(data), source, limit)


def safe_load(
    path: str | os.PathLike[str] | BinaryIO, *, max_array_bytes: int | None = None
) -> Any:
    """Load a pickle file that may only contain containers, scalars and numpy arrays.

    Args:
        path: a file path or a binary file object.
        max_array_bytes: cap on the bytes of any one array (shape product x itemsize); None:
            ``$PYMG_MAX_ARRAY_BYTES`` or
            :data:`~pymg.data.formats.checks.DEFAULT_MAX_ARRAY_BYTES` (2 GiB).

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: the pickle names a global outside :data:`ALLOWED_GLOBALS` (nothing it
            names is imported or called) or calls ``numpy.ndarray`` directly.
        ArrayTooLargeError: an array would exceed the cap (raised before it is allocated).
        pickle.UnpicklingError: truncated or corrupt data (message names the file).
        MemoryError: the data did not fit in memory (message names the file).
    """
    limit = resolve_max_array_bytes(max_array_bytes)
    if hasattr(path, "read"):
        source = str(getattr(path, "name", "<file>"))
        return _load_checked(path, source, limit)  # type: ignore[arg-type]
    source = os.fspath(path)
    with open(source, "rb") as f:
        return _load_checked(f, source, limit)


def _load_checked(f: BinaryIO, source: str, limit: int) -> Any:
    try:
        return _RestrictedUnpickler(f, source, limit).load()
    except (UnsafePickleError, ArrayTooLargeError, _CorruptPickle):
        raise
    except MemoryError as exc:
        raise MemoryError(
            f"{source}: out of memory while unpickling ({str(exc) or 'allocation failed'})"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - anything else means corrupt data; name the file
        raise pickle.UnpicklingError(
            f"{source}: truncated or corrupt pickle ({type(exc).__name__}: {exc})"
        ) from exc
