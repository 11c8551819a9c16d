"""PYSKL / mmaction2 annotation pickles.

Layout: ``{"split": {name: [frame_dir, ...]}, "annotations": [annotation dict, ...]}``.

Reading goes through :func:`~pymg.data.formats.safe_pickle.safe_load`, so a pickle cannot run
code (nor demand more than the memory cap). Lists in the annotations (PYSKL allows nested
lists for ``keypoint``) are held to the same cap before anything converts them to arrays: their
numbers are counted (each list once, however often pickle's memo repeats it) and charged, as
float64, to the file's total. Older files that are a bare list of
annotation dicts are accepted too (no splits).

Some releases zero-pad every clip to a fixed length: MiGA'23's pickles store ``keypoint``
``[1, 90, 22, 2]`` and ``total_frames=90`` even for shorter clips, the tail being frames whose
points and scores are all zero. Sampled as is, a short clip would be mostly padding, so
:func:`load_pyskl` trims such tails with :func:`trim_zero_padding` unless ``trim_padding=False``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.checks import FileBudget, clip_name, count_nested
from pymg.data.formats.output import write_atomically
from pymg.data.formats.safe_pickle import safe_load

__all__ = ["load_pyskl", "save_pyskl", "trim_zero_padding"]


def trim_zero_padding(annotation: Mapping[str, Any]) -> Any:
    """Drop the trailing frames in which every point of every person is zero with zero score.

    Only the tail is padding: all-zero frames at the start or in the middle (no one detected yet,
    a dropout) are kept. At least one frame is always kept, so a clip that is zero throughout
    comes back as a single all-zero frame (``total_frames=1``) rather than vanishing, which keeps
    labels and split lists aligned; such a clip carries no motion at all.

    Args:
        annotation: a PYSKL annotation dict with ``keypoint`` [M, T, V, 2] (or [M, T, V, 3], the
            third channel being the score) and optionally ``keypoint_score`` [M, T, V]; without
            any score, a frame is padding when all its coordinates are zero.

    Returns:
        A shallow copy with ``keypoint`` [M, T', V, C] and ``keypoint_score`` [M, T', V] cut to
        the first T' <= T frames (views of the originals) and ``total_frames = T'`` when it was
        T; the annotation itself when nothing is trimmed or it is malformed (no 4-d numeric
        ``keypoint``, a ``keypoint_score`` of another shape): validation reports those later.
    """
    if not isinstance(annotation, Mapping) or "keypoint" not in annotation:
        return annotation
    kp = annotation["keypoint"]
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or kp.shape[1] <= 1:
        return annotation
    if not (np.issubdtype(kp.dtype, np.number) or kp.dtype == np.bool_):
        return annotation
    m, t, v = kp.shape[:3]
    if m == 0 or v == 0:
        return annotation
    used = np.asarray(kp != 0).any(axis=(0, 2, 3))  # [T]
    score = annotation.get("keypoint_score")
    if score is not None:
        if not isinstance(score, np.ndarray) or score.shape != (m, t, v):
            return annotation
        if not (np.issubdtype(score.dtype, np.number) or score.dtype == np.bool_):
            return annotation
        used |= np.asarray(score != 0).any(axis=(0, 2))
    frames = np.flatnonzero(used)
    keep = int(frames[-1]) + 1 if frames.size else 1
    if keep == t:
        return annotation
    out = dict(annotation)
    out["keypoint"] = kp[:, :keep]
    if score is not None:
        out["keypoint_score"] = score[:, :keep]
    total = annotation.get("total_frames")
    if isinstance(total, (int, np.integer)) and not isinstance(total, (bool, np.bool_)):
        if total == t:
            out["total_frames"] = keep
    return out


def load_pyskl(
    path: str | os.PathLike[str],
    *,
    trim_padding: bool = True,
    max_array_bytes: int | None = None,
) -> tuple[list[Any], dict[str, list[str]]]:
    """Read a PYSKL annotation pickle safely.

    Args:
        path: the ``.pkl`` file.
        trim_padding: drop each clip's trailing all-zero frames (zero coordinates and scores,
            see :func:`trim_zero_padding`), the fixed-length padding of e.g. MiGA'23's pickles;
            False keeps the clips as stored.
        max_array_bytes: cap on the bytes of any one pickled array, checked before it is
            allocated; None: ``$PYMG_MAX_ARRAY_BYTES`` or 2 GiB.

    Returns:
        ``(annotations, splits)``: the list of annotation dicts (validate them with
        :func:`~pymg.data.formats.check_annotation`) and ``{split name: [frame_dir, ...]}``
        (empty when the file has none).

    Raises:
        FileNotFoundError: no such file.
        UnsafePickleError: the pickle names a global outside the allow-list.
        ArrayTooLargeError: an array exceeds ``max_array_bytes``.
        pickle.UnpicklingError: truncated/corrupt file.
        ValueError: the top-level object is not a PYSKL annotation container.
    """
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"annotation pickle not found: {source}")
    obj = safe_load(source, max_array_bytes=max_array_bytes)
    if isinstance(obj, list):
        _charge_lists(obj, FileBudget(source, max_array_bytes))
        return _trimmed(obj, trim_padding), {}
    if not isinstance(obj, Mapping) or "annotations" not in obj:
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else f"dict keys {sorted(obj)}"
        raise ValueError(
            f"{source}: expected a PYSKL annotation file (a dict with 'annotations' and "
            f"'split', or a list of annotations), got {kind}"
        )
    annotations = obj["annotations"]
    if not isinstance(annotations, list):
        raise ValueError(
            f"{source}: 'annotations' must be a list, got {type(annotations).__name__}"
        )
    _charge_lists(annotations, FileBudget(source, max_array_bytes))
    splits_raw = obj.get("split", {}) or {}
    if not isinstance(splits_raw, Mapping):
        raise ValueError(f"{source}: 'split' must be a dict of name lists")
    splits: dict[str, list[str]] = {}
    for name, names in splits_raw.items():
        if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple, np.ndarray)):
            raise ValueError(f"{source}: split {name!r} must be a list of frame_dir names")
        bad = next((n for n in names if not isinstance(n, (str, np.str_))), None)
        if bad is not None:
            raise ValueError(
                f"{source}: split {name!r} must list frame_dir strings, got a {type(bad).__name__}"
            )
        splits[str(name)] = [str(n) for n in names]
    return _trimmed(annotations, trim_padding), splits


def _charge_lists(annotations: list[Any], budget: FileBudget) -> None:
    """Charge every list-valued annotation entry, as float64 numbers, to the file's budget."""
    for i, ann in enumerate(annotations):
        if not isinstance(ann, Mapping):
            continue
        for key, value in ann.items():
            if not isinstance(value, (list, tuple)):
                continue
            stop = (budget.limit - budget.total) // 8 + 1
            try:
                count = count_nested(value, stop)
            except ValueError as exc:
                raise ValueError(
                    f"{budget.source}: clip {clip_name(ann, i)!r}: {key} holds {exc}"
                ) from None
            more = "at least " if count > stop else ""
            budget.charge(
                f"clip {clip_name(ann, i)!r}: {key}, nested lists of {more}{count} numbers "
                "(8 bytes each once converted)",
                8 * count,
            )


def _trimmed(annotations: list[Any], trim: bool) -> list[Any]:
    return [trim_zero_padding(a) for a in annotations] if trim else annotations


def save_pyskl(
    path: str | os.PathLike[str],
    annotations: Iterable[Mapping[str, Any]],
    splits: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Write annotations (and splits) as a PYSKL pickle (protocol 4, numpy arrays only).

    Args:
        path: output ``.pkl`` path (written atomically).
        annotations: annotation dicts (``keypoint`` [M, T, V, 2], ``keypoint_score``
            [M, T, V], ...).
        splits: ``{name: [frame_dir, ...]}``.
    """
    data = {
        "split": {str(k): [str(n) for n in v] for k, v in (splits or {}).items()},
        "annotations": [dict(a) for a in annotations],
    }
    write_atomically(path, lambda f: pickle.dump(data, f, protocol=4))
