"""Build pymg's native clip file from raw MiGA/iMiGUE releases or PYSKL pickles.

``prepare_miga`` is what ``pymg prepare`` runs. The native format is described in
:mod:`pymg.data.formats.native`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pymg.data.formats.checks import MalformedClipError, SkipLog, check_on_error
from pymg.data.formats.joints import OPENPOSE137, joint_index_map, layout_name, resolve_layout
from pymg.data.formats.native import save_native
from pymg.data.formats.openpose import (
    IMIGUE_TRAIN_SUBJECTS,
    clips_from_video,
    default_subject_parser,
    imigue_split,
    read_label_csv,
    read_openpose_json_dir,
    read_openpose_xlsx,
)
from pymg.data.formats.pyskl import load_pyskl

__all__ = ["find_miga_videos", "prepare_miga", "prepare_pyskl"]

_LABEL_SUFFIX = "_label.csv"


def find_miga_videos(raw_dir: str | os.PathLike[str]) -> list[tuple[str, Path, Path]]:
    """Find ``(video, label_csv, keypoint_source)`` triples under ``raw_dir`` (recursively).

    A video ``<vid>`` is a ``<vid>_label.csv`` next to ``<vid>_openpose.xlsx`` or a folder
    ``<vid>/`` or ``<vid>_json/`` of OpenPose ``*_keypoints.json`` files.

    Raises:
        FileNotFoundError: ``raw_dir`` missing, or a label file without keypoints (names it).
    """
    root = Path(raw_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"raw MiGA folder not found: {root}")
    out = []
    for csv_path in sorted(root.rglob("*" + _LABEL_SUFFIX)):
        video = csv_path.name[: -len(_LABEL_SUFFIX)]
        candidates = [
            csv_path.with_name(f"{video}_openpose.xlsx"),
            csv_path.with_name(video),
            csv_path.with_name(f"{video}_json"),
        ]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise FileNotFoundError(
                f"{csv_path}: no keypoints for video {video!r} (looked for "
                f"{', '.join(c.name for c in candidates)})"
            )
        out.append((video, csv_path, found))
    return out


def _subject(video: str, subject_of: Any) -> int | None:
    if subject_of is None:
        return default_subject_parser(video)
    if isinstance(subject_of, Mapping):
        value = subject_of.get(video)
        return None if value is None else int(value)
    if callable(subject_of):
        value = subject_of(video)
        return None if value is None else int(value)
    raise TypeError(f"subject_of must be a callable or a mapping, got {type(subject_of).__name__}")


def _progress(items: list[Any], enabled: bool, desc: str) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="video")


def prepare_miga(
    raw_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Any = "imigue41",
    *,
    subject_of: Callable[[str], int | None] | Mapping[str, int] | None = None,
    train_subjects: Sequence[int] = IMIGUE_TRAIN_SUBJECTS,
    img_shape: tuple[int, int] = (720, 1280),
    frame_base: int = 0,
    dtype: Any = np.float32,
    on_error: str = "raise",
    progress: bool = False,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Convert a raw MiGA release into a native ``.npz`` clip file.

    Args:
        raw_dir: folder holding ``<vid>_label.csv`` with ``<vid>_openpose.xlsx`` or an OpenPose
            JSON folder per video (searched recursively).
        out_path: the ``.npz`` to write.
        layout: joint layout to store (Skeleton/name with ``source_indices``), or
            ``"openpose137"`` to keep all 137 points (subset later with ``PoseDataset(layout=)``);
            None means ``"imigue41"``.
        subject_of: video name -> subject id (callable or mapping); default
            :func:`~pymg.data.formats.default_subject_parser`.
        train_subjects: subject ids of the ``"train"`` split; every other subject is ``"test"``.
        img_shape: (H, W) of the videos.
        frame_base: number of the first frame in the label CSVs (0 or 1).
        dtype: float32 or float16 storage.
        on_error: ``"raise"`` or ``"skip"`` malformed videos/clips (skips are counted).
        progress: show a tqdm bar.
        class_names: stored class names (default: the 32 iMiGUE classes when available).

    Returns:
        ``{"clips": N, "splits": {"train": n, "test": n}, "skipped": k, "videos": n,
        "path": str, "layout": name}``.
    """
    policy = check_on_error(on_error)
    if layout is None:
        layout = "imigue41"
    if layout == OPENPOSE137:
        indices = None
    else:
        target = resolve_layout(layout)
        indices = joint_index_map(OPENPOSE137, target, 137)
    if class_names is None:
        try:
            from pymg.labels import IMIGUE_CLASSES

            class_names = list(IMIGUE_CLASSES)
        except ImportError:  # pragma: no cover - labels module absent
            class_names = None
    log = SkipLog()
    videos = find_miga_videos(raw_dir)
    clips: list[dict[str, Any]] = []
    splits: dict[str, list[str]] = {"train": [], "test": []}
    for video, csv_path, source in _progress(videos, progress, "prepare"):
        try:
            subject = _subject(video, subject_of)
            if subject is None:
                raise MalformedClipError(video, "cannot tell the subject id; pass subject_of=")
            try:
                segments = read_label_csv(csv_path)
                if source.is_dir():
                    kp, sc = read_openpose_json_dir(source)
                else:
                    kp, sc = read_openpose_xlsx(source)
            except (ValueError, OSError) as exc:
                raise MalformedClipError(video, str(exc)) from exc
        except MalformedClipError as err:
            if policy == "raise":
                raise
            log.add(err)
            continue
        split = imigue_split(subject, train_subjects)
        for k, seg in enumerate(segments):
            try:
                (clip,) = clips_from_video(
                    kp,
                    sc,
                    [seg],
                    video=video,
                    joint_indices=indices,
                    subject=subject,
                    img_shape=img_shape,
                    frame_base=frame_base,
                )
            except MalformedClipError as err:
                err = MalformedClipError(f"{video}_{k:04d}", err.problem)
                if policy == "raise":
                    raise err from None
                log.add(err)
                continue
            clip["frame_dir"] = f"{video}_{k:04d}"
            clips.append(clip)
            splits[split].append(clip["frame_dir"])
    summary = save_native(
        out_path,
        clips,
        splits=splits,
        layout=layout_name(layout),
        class_names=class_names,
        dtype=dtype,
        on_error=policy,
    )
    log.warn(os.fspath(raw_dir))
    return {
        "clips": summary["clips"],
        "splits": {k: len(v) for k, v in splits.items()},
        "skipped": log.count + summary["skipped"],
        "videos": len(videos),
        "path": summary["path"],
        "layout": layout_name(layout),
    }


def prepare_pyskl(
    pkl_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Any = None,
    *,
    source_layout: Any = None,
    class_names: Sequence[str] | None = None,
    dtype: Any = np.float32,
    on_error: str = "raise",
) -> dict[str, Any]:
    """Convert a PYSKL annotation pickle (read safely) into a native ``.npz`` file.

    Args:
        pkl_path: the PYSKL pickle.
        out_path: the ``.npz`` to write.
        layout: store only this layout's joints (None: keep the joints as stored).
        source_layout: layout of the stored joints when ``layout`` is given (None: infer from V).
        class_names, dtype, on_error: see :func:`~pymg.data.formats.save_native`.

    Returns:
        ``{"clips": N, "splits": {name: n}, "skipped": k, "path": str, "layout": name}``.
    """
    annotations, splits = load_pyskl(pkl_path)
    stored = layout_name(source_layout)
    if layout is not None:
        target = resolve_layout(layout)
        v = next(
            (
                int(np.shape(a["keypoint"])[2])
                for a in annotations
                if isinstance(a, Mapping) and np.ndim(a.get("keypoint", 0)) == 4
            ),
            len(target.joints),
        )
        idx = joint_index_map(source_layout, target, v)
        stored = target.name
        if idx is not None:
            annotations = [_subset(a, idx) for a in annotations]
    summary = save_native(
        out_path,
        annotations,
        splits=splits,
        layout=stored,
        class_names=class_names,
        dtype=dtype,
        on_error=on_error,
    )
    return {
        "clips": summary["clips"],
        "splits": {k: len(v) for k, v in splits.items()},
        "skipped": summary["skipped"],
        "path": summary["path"],
        "layout": stored,
    }


def _subset(ann: Any, idx: np.ndarray) -> Any:
    if not isinstance(ann, Mapping):
        return ann
    out = dict(ann)
    for key in ("keypoint", "keypoint_score"):
        value = out.get(key)
        if isinstance(value, np.ndarray) and value.ndim >= 3 and value.shape[2] > idx.max():
            out[key] = value[:, :, idx]
    return out
