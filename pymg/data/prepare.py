"""``pymg prepare``: a raw MiGA / iMiGUE release, or a PYSKL pickle, -> one native ``.npz`` file.

:func:`prepare_release` reads every video of a release (:mod:`pymg.data.release`), cuts it into
clips with its label file, keeps the layout's joints (checked against what the source carries,
:mod:`pymg.data.formats.sources`), assigns splits (:mod:`pymg.data.splits`) and writes the native
file (:mod:`pymg.data.formats.native`). Clip ids are the challenge's: ``<video>_<k>``, ``k`` the
0-based row of the clip in the video's label file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
from pymg.data.formats.output import check_output_file
from pymg.data.formats.pyskl import load_pyskl
from pymg.data.formats.sources import (
    ALL_POINTS,
    LayoutSourceError,
    VideoKeypoints,
    layout_indices,
)
from pymg.data.formats.wholebody import MMPOSE_SOURCE, WHOLEBODY_CARRIED, read_mmpose_json
from pymg.data.prepare_report import SplitStats, video_notes
from pymg.data.release import ReleaseVideo, find_release_videos
from pymg.data.splits import (
    IMIGUE_TRAIN_SUBJECTS,
    SPLIT_HELP,
    SplitError,
    lookup_video,
    read_split_files,
    read_subjects_csv,
)
from pymg.topology import Skeleton

__all__ = [
    "IMIGUE_IMG_SHAPE",
    "IMIGUE_LAYOUTS",
    "LABEL_END_MARGIN",
    "choose_layout",
    "clips_from_video",
    "joints_layout",
    "prepare_pyskl",
    "prepare_release",
]

log = logging.getLogger(__name__)


SOURCES: dict[str, tuple[str, np.ndarray]] = {
    "xlsx": (XLSX_SOURCE, ALL_POINTS),
    "json": (JSON_SOURCE, ALL_POINTS),
    "light_hand": (LIGHT_HAND_SOURCE, LIGHT_HAND_CARRIED),
    "mmpose": (MMPOSE_SOURCE, WHOLEBODY_CARRIED),
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
    if video.kind == "mmpose":
        return read_mmpose_json(video.keypoints)
    raise ValueError(f"unknown source kind {video.kind!r}")


LABEL_END_MARGIN = 250
"""Frames a label row may end past a video's last keypoint frame (10 s at 25 fps): OpenPose
writes nothing for trailing frames it skipped, so a clip may end a little after the last row and
is padded with frames without detections; a row ending further out is an error naming the label
file and line (it would otherwise allocate frames for a typo such as an end of 10^7)."""


def _row_place(seg: Segment, label_file: str | None) -> str:
    """``"<file>:<line>: "`` of a label row (as the label reader names rows), ``"line N: "``
    without a file, ``""`` for a video without a label file."""
    if label_file is not None:
        return f"{label_file}:{seg.line}: " if seg.line else f"{label_file}: "
    return f"line {seg.line}: " if seg.line else ""


def _segment_problem(
    seg: Segment, frames: int, frame_base: int, label_file: str | None
) -> str | None:
    """Why a label row cannot be cut from a video of ``frames`` frames, or None."""
    s, e = seg.start - frame_base, seg.end - frame_base
    where = _row_place(seg, label_file)
    if s < 0 or s >= frames:
        return (
            f"{where}frames {seg.start}..{seg.end} start outside the video's {frames} keypoint "
            f"frames (first frame numbered {frame_base})"
        )
    if e >= frames + LABEL_END_MARGIN:
        return (
            f"{where}frames {seg.start}..{seg.end} end {e + 1 - frames} frames past the video's "
            f"{frames} keypoint frames (at most {LABEL_END_MARGIN} are allowed)"
        )
    return None


def pad_frames(kp: np.ndarray, sc: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Append ``pad`` frames without detections to ``kp`` [M, T, V, 2] and ``sc`` [M, T, V]."""
    kp = np.concatenate([kp, np.zeros((kp.shape[0], pad, *kp.shape[2:]), kp.dtype)], 1)
    sc = np.concatenate([sc, np.zeros((sc.shape[0], pad, sc.shape[2]), sc.dtype)], 1)
    return kp, sc


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
        label_file: the label file the segments come from, named with the line in errors.

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
        problem = _segment_problem(seg, frames, frame_base, label_file)
        if problem is None:
            try:
                label = -1 if seg.raw_label is None else map_miga_label(seg.raw_label)
            except ValueError as exc:
                problem = f"{_row_place(seg, label_file)}{exc}"
        if problem is not None:
            out.append(MalformedClipError(name, problem))
            continue
        kp, sc = keys.keypoint[:, s : e + 1], keys.score[:, s : e + 1]
        if indices is not None:
            kp, sc = kp[:, :, indices], sc[:, :, indices]
        if e >= frames:
            kp, sc = pad_frames(kp, sc, e + 1 - frames)
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


T = TypeVar("T")


def guarded(video: ReleaseVideo, policy: str, log: SkipLog, read: Callable[[], T]) -> T | None:
    """``read()``, a ValueError or OSError it raises turned into a :class:`MalformedClipError`
    naming the video; under ``policy == "skip"`` that error is logged and None returned."""
    try:
        try:
            return read()
        except (ValueError, OSError) as exc:
            if isinstance(exc, MalformedClipError):
                raise
            raise MalformedClipError(video.video, str(exc)) from exc
    except MalformedClipError as err:
        if policy == "raise":
            raise
        log.add(err)
        return None


def _progress(items: list[Any], enabled: bool) -> Any:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="prepare", unit="video")


IMIGUE_LAYOUTS = ("imigue41", "imigue22")
"""iMiGUE's layouts, richest first: the default of :func:`prepare_release` is the first one
every source of the release carries."""
IMIGUE_IMG_SHAPE = (720, 1280)
"""(H, W) of the iMiGUE / MiGA videos."""


def choose_layout(kinds: Sequence[str]) -> str:
    """The richest of :data:`IMIGUE_LAYOUTS` that every source kind in ``kinds`` can build.

    Raises:
        LayoutSourceError: none can be built (the message lists what the sources carry).
    """
    last: LayoutSourceError | None = None
    for name in IMIGUE_LAYOUTS:
        try:
            for kind in kinds:
                source, carried = SOURCES[kind]
                layout_indices(name, carried, source)
        except LayoutSourceError as exc:
            last = exc
            continue
        return name
    assert last is not None
    raise last


def _target_layout(layout: Any, kinds: Sequence[str]) -> Skeleton | None:
    """The Skeleton to store (None: all 137 points); ``layout=None`` chooses and says so."""
    if isinstance(layout, str) and layout.lower() == OPENPOSE137:
        return None
    if layout is None and kinds:
        layout = choose_layout(kinds)
        sources = " and ".join(SOURCES[kind][0] for kind in kinds)
        richer = IMIGUE_LAYOUTS[: IMIGUE_LAYOUTS.index(layout)]
        why = f"; {', '.join(richer)} needs points they do not carry" if richer else ""
        log.info(f"layout {layout}: the richest iMiGUE layout the {sources} files carry{why}")
    target = resolve_layout(layout or IMIGUE_LAYOUTS[0])
    for kind in kinds:  # what each kind carries is fixed: fail before reading any video
        source, carried = SOURCES[kind]
        layout_indices(target, carried, source)
    return target


@dataclass
class _Collected:
    """What reading the videos of a release gathers."""

    clips: list[dict[str, Any]] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unsplit: int = 0


def _read_videos(
    videos: Sequence[ReleaseVideo],
    rule: _SplitRule,
    target: Skeleton | None,
    stats: SplitStats,
    skips: SkipLog,
    *,
    policy: str,
    hand_order: str,
    frame_base: int,
    img_shape: tuple[int, int],
    progress: bool,
) -> _Collected:
    """Read every video, cut it into clips and assign their splits (skips go to ``skips``)."""
    indices_of: dict[str, np.ndarray | None] = {
        kind: None if target is None else layout_indices(target, SOURCES[kind][1], SOURCES[kind][0])
        for kind in sorted({v.kind for v in videos})
    }
    got = _Collected()
    for video in _progress(list(videos), progress):

        def read(video: ReleaseVideo = video) -> tuple[Any, Any, VideoKeypoints]:
            segments = read_label_csv(video.labels) if video.labels is not None else None
            return rule.subject(video), segments, read_video(video, hand_order)

        read_back = guarded(video, policy, skips, read)
        if read_back is None:
            continue
        subject, segments, keys = read_back
        indices = indices_of[video.kind]
        got.notes += video_notes(video.video, keys, target, indices, img_shape)
        for item in clips_from_video(
            keys, segments, video=video.video, indices=indices, img_shape=img_shape,
            frame_base=frame_base,
            label_file=None if video.labels is None else os.fspath(video.labels),
        ):  # fmt: skip
            if isinstance(item, MalformedClipError):
                _raise_or_skip(item, policy, skips)
                continue
            if subject is not None:
                item["subject"] = subject
            split = rule.split(video, item["frame_dir"])
            if split is None:
                got.unsplit += 1
            else:
                got.splits.setdefault(split, []).append(item["frame_dir"])
                stats.add(split, video.video, item)
            got.clips.append(item)
    return got


def _raise_or_skip(err: MalformedClipError, policy: str, skips: SkipLog) -> None:
    if policy == "raise":
        raise err
    skips.add(err)


def _split_notes(got: _Collected, rule: _SplitRule, skips: SkipLog) -> list[str]:
    """Warnings about clips in no split, unused split-file ids and skipped clips."""
    notes = []
    if got.unsplit:
        notes.append(f"{got.unsplit} clip(s) are named by no split file (stored, in no split)")
    unmatched = sorted(set(rule.ids or ()) - rule.used)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (", ..." if len(unmatched) > 5 else "")
        notes.append(f"{len(unmatched)} id(s) of the split files match no clip or video: {shown}")
    for clip, problem in skips.skipped[:20]:
        notes.append(f"skipped {clip}: {problem}")
    if skips.count > 20:
        notes.append(f"... and {skips.count - 20} more skipped")
    return notes


def _clip_videos(
    raw_dir: str | os.PathLike[str], mmpose: bool, policy: str, skips: SkipLog
) -> list[ReleaseVideo]:
    """The release's videos to cut into clips (SMG's whole videos refused); problems found while
    listing them raise or go to ``skips``."""
    videos, problems = find_release_videos(raw_dir, mmpose=mmpose)
    if any(v.kind == "smg" for v in videos):
        raise ValueError(
            f"{raw_dir}: SMG Kinect skeletons (*_skeleton.csv) are read as whole videos: use "
            "`pymg prepare --untrimmed` (pymg.data.prepare_untrimmed)"
        )
    for err in problems:
        _raise_or_skip(err, policy, skips)
    return list(videos)


def prepare_release(
    raw_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Skeleton | str | None = None,
    *,
    split_files: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    split_rest: str | None = None,
    subjects: str | os.PathLike[str] | Mapping[str, int] | None = None,
    train_subjects: Sequence[int] = IMIGUE_TRAIN_SUBJECTS,
    img_shape: tuple[int, int] = IMIGUE_IMG_SHAPE,
    hand_order: str = "right_left",
    frame_base: int = 0,
    dtype: Any = np.float32,
    on_error: str = "raise",
    progress: bool = False,
    class_names: Sequence[str] | None = None,
    mmpose: bool = False,
) -> dict[str, Any]:
    """Convert a raw MiGA / iMiGUE release into a native ``.npz`` clip file.

    Args:
        raw_dir: the release folder (see :mod:`pymg.data.release` for what is found in it).
        out_path: the ``.npz`` to write (parent folders are created).
        layout: joint layout to store (a name or Skeleton with ``source_indices``),
            ``"openpose137"`` to keep all 137 points, or None: the richest of
            :data:`IMIGUE_LAYOUTS` the release's sources carry (logged).
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
        mmpose: also read ``<video>.json`` mmpose whole-body predictions
            (:func:`~pymg.data.release.find_release_videos`).

    The ``pymg`` logger gets the per-split table (info) and each problem worked around (warning).

    Returns:
        ``{"path", "layout", "videos", "clips", "skipped", "split_rule", "splits": {name:
        {"videos", "clips", "frames", "missing": {part: share}}}, "warnings": [str]}``.

    Raises:
        SplitError: no split rule applies (names the options).
        LayoutSourceError: the layout needs points the source does not carry.
        MalformedClipError: a malformed video, file or row (with ``on_error="raise"``).
    """
    check_output_file(out_path)  # before reading anything
    policy = check_on_error(on_error)
    h, w = (int(v) for v in img_shape)
    if h <= 0 or w <= 0:
        raise ValueError(f"img_shape must be two positive integers (H, W), got {img_shape}")
    skips = SkipLog()
    videos = _clip_videos(raw_dir, mmpose, policy, skips)
    target = _target_layout(layout, sorted({v.kind for v in videos}))
    rule = _SplitRule(videos, split_files, split_rest, subjects, train_subjects)
    stats = SplitStats(target)
    got = _read_videos(
        videos, rule, target, stats, skips, policy=policy, hand_order=hand_order,
        frame_base=frame_base, img_shape=(h, w), progress=progress,
    )  # fmt: skip
    notes = got.notes + stats.unlabelled_notes() + _split_notes(got, rule, skips)
    name = OPENPOSE137 if target is None else target.name
    summary = _write(out_path, got, name, class_names, dtype, policy)
    for line in stats.lines():
        log.info(line)
    for note in notes:
        log.warning(note)
    return {"path": summary["path"], "layout": name, "videos": len(videos),
            "clips": summary["clips"], "skipped": skips.count + summary["skipped"],
            "split_rule": rule.kind, "splits": stats.table(), "warnings": notes}  # fmt: skip


def _write(
    out_path: str | os.PathLike[str],
    got: _Collected,
    layout: str,
    class_names: Sequence[str] | None,
    dtype: Any,
    policy: str,
) -> dict[str, Any]:
    """Save the clips (parent folders created; default class names: iMiGUE's 32)."""
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    if class_names is None:
        from pymg.labels import IMIGUE_CLASSES

        class_names = list(IMIGUE_CLASSES)
    return save_native(out_path, got.clips, splits=got.splits, layout=layout,
                       class_names=class_names, dtype=dtype, on_error=policy)  # fmt: skip


def joints_layout(num_joints: int) -> str | None:
    """The layout stored keypoints with ``num_joints`` joints are in, when V alone says it:
    ``"openpose137"`` for 137, the one shipped layout with V joints (``imigue22``,
    ``imigue41``, ...), None when no or several layouts have V joints (V=17: ``coco17`` or
    ``coco17_pyskl``)."""
    from pymg.topology import list_layouts

    if num_joints == 137:
        return OPENPOSE137
    names = [n for n in list_layouts() if len(resolve_layout(n).joints) == num_joints]
    return names[0] if len(names) == 1 else None


def _stored_joints(annotations: Sequence[Any]) -> int | None:
    """V of the first well-formed annotation's keypoints [M, T, V, 2]."""
    for a in annotations:
        if isinstance(a, Mapping) and np.ndim(a.get("keypoint", 0)) == 4:
            return int(np.shape(a["keypoint"])[2])
    return None


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

    The written file records its layout: ``layout`` when given, else ``source_layout``, else
    the one V alone names (:func:`joints_layout`); when none applies it records none and logs
    a warning asking for ``source_layout``.

    Args:
        pkl_path: the PYSKL pickle.
        out_path: the ``.npz`` to write (parent folders are created).
        layout: store only this layout's joints (None: keep the joints as stored).
        source_layout: layout of the stored joints (None: infer from V).
        class_names, dtype, on_error: see :func:`~pymg.data.formats.save_native`.
        trim_padding: drop trailing all-zero frames (fixed-length padding, e.g. MiGA'23's
            pickles padded to 90 frames); False keeps them.

    Returns:
        ``{"clips": N, "splits": {name: n}, "skipped": k, "path": str, "layout": name}``.
    """
    check_output_file(out_path)  # before reading anything
    annotations, splits = load_pyskl(pkl_path, trim_padding=trim_padding)
    v = _stored_joints(annotations)
    stored = layout_name(source_layout)
    if stored is None and v is not None:
        stored = joints_layout(v)
    if layout is not None:
        target = resolve_layout(layout)
        source = source_layout if source_layout is not None else stored
        idx = joint_index_map(source, target, len(target.joints) if v is None else v)
        stored = target.name
        if idx is not None:
            annotations = [_subset(a, idx) for a in annotations]
    elif stored is None:
        log.warning(
            f"{os.fspath(pkl_path)}: the layout of its V={v} joints is ambiguous; the file "
            "records none (pass source_layout, `pymg prepare --source-layout`, e.g. coco17)"
        )
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
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
