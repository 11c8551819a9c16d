"""PYSKL / mmaction2 annotation pickles.

Layout: ``{"split": {name: [frame_dir, ...]}, "annotations": [annotation dict, ...]}``.

Reading goes through :func:`~pymg.data.formats.safe_pickle.safe_load`, so a pickle cannot run
code. Older files that are a bare list of annotation dicts are accepted too (no splits).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.safe_pickle import safe_load

__all__ = ["load_pyskl", "save_pyskl"]


def load_pyskl(path: str | os.PathLike[str]) -> tuple[list[Any], dict[str, list[str]]]:
    """Read a PYSKL annotation pickle safely.

    Args:
        path: the ``.pkl`` file.

    Returns:
        ``(annotations, splits)``: the list of annotation dicts as stored (validate them with
        :func:`~pymg.data.formats.check_annotation`) and ``{split name: [frame_dir, ...]}``
        (empty when the file has none).

    Raises:
        FileNotFoundError: no such file.
        UnsafePickleError: the pickle names a global outside the allow-list.
        pickle.UnpicklingError: truncated/corrupt file.
        ValueError: the top-level object is not a PYSKL annotation container.
    """
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise FileNotFoundError(f"annotation pickle not found: {source}")
    obj = safe_load(source)
    if isinstance(obj, list):
        return obj, {}
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
    splits_raw = obj.get("split", {}) or {}
    if not isinstance(splits_raw, Mapping):
        raise ValueError(f"{source}: 'split' must be a dict of name lists")
    splits: dict[str, list[str]] = {}
    for name, names in splits_raw.items():
        if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple, np.ndarray)):
            raise ValueError(f"{source}: split {name!r} must be a list of frame_dir names")
        splits[str(name)] = [str(n) for n in names]
    return annotations, splits


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
    target = os.fspath(path)
    tmp = target + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=4)
    os.replace(tmp, target)
