"""PoseDataset: clips of keypoints (tiny arrays) from any supported source, ready for collate.

The dataset never builds heatmaps: items are ``keypoint`` float32 [M, T, V, 2] in output-pixel
coordinates and ``score`` float32 [M, T, V]; heatmaps are made where the model runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from pymg.checks import check_int
from pymg.data.formats.checks import (
    MalformedClipError,
    SkipLog,
    check_annotation,
    check_on_error,
    clip_name,
)
from pymg.data.formats.joints import joint_index_map, resolve_layout
from pymg.data.formats.native import NativeClips
from pymg.data.formats.pyskl import load_pyskl
from pymg.data.transforms import PoseTransform
from pymg.topology import Skeleton

__all__ = ["PoseDataset", "select_persons"]

_POSITIVE_OR_NONE = "a positive int or None"

_META_SKIP = frozenset(
    ("keypoint", "keypoint_score", "label", "total_frames", "img_shape", "frame_dir")
)


def select_persons(
    keypoint: np.ndarray, score: np.ndarray, num_persons: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``num_persons`` persons with the highest mean score (ties: stored order) and
    zero-pad to exactly that many.

    Args:
        keypoint: [M, T, V, 2]; score: [M, T, V]; num_persons: M' or None (keep as is).

    Returns:
        ``keypoint`` [M', T, V, 2], ``score`` [M', T, V] (same dtypes).
    """
    if num_persons is None:
        return keypoint, score
    m = keypoint.shape[0]
    if m > num_persons:
        order = np.argsort(-score.reshape(m, -1).mean(axis=1), kind="stable")[:num_persons]
        return keypoint[order], score[order]
    if m < num_persons:
        pad = num_persons - m
        keypoint = np.concatenate([keypoint, np.zeros((pad, *keypoint.shape[1:]), keypoint.dtype)])
        score = np.concatenate([score, np.zeros((pad, *score.shape[1:]), score.dtype)])
    return keypoint, score


def _item_name(items: Sequence[Any], i: int) -> str:
    if isinstance(items, NativeClips):
        return items.names[i]
    frame_dir = getattr(items, "frame_dir", None)
    if callable(frame_dir):
        return str(frame_dir(i))
    return clip_name(items[i], i)


class PoseDataset(torch.utils.data.Dataset[dict[str, Any]]):
    """Skeleton clips as small keypoint arrays.

    Args:
        source: a PYSKL ``.pkl`` path (read with the restricted unpickler), a native ``.npz`` path,
            a list of annotation dicts, or a Sequence of them such as
            :class:`~pymg.data.SyntheticMicroGestures` (its ``splits``, ``class_names`` and
            ``layout`` are used).
        split: name of a split of the source (``"train"``, ``"test"``, ...) or None for all clips.
        layout: joint layout of the items (Skeleton or name); richer source data is subset.
        transform: a :class:`~pymg.data.transforms.PoseTransform` (called ``t(sample, rng)`` with
            ``rng`` derived from ``(seed, epoch, index)``) or any callable ``t(sample) -> sample``
            on ``{"keypoint", "keypoint_score", "img_shape"}``; None keeps source coordinates.
        num_persons: M of every item (highest mean score first, zero padding); None keeps all.
        on_error: ``"raise"`` on a malformed clip, or ``"skip"`` it (counted in ``.skipped``,
            one warning per dataset).
        source_layout: layout of the stored joints: ``"openpose137"``, a layout name/Skeleton, or
            None to infer (stored layout name, V == 137 -> OpenPose, V == layout V -> same).
        num_classes: K; default from the source (class names) or ``max(label) + 1``.
        seed: base seed of the per-sample random generators.
        validate: check every clip up front (default: yes, except lazily generated sequences with
            ``on_error="raise"``, which are checked when read).
        nan_as_missing: NaN/inf coordinates become missing points (0, 0) with score 0 instead of
            making the clip malformed.

    Items (the clip-dict schema, PYSKL's names): ``{"keypoint": float32 [M, T, V, 2],
    "keypoint_score": float32 [M, T, V], "label": int, "img_shape": (H, W) of the output,
    "frame_dir": str, "length": int (T), "meta": {"index", "original_shape", "flip", and other
    scalar keys of the annotation}}``.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
        split: str | None = None,
        layout: Skeleton | str = "imigue41",
        transform: PoseTransform | Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        num_persons: int | None = 1,
        on_error: str = "raise",
        source_layout: Skeleton | str | None = None,
        *,
        num_classes: int | None = None,
        seed: int = 0,
        validate: bool | None = None,
        nan_as_missing: bool = False,
    ) -> None:
        self.on_error = check_on_error(on_error)
        check_int(num_persons, "num_persons", minimum=1, none_ok=True, expected=_POSITIVE_OR_NONE)
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.layout = resolve_layout(layout)
        self.transform = transform
        self.num_persons = num_persons
        self.seed = int(seed)
        self.epoch = 0
        self.nan_as_missing = bool(nan_as_missing)
        self._path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
        items, splits, class_names, src_classes, stored_layout = self._open(source)
        self.class_names: list[str] | None = list(class_names) if class_names else None
        self.splits = splits
        lazy = not isinstance(items, (list, NativeClips))
        if num_classes is None:
            num_classes = src_classes or (len(class_names) if class_names else None)
        if num_classes is None:
            num_classes = self._max_label(items) + 1
        num_classes = check_int(num_classes, "num_classes", minimum=1, expected="a positive int")
        self.num_classes = num_classes
        self._items = items
        log = SkipLog()
        candidates = self._select_split(items, split, log)
        self._v_source = self._source_joints(items, candidates)
        self._joint_idx = joint_index_map(
            source_layout if source_layout is not None else stored_layout,
            self.layout,
            self._v_source,
        )
        if validate is None:
            validate = not lazy or self.on_error == "skip"
        if validate:
            kept = []
            for i in candidates:
                try:
                    self._check(i)
                except MalformedClipError as err:
                    if self.on_error == "raise":
                        raise
                    log.add(err)
                    continue
                kept.append(i)
            candidates = kept
        self._indices = candidates
        self.skipped = log.count
        self.skipped_clips = list(log.skipped)
        log.warn(f"{type(self).__name__}({self._describe(source)}, split={split!r})")

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _describe(source: Any) -> str:
        if isinstance(source, (str, os.PathLike)):
            return repr(os.fspath(source))
        return type(source).__name__

    @staticmethod
    def _open(
        source: Any,
    ) -> tuple[Sequence[Any], dict[str, list[str]], Any, int | None, Any]:
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            lower = path.lower()
            if lower.endswith((".pkl", ".pickle")):
                anns, splits = load_pyskl(path)
                return anns, splits, None, None, None
            if lower.endswith(".npz"):
                clips = NativeClips(path)
                return clips, clips.splits, clips.class_names, clips.num_classes, clips.layout
            raise ValueError(f"source path must end in .pkl/.pickle (PYSKL) or .npz, got {path!r}")
        if isinstance(source, (list, tuple)):
            return list(source), {}, None, None, None
        if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
            splits = getattr(source, "splits", None) or {}
            stored = getattr(source, "layout", None)
            return (
                source,
                {k: list(v) for k, v in dict(splits).items()},
                getattr(source, "class_names", None),
                getattr(source, "num_classes", None),
                stored,
            )
        raise TypeError(
            "source must be a .pkl/.npz path, a list of annotation dicts or a Sequence of them, "
            f"got {type(source).__name__}"
        )

    @staticmethod
    def _max_label(items: Sequence[Any]) -> int:
        if isinstance(items, NativeClips):
            return int(items.labels.max(initial=-1))
        best = -1
        for i in range(len(items)):
            try:
                ann = items[i]
                best = max(best, int(ann["label"]))
            except Exception:  # noqa: BLE001, S112 - malformed clips are reported later
                continue
        return best

    def _select_split(self, items: Sequence[Any], split: str | None, log: SkipLog) -> list[int]:
        if split is None:
            return list(range(len(items)))
        if not isinstance(split, str):
            raise TypeError(f"split must be a split name or None, got {type(split).__name__}")
        if split not in self.splits:
            raise ValueError(f"split {split!r} not in the source; available: {sorted(self.splits)}")
        where: dict[str, int] = {}
        for i in range(len(items)):
            where.setdefault(_item_name(items, i), i)
        out = []
        for name in self.splits[split]:
            if name in where:
                out.append(where[name])
                continue
            err = MalformedClipError(name, f"listed in split {split!r} but has no annotation")
            if self.on_error == "raise":
                raise err
            log.add(err)
        return out

    def _source_joints(self, items: Sequence[Any], candidates: list[int]) -> int:
        if isinstance(items, NativeClips):
            return int(items._kp.shape[2])
        layout = getattr(items, "layout", None)  # synthetic sources carry their Skeleton
        if isinstance(layout, Skeleton):
            return len(layout.joints)
        for i in candidates:
            ann = items[i]
            kp = ann.get("keypoint") if isinstance(ann, Mapping) else None
            shape = getattr(kp, "shape", None)
            if shape is not None and len(shape) == 4:
                return int(shape[2])
        return len(self.layout.joints)

    def _check(self, i: int) -> dict[str, Any]:
        """Clip ``i`` checked (the data's entry point); errors name the file read, if any."""
        try:
            try:
                ann = self._items[i]
            except MalformedClipError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken lazy source names the clip
                raise MalformedClipError(f"#{i}", f"cannot be read ({exc})") from exc
            return check_annotation(
                ann,
                i,
                num_joints=self._v_source,
                num_classes=self.num_classes,
                nan_as_missing=self.nan_as_missing,
            )
        except MalformedClipError as err:
            if self._path is None:
                raise
            raise err.in_file(self._path) from err

    # ------------------------------------------------------------------ Dataset API
    def __len__(self) -> int:
        return len(self._indices)

    @property
    def names(self) -> list[str]:
        """frame_dir of every item, in order."""
        return [_item_name(self._items, i) for i in self._indices]

    @property
    def labels(self) -> np.ndarray:
        """int64 [N], the label of every item (-1 = unlabelled), read without loading keypoints
        where the source allows it."""
        stored = getattr(self._items, "labels", None)  # NativeClips, synthetic sets
        if stored is not None:
            return np.asarray(stored, np.int64)[self._indices]
        return np.asarray([int(self._items[i].get("label", -1)) for i in self._indices], np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch used in the per-sample random generators."""
        self.epoch = int(epoch)

    def sample_rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index``: ``default_rng([seed, epoch, index])``."""
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} clips")
        index = int(index) % n
        src = self._indices[index]
        clip = self._check(src)
        kp, sc = clip["keypoint"], clip["keypoint_score"]
        if self._joint_idx is not None:
            kp, sc = kp[:, :, self._joint_idx], sc[:, :, self._joint_idx]
        kp, sc = select_persons(kp, sc, self.num_persons)
        sample: dict[str, Any] = {
            "keypoint": kp,
            "keypoint_score": sc,
            "img_shape": clip["img_shape"],
        }
        if isinstance(self.transform, PoseTransform):
            sample = self.transform(sample, self.sample_rng(index))
        elif self.transform is not None:
            sample = self.transform(sample)
        meta = {
            k: v
            for k, v in clip.items()
            if k not in _META_SKIP and isinstance(v, (str, int, float, bool, tuple, type(None)))
        }
        meta.update(index=src, flip=bool(sample.get("flip", False)))
        keypoint = np.ascontiguousarray(sample["keypoint"], np.float32)
        h, w = sample["img_shape"]
        return {
            "keypoint": keypoint,
            "keypoint_score": np.ascontiguousarray(sample["keypoint_score"], np.float32),
            "label": int(clip["label"]),
            "img_shape": (int(h), int(w)),
            "frame_dir": str(clip.get("frame_dir", f"#{src}")),
            "length": int(keypoint.shape[1]),
            "meta": meta,
        }

    def __repr__(self) -> str:
        return (
            f"PoseDataset(clips={len(self)}, layout={self.layout.name!r}, "
            f"num_classes={self.num_classes}, skipped={self.skipped})"
        )
