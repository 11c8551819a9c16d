"""``pymg prepare --untrimmed``: a raw release -> a native file of whole videos with segments.

The same releases as :mod:`pymg.data.prepare` (MiGA'25 ``.xlsx``, iMiGUE ``_light_hand.csv``,
OpenPose JSON, mmpose whole-body JSON) plus SMG's Kinect v2 skeletons; instead of cutting each
video into clips, every video is kept whole and its label file's rows become its ground-truth
segments (:mod:`pymg.data.recording`): 0-based inclusive frames, 0-based classes, sorted by start.
A video without a label file, or whose label file has ``start,end`` rows only, is an unlabelled
(test) recording. Splits come from the same three rules (folders, split files, subjects) with the
video id as the key.

What is checked, each error naming the label file and line (``on_error="skip"`` drops the video
and reports it instead): a frame before the first frame, a segment starting after the last
keypoint frame, an unknown class, and two overlapping segments of one class. Rows out of order are
sorted; segments of different classes may overlap; a segment ending after the last keypoint frame
extends the video with frames without detections (OpenPose writes nothing for trailing frames it
skipped), as the clip converter pads such clips.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pymg.data.formats.checks import SkipLog, check_on_error
from pymg.data.formats.joints import OPENPOSE137, resolve_layout
from pymg.data.formats.label_csv import Segment, map_miga_label, read_label_csv
from pymg.data.formats.output import check_output_file
from pymg.data.formats.smg_kinect import SMG_CLASSES, map_smg_label, read_smg_skeleton_csv
from pymg.data.formats.sources import LayoutSourceError, VideoKeypoints, layout_indices
from pymg.data.prepare import (
    IMIGUE_IMG_SHAPE,
    LABEL_END_MARGIN,
    SOURCES,
    _progress,
    _SplitRule,
    guarded,
    pad_frames,
    read_video,
)
from pymg.data.prepare_report import video_notes
from pymg.data.recording import check_segments, save_recordings
from pymg.data.release import ReleaseVideo, find_release_videos
from pymg.data.splits import IMIGUE_TRAIN_SUBJECTS
from pymg.topology import KINECT25

__all__ = ["prepare_untrimmed", "recording_from_video"]

log = logging.getLogger(__name__)


def recording_from_video(
    keys: VideoKeypoints,
    segments: Sequence[Segment] | None,
    *,
    video: str,
    indices: np.ndarray | None,
    img_shape: tuple[int, int],
    frame_base: int = 0,
    label_map: Callable[[int], int] = map_miga_label,
    num_classes: int | None = None,
    source: str = "labels",
) -> dict[str, Any]:
    """One video and its label rows -> a recording (see :mod:`pymg.data.recording`).

    Args:
        keys: the video's keypoints (``keypoint`` [M, F, P, 2] over the source's P points).
        segments: the label file's rows, or None (no label file: an unlabelled recording).
        video: the video id.
        indices: the source point of each stored joint, or None to keep them all.
        img_shape: (H, W) of the keypoint coordinates.
        frame_base: number of the first frame in the label file (0 or 1).
        label_map: the release's class -> 0-based class (raises ValueError when unknown).
        num_classes: the number of classes (checked).
        source: the label file, named in messages.

    Returns:
        the recording: ``keypoint`` float32 [M, T, V, 2], ``keypoint_score`` [M, T, V],
        ``segments`` int64 [S, 3] sorted by start, ``labelled``, ``frame_dir``, ``img_shape``,
        ``total_frames``.

    Raises:
        ValueError: a row outside the video or before its first frame, an unknown class,
            overlapping segments of one class (names ``source:line``).
    """
    frames = keys.num_frames
    rows: list[tuple[int, int, int]] = []
    lines: list[int] = []
    labelled = segments is not None and all(s.raw_label is not None for s in segments)
    for seg in segments if labelled and segments is not None else ():
        where = f"{source}:{seg.line}"
        s, e = seg.start - frame_base, seg.end - frame_base
        if s < 0:
            raise ValueError(
                f"{where}: frame {seg.start} comes before the first frame (numbered "
                f"{frame_base} in this release; see --frame-base)"
            )
        if s >= frames:
            raise ValueError(
                f"{where}: segment {seg.start}..{seg.end} starts after the last keypoint frame "
                f"{frames - 1 + frame_base} of the video"
            )
        if e >= frames + LABEL_END_MARGIN:
            raise ValueError(
                f"{where}: segment {seg.start}..{seg.end} ends {e + 1 - frames} frames past the "
                f"video's {frames} keypoint frames (at most {LABEL_END_MARGIN} are allowed)"
            )
        try:
            label = label_map(int(seg.raw_label))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        rows.append((s, e, label))
        lines.append(seg.line)
    total = max([frames] + [e + 1 for _, e, _ in rows])
    table = check_segments(rows, total, num_classes=num_classes, where=source, lines=lines)
    kp, sc = keys.keypoint, keys.score
    if indices is not None:
        kp, sc = kp[:, :, indices], sc[:, :, indices]
    if total > frames:
        kp, sc = pad_frames(kp, sc, total - frames)
    return {
        "frame_dir": video,
        "keypoint": np.ascontiguousarray(kp, np.float32),
        "keypoint_score": np.ascontiguousarray(sc, np.float32),
        "img_shape": (int(img_shape[0]), int(img_shape[1])),
        "total_frames": int(total),
        "segments": table,
        "labelled": bool(labelled),
    }


class _Release:
    """What differs between the OpenPose-style releases and SMG: layout, classes, reader."""

    def __init__(
        self, videos: Sequence[ReleaseVideo], layout: Any, frame_base: int | None, pixel: str
    ) -> None:
        kinds = {v.kind for v in videos}
        self.smg = "smg" in kinds
        if self.smg and len(kinds) > 1:
            raise ValueError(
                f"the release mixes SMG Kinect skeletons with {sorted(kinds - {'smg'})} files; "
                "prepare them separately (their joints differ)"
            )
        self.pixel = pixel
        self.indices: dict[str, np.ndarray | None] = {k: None for k in kinds}
        if self.smg:
            target = resolve_layout(layout or KINECT25.name)
            if target.joints != KINECT25.joints:
                raise LayoutSourceError(
                    f"layout {target.name!r}: SMG files hold the 25 Kinect v2 joints; use "
                    "'kinect25' (or 'ntu25', the same joints)"
                )
            self.name: str = target.name
            self.frame_base = 1 if frame_base is None else frame_base
            self.label_map: Callable[[int], int] = map_smg_label
            self.classes: list[str] = list(SMG_CLASSES)
            self.target = None
            return
        keep_all = isinstance(layout, str) and layout.lower() == OPENPOSE137
        self.target = None if keep_all else resolve_layout(layout or "imigue41")
        self.name = OPENPOSE137 if self.target is None else self.target.name
        if self.target is not None:
            for kind in kinds:
                name, carried = SOURCES[kind]
                self.indices[kind] = layout_indices(self.target, carried, name)
        self.frame_base = 0 if frame_base is None else frame_base
        self.label_map = map_miga_label
        from pymg.labels import IMIGUE_CLASSES

        self.classes = list(IMIGUE_CLASSES)

    def read(
        self, video: ReleaseVideo, img_shape: tuple[int, int], hand_order: str
    ) -> tuple[VideoKeypoints, tuple[int, int]]:
        if self.smg:
            return read_smg_skeleton_csv(video.keypoints, pixel=self.pixel)
        return read_video(video, hand_order), img_shape


def _report(table: dict[str, dict[str, int]], notes: list[str]) -> None:
    """The per-split table (info) and the warnings to the ``pymg`` logger."""
    log.info(f"{'split':<8}{'videos':>8}{'labelled':>10}{'segments':>10}{'frames':>10}")
    for split, row in sorted(table.items()):
        log.info(f"{split:<8}{row['videos']:>8}{row['labelled']:>10}{row['segments']:>10}"
                 f"{row['frames']:>10}")  # fmt: skip
    for note in notes:
        log.warning(note)


def _count(table: dict[str, dict[str, int]], split: str, rec: dict[str, Any]) -> None:
    row = table.setdefault(split, {"videos": 0, "labelled": 0, "segments": 0, "frames": 0})
    row["videos"] += 1
    row["labelled"] += int(rec["labelled"])
    row["segments"] += len(rec["segments"])
    row["frames"] += rec["total_frames"]


def _read_recordings(
    videos: Sequence[ReleaseVideo],
    release: _Release,
    rule: _SplitRule,
    num_classes: int,
    img_shape: tuple[int, int],
    hand_order: str,
    policy: str,
    skips: SkipLog,
    progress: bool,
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, dict[str, int]], list[str]]:
    """Read every video whole: its recordings, splits, per-split table and notes (skips go to
    ``skips``)."""
    notes: list[str] = []
    recordings: list[dict[str, Any]] = []
    splits: dict[str, list[str]] = {}
    table: dict[str, dict[str, int]] = {}
    for video in _progress(list(videos), progress):

        def read(video: ReleaseVideo = video) -> tuple[dict[str, Any], VideoKeypoints]:
            rule.subject(video)
            segments = read_label_csv(video.labels) if video.labels is not None else None
            keys, shape = release.read(video, (int(img_shape[0]), int(img_shape[1])), hand_order)
            rec = recording_from_video(
                keys, segments, video=video.video, indices=release.indices[video.kind],
                img_shape=shape, frame_base=release.frame_base, label_map=release.label_map,
                num_classes=num_classes, source=str(video.labels),
            )  # fmt: skip
            return rec, keys

        got = guarded(video, policy, skips, read)
        if got is None:
            continue
        rec, keys = got
        if not release.smg:
            notes += video_notes(video.video, keys, release.target, release.indices[video.kind],
                                 rec["img_shape"])  # fmt: skip
        split = rule.split(video, video.video)
        if split is not None:
            splits.setdefault(split, []).append(video.video)
            _count(table, split, rec)
        recordings.append(rec)
    return recordings, splits, table, notes


def prepare_untrimmed(
    raw_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    layout: Any = None,
    *,
    split_files: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    split_rest: str | None = None,
    subjects: str | os.PathLike[str] | Mapping[str, int] | None = None,
    train_subjects: Sequence[int] = IMIGUE_TRAIN_SUBJECTS,
    img_shape: tuple[int, int] = IMIGUE_IMG_SHAPE,
    hand_order: str = "right_left",
    frame_base: int | None = None,
    dtype: Any = np.float32,
    on_error: str = "raise",
    progress: bool = False,
    class_names: Sequence[str] | None = None,
    mmpose: bool = False,
    pixel: str = "auto",
) -> dict[str, Any]:
    """Convert a raw release into a native file of untrimmed recordings.

    Args:
        raw_dir, split_files, split_rest, subjects, train_subjects, hand_order, dtype, progress,
            mmpose: as :func:`pymg.data.prepare_release`.
        out_path: the ``.npz`` to write (read it with :class:`pymg.data.RecordingSet`).
        layout: joints to store (default ``imigue41``; ``"openpose137"`` keeps all points;
            SMG: ``kinect25``).
        img_shape: (H, W) of OpenPose-style videos (SMG: the Kinect colour image, 1080 x 1920).
        frame_base: number of the first frame in the label files (None: the release's own,
            0 for iMiGUE / MiGA, 1 for SMG).
        on_error: ``"raise"`` or ``"skip"`` a malformed video (named in the report).
        class_names: stored class names (default: the release's, 32 iMiGUE or 17 SMG classes).
        pixel: SMG's pixel pair (``"auto"``, ``"first"``, ``"second"``; see
            :mod:`pymg.data.formats.smg_kinect`).

    Returns:
        ``{"path", "layout", "videos", "segments", "skipped", "split_rule", "splits": {name:
        {"videos", "labelled", "segments", "frames"}}, "warnings": [str]}``.

    Raises:
        SplitError, LayoutSourceError, MalformedClipError: as :func:`prepare_release`; a bad
            label row names its file and line.
    """
    policy = check_on_error(on_error)
    check_output_file(out_path)  # before reading anything
    skips = SkipLog()
    videos, problems = find_release_videos(raw_dir, mmpose=mmpose)
    for err in problems:
        if policy == "raise":
            raise err
        skips.add(err)
    release = _Release(videos, layout, frame_base, pixel)
    names = list(class_names) if class_names is not None else release.classes
    rule = _SplitRule(videos, split_files, split_rest, subjects, train_subjects)
    recordings, splits, table, notes = _read_recordings(
        videos, release, rule, len(names), img_shape, hand_order, policy, skips, progress
    )
    if not recordings:
        raise ValueError(f"{raw_dir}: no usable video ({skips.count} skipped)")
    summary = save_recordings(
        out_path, recordings, splits=splits, layout=release.name, class_names=names, dtype=dtype
    )
    notes += [f"skipped {clip}: {problem}" for clip, problem in skips.skipped[:20]]
    if skips.count > 20:
        notes.append(f"... and {skips.count - 20} more skipped")
    _report(table, notes)
    return {
        "path": summary["path"],
        "layout": release.name,
        "videos": summary["videos"],
        "segments": summary["segments"],
        "skipped": skips.count,
        "split_rule": rule.kind,
        "splits": dict(sorted(table.items())),
        "warnings": notes,
    }
