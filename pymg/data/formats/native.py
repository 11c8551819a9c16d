"""pymg's native clip file: one uncompressed ``.npz`` (no pickles), memory-mapped on load.

Members (all plain numpy arrays, readable with ``np.load(path, allow_pickle=False)``):

==================  ==========================  ==============================================
member              shape / dtype               meaning
==================  ==========================  ==============================================
``keypoint``        [M, S, V, 2] f32 or f16     all clips' frames concatenated along S = sum T;
                                                clips with fewer than M persons are zero-padded
``score``           [M, S, V] same dtype        keypoint scores
``offset``          [N] int64                   first frame of clip n in S
``length``          [N] int64                   T of clip n
``persons``         [N] int64                   persons stored for clip n (<= M)
``label``           [N] int64                   class index (-1: unlabelled)
``name``            [N] unicode                 frame_dir
``img_shape``       [N, 2] int64                (H, W) of the keypoint coordinate frame
``original_shape``  [N, 2] int64                (H, W) of the source video
``meta``            0-d unicode (JSON)          format, version, layout, splits, class_names,
                                                num_classes, per-clip ``extra`` columns
==================  ==========================  ==============================================

Why one ``.npz``: ``np.load(mmap_mode="r")`` ignores ``mmap_mode`` for ``.npz`` files, but an
*uncompressed* (``ZIP_STORED``) member is an ordinary ``.npy`` byte range inside the zip, so
:class:`NativeClips` memory-maps it directly (the ``.npy`` header is parsed with numpy's public
``numpy.lib.format`` readers). Opening is O(1) in the data size, every DataLoader worker shares
the page cache, and the file stays a single artefact. ``compress=True`` writes a smaller file that
is read fully into memory instead.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pymg.checks import check_index
from pymg.data.formats.checks import (
    ArrayTooLargeError,
    FileBudget,
    MalformedClipError,
    SkipLog,
    check_annotation,
    check_on_error,
    resolve_max_array_bytes,
)
from pymg.data.formats.output import check_output_file, write_atomically

__all__ = [
    "NATIVE_FORMAT",
    "NATIVE_VERSION",
    "NativeClips",
    "extra_columns",
    "pack_frames",
    "read_native",
    "save_native",
    "write_npz",
]

NATIVE_FORMAT = "pymg-native"
NATIVE_VERSION = 1
_STANDARD_KEYS = frozenset(
    (
        "frame_dir",
        "label",
        "total_frames",
        "img_shape",
        "original_shape",
        "keypoint",
        "keypoint_score",
    )
)
_ARRAYS = (
    "keypoint",
    "score",
    "offset",
    "length",
    "persons",
    "label",
    "name",
    "img_shape",
    "original_shape",
    "meta",
)


def _json_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None))) or isinstance(
        value, (np.integer, np.floating, np.bool_, np.str_)
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _checked_clips(
    annotations: Iterable[Mapping[str, Any]], num_classes: int | None, policy: str, log: SkipLog
) -> list[dict[str, Any]]:
    """The annotations that pass :func:`check_annotation` (all with the first one's V); a
    malformed one raises (``policy="raise"``) or goes to ``log``."""
    clips: list[dict[str, Any]] = []
    num_joints: int | None = None
    for i, ann in enumerate(annotations):
        try:
            clip = check_annotation(
                ann, i, num_joints=num_joints, num_classes=num_classes, require_label=False
            )
        except MalformedClipError as err:
            if policy == "raise":
                raise
            log.add(err)
            continue
        num_joints = clip["keypoint"].shape[2]
        clips.append(clip)
    return clips


def save_native(
    path: str | os.PathLike[str],
    annotations: Iterable[Mapping[str, Any]],
    *,
    splits: Mapping[str, Sequence[str]] | None = None,
    layout: str | None = None,
    class_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    dtype: Any = np.float32,
    compress: bool = False,
    on_error: str = "raise",
) -> dict[str, Any]:
    """Write clips to a native ``.npz`` file (see the module docstring for the members).

    Args:
        path: output file (written atomically; the name is used as given).
        annotations: annotation dicts (``keypoint`` [M, T, V, 2], ``keypoint_score`` [M, T, V],
            ``label``, ``frame_dir``, ...); every clip must have the same V. Extra keys holding
            JSON scalars (e.g. ``subject``) are kept as per-clip columns.
        splits: ``{name: [frame_dir, ...]}``.
        layout: name of the joint layout of the keypoints (e.g. ``"imigue41"``, ``"openpose137"``).
        class_names: optional class names (sets ``num_classes`` when that is None).
        num_classes: labels are checked against it.
        dtype: ``np.float32`` (exact) or ``np.float16`` (half the size; ~1e-3 relative error).
        compress: zip-deflate the members (smaller, but no memory mapping on load).
        on_error: ``"raise"`` or ``"skip"`` malformed clips (a warning gives the count).

    Returns:
        ``{"clips": N, "frames": S, "skipped": k, "path": str}``.
    """
    check_output_file(path)
    policy = check_on_error(on_error)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
        raise ValueError(f"dtype must be float32 or float16, got {dtype}")
    if class_names is not None and num_classes is None:
        num_classes = len(class_names)
    log = SkipLog()
    clips = _checked_clips(annotations, num_classes, policy, log)
    if not clips:
        raise ValueError(f"save_native: no valid clips to write to {os.fspath(path)}")
    n = len(clips)
    packed = pack_frames(clips, dtype)
    meta = {
        "format": NATIVE_FORMAT,
        "version": NATIVE_VERSION,
        "layout": layout,
        "splits": {str(k): [str(x) for x in val] for k, val in (splits or {}).items()},
        "class_names": list(class_names) if class_names is not None else None,
        "num_classes": num_classes,
        "extra": extra_columns(clips, _STANDARD_KEYS),
    }
    arrays = {
        **packed,
        "label": np.array([c["label"] for c in clips], np.int64),
        "name": np.array([c["frame_dir"] for c in clips], dtype=str),
        "img_shape": np.array([c["img_shape"] for c in clips], np.int64).reshape(n, 2),
        "original_shape": np.array([c["original_shape"] for c in clips], np.int64).reshape(n, 2),
        "meta": np.array(json.dumps(meta)),
    }
    target = write_npz(path, arrays, compress)
    log.warn(target)
    frames = int(packed["length"].sum())
    return {"clips": n, "frames": frames, "skipped": log.count, "path": target}


def pack_frames(items: Sequence[Mapping[str, Any]], dtype: Any) -> dict[str, np.ndarray]:
    """Concatenate checked items' frames: the ``keypoint``, ``score``, ``offset``, ``length`` and
    ``persons`` members (items with fewer than M persons are zero-padded).

    Args:
        items: dicts with ``keypoint`` [M_i, T_i, V, 2] and ``keypoint_score`` [M_i, T_i, V],
            one V for all.
        dtype: storage dtype of the keypoints and scores.
    """
    lengths = np.array([np.shape(c["keypoint"])[1] for c in items], np.int64)
    persons = np.array([np.shape(c["keypoint"])[0] for c in items], np.int64)
    offsets = np.zeros(len(items), np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    m, s, v = int(persons.max()), int(lengths.sum()), int(np.shape(items[0]["keypoint"])[2])
    keypoint = np.zeros((m, s, v, 2), dtype)
    score = np.zeros((m, s, v), dtype)
    for c, off, t, p in zip(items, offsets, lengths, persons, strict=True):
        keypoint[:p, off : off + t] = c["keypoint"]
        score[:p, off : off + t] = c["keypoint_score"]
    return {"keypoint": keypoint, "score": score, "offset": offsets, "length": lengths,
            "persons": persons}  # fmt: skip


def extra_columns(items: Sequence[Mapping[str, Any]], standard: frozenset[str]) -> dict[str, list]:
    """The non-standard keys whose every value is a JSON scalar, as per-item columns."""
    keys = sorted(set().union(*(c.keys() for c in items)) - standard)
    return {
        k: [_plain(c.get(k)) for c in items]
        for k in keys
        if all(_json_scalar(c.get(k)) for c in items)
    }


def write_npz(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], compress: bool
) -> str:
    """Write ``arrays`` as one ``.npz`` atomically (a ``.tmp`` file, then renamed); returns it."""
    save = np.savez_compressed if compress else np.savez
    return write_atomically(path, lambda f: save(f, **arrays))  # type: ignore[arg-type]


class _CountingReader:
    """Counts the bytes read through it (the length of a ``.npy`` header)."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._f.read(n)
        self.count += len(data)
        return data


def _read_npy_header(f: Any, member: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, header bytes)`` of the ``.npy`` stream ``f``.

    Reads only the magic string and the header (at most numpy's 10 kB header limit), so a
    compressed member is not decompressed beyond them.
    """
    counter = _CountingReader(f)
    version = np.lib.format.read_magic(counter)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(counter)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(counter)
    else:
        raise ValueError(f"member {member!r}: unsupported .npy format version {version}")
    if any(d < 0 for d in shape):
        raise ValueError(f"member {member!r}: negative dimension in shape {shape}")
    if dtype.hasobject:
        raise ValueError(f"member {member!r} holds Python objects; refused")
    return tuple(int(d) for d in shape), bool(fortran), dtype, counter.count


def _read_member(
    path: str, zf: zipfile.ZipFile, name: str, mmap: bool, budget: FileBudget
) -> np.ndarray:
    """Read member ``name`` (``name.npy``) of the open ``.npz`` ``zf`` at ``path``.

    The ``.npy`` header is parsed first and checked, before any data is read or decompressed,
    against the member's uncompressed size in the zip directory (a header claiming more is a
    truncated or hostile file) and, for members read into memory, charged to the file's
    ``budget`` (the cap holds per array and for the file's total, :class:`ArrayTooLargeError`).
    Uncompressed members are memory-mapped when ``mmap``; they allocate no memory, so only the
    file size bounds them (a map the system refuses is an error naming the member and size).
    """
    member = name + ".npy"
    info = zf.getinfo(member)
    with zf.open(info) as f:
        shape, fortran, dtype, header_len = _read_npy_header(f, member)
    nbytes = math.prod(shape) * dtype.itemsize
    held = info.file_size - header_len
    if nbytes > held:
        raise ValueError(
            f"member {member!r}: its header claims a {list(shape)} {dtype} array of {nbytes} bytes "
            f"but the member holds only {max(held, 0)} bytes (truncated or corrupt file)"
        )
    if mmap and info.compress_type == zipfile.ZIP_STORED and nbytes > 0:
        with open(path, "rb") as raw:
            raw.seek(info.header_offset)
            local = raw.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"bad zip local header for member {member!r}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len + header_len
        if start + nbytes > os.path.getsize(path):
            raise ValueError(f"member {member!r} is truncated")
        try:
            return np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=start,
                shape=shape,
                order="F" if fortran else "C",
            )
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"member {member!r} ({list(shape)} {dtype}, {nbytes} bytes) cannot be "
                f"memory-mapped ({exc}); open it with mmap=False to read it under the memory cap"
            ) from None
    budget.charge(f"member {member!r} ({list(shape)} {dtype})", nbytes)
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def read_native(
    path: str, members: Sequence[str], kind: str, mmap: bool, limit: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Open a native ``.npz`` of ``kind`` (``"clips"`` or ``"recordings"``): its members and meta.

    Every member is read with :func:`_read_member` (memory-mapped when ``mmap`` and stored
    uncompressed); ``meta`` is the decoded JSON. A file of the other kind is refused with a message
    naming the class that opens it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable native file of this kind and version.
        ArrayTooLargeError: a member read into memory is larger than ``limit``.
    """
    what = "native clip file" if kind == "clips" else "native recording file"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            missing = [a for a in members if a + ".npy" not in zf.namelist()]
            budget = FileBudget(path, limit)
            # the arrays first: the file's total is held to the cap before anything is decoded
            arrays = {
                a: _read_member(path, zf, a, mmap, budget)
                for a in members
                if a != "meta" and not missing
            }
            meta = (
                json.loads(str(_read_member(path, zf, "meta", False, budget)[()]))
                if "meta.npy" in zf.namelist()
                else {}
            )
            if not isinstance(meta, dict):
                raise ValueError(f"member 'meta' holds a {type(meta).__name__}, not an object")
            found = meta.get("kind", "clips")
            if found != kind and found in _OPENER:
                raise _WrongKind(f"{path} holds {found}, not {kind}: open it with {_OPENER[found]}")
            if missing:
                raise ValueError(f"missing members {missing}")
    except (ArrayTooLargeError, _WrongKind):
        raise
    except MemoryError as exc:
        raise MemoryError(f"{path}: out of memory reading the {what}") from exc
    except (
        zipfile.BadZipFile,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        RuntimeError,  # encrypted members
        NotImplementedError,  # unsupported compression
    ) as exc:
        raise ValueError(f"{path}: unreadable {what} ({exc})") from exc
    if meta.get("format") != NATIVE_FORMAT or meta.get("version") != NATIVE_VERSION:
        raise ValueError(
            f"{path}: not a {NATIVE_FORMAT} v{NATIVE_VERSION} file "
            f"(format={meta.get('format')!r}, version={meta.get('version')!r})"
        )
    return arrays, meta


class _WrongKind(ValueError):
    """A native file of the other kind (clips vs recordings)."""


_OPENER = {
    "clips": "pymg.data.NativeClips (or PoseDataset)",
    "recordings": "pymg.data.RecordingSet (an untrimmed file from `pymg prepare --untrimmed`)",
}


class NativeClips(Sequence[dict[str, Any]]):
    """Read-only view of a native ``.npz`` clip file; item ``n`` is clip ``n``'s annotation dict.

    Args:
        path: the ``.npz`` written by :func:`save_native`.
        mmap: memory-map uncompressed members (default) instead of reading them.
        max_array_bytes: cap on the bytes of the members read into memory (compressed members,
            or all with ``mmap=False``), each and all together, checked from the ``.npy`` headers
            before reading or decompressing; None: ``$PYMG_MAX_ARRAY_BYTES`` or 2 GiB.
            Memory-mapped members allocate nothing and are checked only against the file.

    Attributes:
        splits: ``{name: [frame_dir, ...]}``; layout: stored layout name or None;
        class_names, num_classes: as stored (may be None); names: [N] frame_dirs;
        labels: int64 [N]; lengths: int64 [N].

    ``self[n]`` returns ``{"frame_dir", "label", "total_frames", "img_shape", "original_shape",
    "keypoint": float32 [P, T, V, 2], "keypoint_score": float32 [P, T, V], **extra}`` (P = the
    clip's stored persons) and raises :class:`MalformedClipError` for an inconsistent index entry.
    Pickling (e.g. to spawn-started DataLoader workers) stores only the path and reopens.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mmap: bool = True,
        *,
        max_array_bytes: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.mmap = bool(mmap)
        self.max_array_bytes = resolve_max_array_bytes(max_array_bytes)
        arrays, meta = read_native(self.path, _ARRAYS, "clips", self.mmap, self.max_array_bytes)
        self._kp, self._sc = arrays["keypoint"], arrays["score"]
        n = len(arrays["name"])
        if self._kp.ndim != 4 or self._kp.shape[-1] != 2 or self._sc.shape != self._kp.shape[:3]:
            raise ValueError(
                f"{self.path}: keypoint/score shapes {self._kp.shape}/{self._sc.shape} do not "
                "match [M, S, V, 2]/[M, S, V]"
            )
        for a in ("offset", "length", "persons", "label"):
            if arrays[a].shape != (n,):
                raise ValueError(f"{self.path}: member {a!r} has shape {arrays[a].shape}, want {n}")
        for a in ("img_shape", "original_shape"):
            if arrays[a].shape != (n, 2):
                raise ValueError(f"{self.path}: member {a!r} has shape {arrays[a].shape}")
        self.names = [str(x) for x in arrays["name"]]
        self.offsets = np.asarray(arrays["offset"], np.int64)
        self.lengths = np.asarray(arrays["length"], np.int64)
        self.persons = np.asarray(arrays["persons"], np.int64)
        self.labels = np.asarray(arrays["label"], np.int64)
        self.img_shapes = np.asarray(arrays["img_shape"], np.int64)
        self.original_shapes = np.asarray(arrays["original_shape"], np.int64)
        self.layout: str | None = meta.get("layout")
        self.splits: dict[str, list[str]] = meta.get("splits") or {}
        self.class_names: list[str] | None = meta.get("class_names")
        self.num_classes: int | None = meta.get("num_classes")
        self.extra: dict[str, list[Any]] = meta.get("extra") or {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        i = check_index(index, len(self), name="clip index")
        name = self.names[i]
        off, t, p = int(self.offsets[i]), int(self.lengths[i]), int(self.persons[i])
        if t < 0:
            raise MalformedClipError(name, f"negative length {t}")
        if t == 0:
            raise MalformedClipError(name, "empty clip (T = 0 frames)")
        if off < 0 or off + t > self._kp.shape[1]:
            raise MalformedClipError(
                name, f"frames [{off}, {off + t}) outside the stored {self._kp.shape[1]} frames"
            )
        if not 0 < p <= self._kp.shape[0]:
            raise MalformedClipError(name, f"persons={p} outside [1, {self._kp.shape[0]}]")
        ann: dict[str, Any] = {k: v[i] for k, v in self.extra.items()}
        ann.update(
            frame_dir=name,
            label=int(self.labels[i]),
            total_frames=t,
            img_shape=(int(self.img_shapes[i, 0]), int(self.img_shapes[i, 1])),
            original_shape=(int(self.original_shapes[i, 0]), int(self.original_shapes[i, 1])),
            keypoint=np.array(self._kp[:p, off : off + t], dtype=np.float32),
            keypoint_score=np.array(self._sc[:p, off : off + t], dtype=np.float32),
        )
        return ann

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "mmap": self.mmap, "max_array_bytes": self.max_array_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"], state["mmap"], max_array_bytes=state.get("max_array_bytes")
        )

    def __repr__(self) -> str:
        return f"NativeClips({self.path!r}, clips={len(self)}, layout={self.layout!r})"
