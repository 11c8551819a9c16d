"""``pymg prepare``: a raw MiGA / iMiGUE release, or a PYSKL pickle, -> one native ``.npz`` file.

:func:`prepare_release` reads every video of a release (:mod:`pymg.data.release`), cuts it into
clips with its label file, keeps the layout's joints (checked against what the source carries,
:mod:`pymg.data.formats.sources`), assigns splits (:mod:`pymg.data.splits`) and writes the native
file (:mod:`pymg.data.formats.native`). Clip ids are the challenge's: ``<video>_<k>``, ``k`` the
0-based row of the clip in the video's label file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pymg.data.formats.checks import MalformedClipError, SkipLog, check_on_error
from pymg.data.formats.joints import OPENPOSE137, joint_index_map, layout_name, resolve_layout
from pymg.data.formats.label_csv import Segment, map_miga_label, read_label_csv
from pymg.data.formats.light_hand import (
    LIGHT_HAND_CARRIED,
    LIGHT_HAND_SOURCE,
    read_light_hand_csv,
)
from pymg.data.formats.miga_xlsx import XLSX_SOURCE, read_openpose_xlsx
from pymg.data.formats.native import save_native
from pymg.data.formats.openpose_json import JSON_SOURCE, read_openpose_json_dir
from pymg.data.formats.pyskl import load_pyskl
from pymg.data.formats.sources import ALL_POINTS, VideoKeypoints, layout_indices
from pymg.data.prepare_report import PrepareWarning, SplitStats, video_notes
from pymg.data.release import ReleaseVideo, find_release_videos
from pymg.data.splits import (
    IMIGUE_TRAIN_SUBJECTS,
    SPLIT_HELP,
    SplitError,
    lookup_video,
    read_split_files,
    read_subjects_csv,
)

if TYPE_CHECKING:
    from pymg.topology import Skeleton

__all__ = ["PrepareWarning", "clips_from_video", "prepare_pyskl", "prepare_release"]


SOURCES: dict[str, tuple[str, np.ndarray]] = {
    "xlsx": (XLSX_SOURCE, ALL_POINTS),
    "json": (JSON_SOURCE, ALL_POINTS),
    "light_hand": (LIGHT_HAND_SOURCE, LIGHT_HAND_CARRIED),
}
"""Kind of release file -> (its name, the OpenPose-137 points it carries, bool [137])."""


def read_video(video: ReleaseVideo, hand_order: str = "right_left") -> VideoKeypoints:
    """Read a release video's keypoints with the reader of its kind."""
    if video.kind == "xlsx":
        return read_openpose_xlsx(video.keypoints)
    if video.kind == "light_hand":
        return read_light_hand_csv(video.keypoints, hand_order=hand_order)
    if video.kind == "json":
        return read_openpose_json_dir(video.keypoints)
    raise ValueError(f"unknown source kind {video.kind!r}")


LABEL_END_MARGIN = 250
"""Frames a label row may end past a video's last keypoint frame (10 s at 25 fps): OpenPose
writes nothing for trailing frames it skipped, so a clip may end a little after the last row and
is padded with frames without detections; a row ending further out is an error naming the label
file and line (it would otherwise allocate frames for a typo such as an end of 10^7)."""


def _segment_problem(
    seg: Segment, frames: int, frame_base: int, label_file: str | None
) -> str | None:
    """Why a label row cannot be cut from a video of ``frames`` frames, or None."""
    s, e = seg.start - frame_base, seg.end - frame_base
    where = f"line {seg.line}: " if seg.line else ""
    if s < 0 or s >= frames:
        return (
            f"{where}frames {seg.start}..{seg.end} start outside the video's {frames} keypoint "
            f"frames (first frame numbered {frame_base})"
        )
    if e >= frames + LABEL_END_MARGIN:
        at = f"{label_file}:{seg.line}: " if label_file and seg.line else where
        return (
            f"{at}frames {seg.start}..{seg.end} end {e + 1 - frames} frames past the video's "
            f"{frames} keypoint frames (at most {LABEL_END_MARGIN} are allowed)"
        )
    return None


def clips_from_video(
    keys: VideoKeypoints,
    segments: Sequence[Segment] | None,
    *,
    video: str,
    indices: np.ndarray | None,
    img_shape: tuple[int, int],
    frame_base: int = 0,
    label_file: str | None = None,
) -> list[dict[str, Any] | MalformedClipError]:
    """Cut a video into clip annotations (one per label row; None: the whole video, unlabelled).

    Args:
        keys: the video's keypoints (``keypoint`` [M, F, 137, 2]).
        segments: the label file's rows, or None when the video has no label file.
        video: the video id; clip ``k`` is ``f"{video}_{k}"``.
        indices: OpenPose-137 index per output joint, or None to keep all 137.
        img_shape: (H, W) of the video.
        frame_base: number of the first frame in the label file (0 or 1).
        label_file: the label file the segments come from (named in messages).

    Returns:
        Per row, a PYSKL-style annotation (``keypoint`` [M, T, V, 2], ``keypoint_score``
        [M, T, V], ``label`` (-1 unlabelled), ``frame_dir``, ``total_frames``, ``img_shape``,
        ``original_shape``, ``video``, ``start_frame``) or the :class:`MalformedClipError` that
        row raised (a segment starting after the last frame or ending more than
        :data:`LABEL_END_MARGIN` frames after it, an unknown class). A segment that ends after
        the last keypoint frame (by at most that margin) is padded with frames without detections
        (OpenPose writes nothing for trailing frames it skipped).
    """
    frames = keys.num_frames
    if segments is None:
        segments = [Segment(None, frame_base, frame_base + frames - 1, 0)]
    out: list[dict[str, Any] | MalformedClipError] = []
    for k, seg in enumerate(segments):
        name = f"{video}_{k}"
        s, e = seg.start - frame_base, seg.end - frame_base
        where = f"line {seg.line}: " if seg.line else ""
        problem = _segment_problem(seg, frames, frame_base, label_file)
        if problem is None:
            try:
                label = -1 if seg.raw_label is None else map_miga_label(seg.raw_label)
            except ValueError as exc:
                problem = f"{where}{exc}"
        if problem is not None:
            out.append(MalformedClipError(name, problem))
            continue
        kp, sc = keys.keypoint[:, s : e + 1], keys.score[:, s : e + 1]
        if indices is not None:
            kp, sc = kp[:, :, indices], sc[:, :, indices]
        if e >= frames:
            pad = e + 1 - frames
            kp = np.concatenate([kp, np.zeros((kp.shape[0], pad, *kp.shape[2:]), kp.dtype)], 1)
            sc = np.concatenate([sc, np.zeros((sc.shape[0], pad, sc.shape[2]), sc.dtype)], 1)
        out.append(
            {
                "frame_dir": name,
                "label": label,
                "total_frames": e - s + 1,
                "img_shape": tuple(img_shape),
                "original_shape": tuple(img_shape),
                "keypoint": np.ascontiguousarray(kp, np.float32),
                "keypoint_score": np.ascontiguousarray(sc, np.float32),
                "video": video,
                "start_frame": int(seg.start),
            }
        )
    return out


class _SplitRule:
    """Assigns a split to each clip by one of the three rules of :mod:`pymg.data.splits`."""

    def __init__(
        self,
        videos: Sequence[ReleaseVideo],
        split_files: Sequence[str] | Mapping[str, Sequence[str]] | None,
        split_rest: str | None,
        subjects: str | os.PathLike[str] | Mapping[str, int] | None,
        train_subjects: Sequence[int],
    ) -> None:
        if split_files and subjects is not None:
            raise SplitError("give either split files or subjects, not both")
        self.ids: dict[str, str] | None = None
        self.used: set[str] = set()
        self.subjects: Mapping[str, int] | None = None
        self.rest = split_rest
        self.train_subjects = {int(s) for s in train_subjects}
        if split_files:
            table = (
                {str(k): [str(i) for i in v] for k, v in split_files.items()}
                if isinstance(split_files, Mapping)
                else read_split_files([os.fspath(s) for s in split_files])
            )
            self.ids = {i: name for name, ids in table.items() for i in ids}
            self.kind = "split file"
        elif subjects is not None:
            self.subjects = (
                subjects if isinstance(subjects, Mapping) else read_subjects_csv(subjects)
            )
            self.kind = "subjects"
        elif any(v.folder_split for v in videos):
            unsplit = [v.video for v in videos if v.folder_split is None]
            if unsplit:
                raise SplitError(
                    f"videos {unsplit[:5]} are under no train/validate/test folder while others "
                    f"are; {SPLIT_HELP}"
                )
            self.kind = "folders"
        else:
            raise SplitError(f"no split could be determined: {SPLIT_HELP}")

    def subject(self, video: ReleaseVideo) -> int | None:
        """The video's subject id (subjects rule only)."""
        if self.subjects is None:
            return None
        subject = lookup_video(self.subjects, video.video)
        if subject is None:
            raise MalformedClipError(video.video, "video not in the subjects file")
        return subject

    def split(self, video: ReleaseVideo, clip_id: str) -> str | None:
        """Split of one clip (None: in no split)."""
        if self.ids is not None:
            key = clip_id if clip_id in self.ids else video.video
            self.used.add(key)
            found = self.ids.get(key)
            return found if found is not None else self.rest
        if self.subjects is not None:
            return "train" if self.subject(video) in self.train_subjects else "test"
        return video.folder_split


def _progress(items: list[Any], enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="prepare", unit="video")


def prepare_release(
    raw_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Skeleton | str = "imigue41",
    *,
    split_files: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    split_rest: str | None = None,
    subjects: str | os.PathLike[str] | Mapping[str, int] | None = None,
    train_subjects: Sequence[int] = IMIGUE_TRAIN_SUBJECTS,
    img_shape: tuple[int, int] = (720, 1280),
    hand_order: str = "right_left",
    frame_base: int = 0,
    dtype: Any = np.float32,
    on_error: str = "raise",
    progress: bool = False,
    class_names: Sequence[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Convert a raw MiGA / iMiGUE release into a native ``.npz`` clip file.

    Args:
        raw_dir: the release folder (see :mod:`pymg.data.release` for what is found in it).
        out_path: the ``.npz`` to write.
        layout: joint layout to store (a name or Skeleton with ``source_indices``), or
            ``"openpose137"`` to keep all 137 points.
        split_files: ``["NAME=FILE" | "FILE.json", ...]`` or ``{split: [ids]}``; see
            :mod:`pymg.data.splits`.
        split_rest: split of the clips no split file names (None: no split).
        subjects: a ``video,subject`` CSV or ``{video: subject}`` (cross-subject protocol).
        train_subjects: subject ids of ``"train"`` under ``subjects``; the rest are ``"test"``.
        img_shape: (H, W) of the videos (points well outside it are reported).
        hand_order: fingertip order of ``_light_hand.csv`` files (``"right_left"``).
        frame_base: number of the first frame in the label files (0 or 1).
        dtype: float32 or float16 storage.
        on_error: ``"raise"`` or ``"skip"`` malformed videos, files and rows (counted).
        progress: show a progress bar.
        class_names: stored class names (default: the 32 iMiGUE classes).
        echo: receives the report lines (per-split table, warnings); None sends the warnings
            through :mod:`warnings` (:class:`PrepareWarning`) and prints nothing.

    Returns:
        ``{"path", "layout", "videos", "clips", "skipped", "split_rule", "splits": {name:
        {"videos", "clips", "frames", "missing": {part: share}}}, "warnings": [str]}``.

    Raises:
        SplitError: no split rule applies (names the options).
        LayoutSourceError: the layout needs points the source does not carry.
        MalformedClipError: a malformed video, file or row (with ``on_error="raise"``).
    """
    policy = check_on_error(on_error)
    h, w = (int(v) for v in img_shape)
    if h <= 0 or w <= 0:
        raise ValueError(f"img_shape must be two positive integers (H, W), got {img_shape}")
    keep_all = isinstance(layout, str) and layout.lower() == OPENPOSE137
    target = None if keep_all else resolve_layout(layout)
    if class_names is None:
        from pymg.labels import IMIGUE_CLASSES

        class_names = list(IMIGUE_CLASSES)
    log = SkipLog()
    videos, problems = find_release_videos(raw_dir)
    for err in problems:
        if policy == "raise":
            raise err
        log.add(err)
    # what each kind carries is fixed: check the layout (and fail) before reading any video
    indices_of: dict[str, np.ndarray | None] = {
        kind: None if target is None else layout_indices(target, SOURCES[kind][1], SOURCES[kind][0])
        for kind in sorted({v.kind for v in videos})
    }
    rule = _SplitRule(videos, split_files, split_rest, subjects, train_subjects)
    stats = SplitStats(target)
    notes: list[str] = []
    clips: list[dict[str, Any]] = []
    splits: dict[str, list[str]] = {}
    unsplit = 0
    for video in _progress(videos, progress):
        try:
            try:
                subject = rule.subject(video)
                segments = read_label_csv(video.labels) if video.labels is not None else None
                keys = read_video(video, hand_order)
            except (ValueError, OSError) as exc:
                if isinstance(exc, MalformedClipError):
                    raise
                raise MalformedClipError(video.video, str(exc)) from exc
        except MalformedClipError as err:
            if policy == "raise":
                raise
            log.add(err)
            continue
        indices = indices_of[video.kind]
        notes += video_notes(video.video, keys, target, indices, (h, w))
        for item in clips_from_video(
            keys, segments, video=video.video, indices=indices, img_shape=(h, w),
            frame_base=frame_base,
            label_file=None if video.labels is None else os.fspath(video.labels),
        ):  # fmt: skip
            if isinstance(item, MalformedClipError):
                if policy == "raise":
                    raise item
                log.add(item)
                continue
            if subject is not None:
                item["subject"] = subject
            split = rule.split(video, item["frame_dir"])
            if split is None:
                unsplit += 1
            else:
                splits.setdefault(split, []).append(item["frame_dir"])
                stats.add(split, video.video, item)
            clips.append(item)
    if unsplit:
        notes.append(f"{unsplit} clip(s) are named by no split file (stored, in no split)")
    unmatched = sorted(set(rule.ids or ()) - rule.used)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (", ..." if len(unmatched) > 5 else "")
        notes.append(f"{len(unmatched)} id(s) of the split files match no clip or video: {shown}")
    name = OPENPOSE137 if target is None else target.name
    summary = save_native(
        out_path, clips, splits=splits, layout=name, class_names=class_names, dtype=dtype,
        on_error=policy,
    )  # fmt: skip
    for clip, problem in log.skipped[:20]:
        notes.append(f"skipped {clip}: {problem}")
    if log.count > 20:
        notes.append(f"... and {log.count - 20} more skipped")
    report = {
        "path": summary["path"],
        "layout": name,
        "videos": len(videos),
        "clips": summary["clips"],
        "skipped": log.count + summary["skipped"],
        "split_rule": rule.kind,
        "splits": stats.table(),
        "warnings": notes,
    }
    if echo is None:
        for note in notes:
            warnings.warn(note, PrepareWarning, stacklevel=2)
    else:
        for line in stats.lines():
            echo(line)
        for note in notes:
            echo(f"warning: {note}")
    return report


def prepare_pyskl(
    pkl_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Skeleton | str | None = None,
    *,
    source_layout: Skeleton | str | None = None,
    class_names: Sequence[str] | None = None,
    dtype: Any = np.float32,
    on_error: str = "raise",
    trim_padding: bool = True,
) -> dict[str, Any]:
    """Convert a PYSKL annotation pickle (read safely) into a native ``.npz`` file.

    Args:
        pkl_path: the PYSKL pickle.
        out_path: the ``.npz`` to write.
        layout: store only this layout's joints (None: keep the joints as stored).
        source_layout: layout of the stored joints when ``layout`` is given (None: infer from V).
        class_names, dtype, on_error: see :func:`~pymg.data.formats.save_native`.
        trim_padding: drop trailing all-zero frames (fixed-length padding, e.g. MiGA'23's
            pickles padded to 90 frames); False keeps them.

    Returns:
        ``{"clips": N, "splits": {name: n}, "skipped": k, "path": str, "layout": name}``.
    """
    annotations, splits = load_pyskl(pkl_path, trim_padding=trim_padding)
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
