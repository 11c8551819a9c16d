"""Find the videos of a raw MiGA / iMiGUE release on disk.

A release is a folder tree; pymg looks for keypoint sources at any depth:

=================================  ============================================================
source                             layout on disk
=================================  ============================================================
``<video>_openpose.xlsx``          MiGA'25: usually all videos side by side in one folder
``<video>_light_hand.csv``         iMiGUE / MiGA'23: one folder per video, ``<NNNN>/``
folder of ``*_keypoints.json``     OpenPose's own output, one folder per video (``<video>/`` or
                                   ``<video>_json/``)
``<video>_skeleton.csv``           SMG: Kinect v2 skeletons, one folder per video,
                                   ``SampleNNNN/`` (:mod:`pymg.data.formats.smg_kinect`)
``<video>.json`` (``mmpose=True``)  mmpose whole-body predictions of one video
                                   (:mod:`pymg.data.formats.wholebody`)
=================================  ============================================================

Each source's labels are ``<video>_label.csv`` in the same folder (for a JSON folder: inside it
or next to it); SMG's are ``<video>_finelabels.csv``. A video without a label file is kept as
unlabelled clips; a label file without a keypoint source is an error naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pymg.data.formats.checks import MalformedClipError
from pymg.data.formats.openpose_json import JSON_SUFFIX
from pymg.data.splits import folder_split

__all__ = [
    "LABEL_SUFFIX",
    "SMG_LABEL_SUFFIX",
    "SOURCE_SUFFIXES",
    "ReleaseVideo",
    "find_release_videos",
]

LABEL_SUFFIX = "_label.csv"
SMG_LABEL_SUFFIX = "_finelabels.csv"
SOURCE_SUFFIXES = {
    "_openpose.xlsx": "xlsx",
    "_light_hand.csv": "light_hand",
    "_skeleton.csv": "smg",
}
"""File suffix -> source kind; JSON folders are the third kind, ``"json"``."""


@dataclass(frozen=True)
class ReleaseVideo:
    """One video of a release.

    Attributes:
        video: the video id (``"0187"``), the file name without its suffix.
        kind: ``"xlsx"``, ``"light_hand"``, ``"json"``, ``"smg"`` or ``"mmpose"``.
        keypoints: the keypoint file, or the JSON folder.
        labels: its ``<video>_label.csv``, or None.
        folder_split: the split named by the folders above it (see :mod:`pymg.data.splits`),
            or None.
    """

    video: str
    kind: str
    keypoints: Path
    labels: Path | None
    folder_split: str | None


def _json_video(folder: Path) -> str:
    name = folder.name
    return name[: -len("_json")] if name.endswith("_json") else name


def _labels_for(video: str, *folders: Path, suffix: str = LABEL_SUFFIX) -> Path | None:
    for folder in folders:
        candidate = folder / f"{video}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def find_release_videos(
    root: str | os.PathLike[str], *, mmpose: bool = False
) -> tuple[list[ReleaseVideo], list[MalformedClipError]]:
    """Find every video of a release (see the module docstring).

    Args:
        root: the release folder.
        mmpose: also take every ``<video>.json`` that is not OpenPose's ``*_keypoints.json`` as
            an mmpose whole-body prediction file (kind ``"mmpose"``,
            :mod:`pymg.data.formats.wholebody`).

    Returns:
        ``(videos, problems)``: the videos sorted by id, and one :class:`MalformedClipError`
        per label file that has no keypoint source (the caller raises or skips them).

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: two sources for one video id, or no video at all.
        SplitError: a video's folders name two different splits.
    """
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"release folder not found: {base}")
    found: dict[str, ReleaseVideo] = {}

    def add(video: str, kind: str, keypoints: Path, labels: Path | None, above: Path) -> None:
        if video in found:
            raise ValueError(
                f"video {video!r} has two keypoint sources: {found[video].keypoints} and "
                f"{keypoints}"
            )
        parts = (base.name, *above.relative_to(base).parts)
        found[video] = ReleaseVideo(video, kind, keypoints, labels, folder_split(parts))

    for suffix, kind in SOURCE_SUFFIXES.items():
        for path in sorted(base.rglob("*" + suffix)):
            video = path.name[: -len(suffix)]
            label_suffix = SMG_LABEL_SUFFIX if kind == "smg" else LABEL_SUFFIX
            add(
                video, kind, path, _labels_for(video, path.parent, suffix=label_suffix), path.parent
            )
    if mmpose:
        for path in sorted(base.rglob("*.json")):
            if not path.name.endswith(JSON_SUFFIX):
                video = path.stem
                add(video, "mmpose", path, _labels_for(video, path.parent), path.parent)
    for folder in sorted({p.parent for p in base.rglob("*" + JSON_SUFFIX)}):
        video = _json_video(folder)
        labels = _labels_for(video, folder, folder.parent)
        add(video, "json", folder, labels, folder.parent if folder != base else base)
    used = {v.labels for v in found.values() if v.labels is not None}
    problems = [
        MalformedClipError(
            path.name[: -len(suffix)],
            f"{path} has no keypoints next to it (looked for <video>_openpose.xlsx, "
            f"<video>_light_hand.csv, <video>_skeleton.csv or a folder of *{JSON_SUFFIX} files)",
        )
        for suffix in (LABEL_SUFFIX, SMG_LABEL_SUFFIX)
        for path in sorted(base.rglob("*" + suffix))
        if path not in used
    ]
    if not found and not problems:
        raise ValueError(
            f"{base}: no videos found (expected <video>_openpose.xlsx, <video>_light_hand.csv "
            f"or folders of *{JSON_SUFFIX} files, with <video>_label.csv)"
        )
    return [found[k] for k in sorted(found)], problems
