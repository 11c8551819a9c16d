"""What ``pymg prepare`` reports: per-split counts, missing points per body part, warnings."""

from __future__ import annotations

from typing import Any

import numpy as np

from pymg.data.formats.sources import BODY_PARTS, VideoKeypoints, point_part
from pymg.topology import Skeleton
from pymg.topology.openpose import OPENPOSE_NAMES

__all__ = ["MOSTLY_MISSING", "OUTSIDE_MARGIN", "SplitStats", "video_notes"]

MOSTLY_MISSING = 0.5
"""A layout joint undetected in more than this share of a video's frames is reported."""
OUTSIDE_MARGIN = 0.1
"""Points further than this fraction of the image size outside it count as "well outside"."""
_OUTSIDE_SHARE = 0.01


def _parts_of(indices: np.ndarray | None) -> dict[str, np.ndarray]:
    """``{part: positions in the stored joints}`` for the 137-indices kept."""
    if indices is None:
        return {part: np.arange(a, b) for part, a, b in BODY_PARTS}
    out: dict[str, list[int]] = {}
    for v, i in enumerate(indices):
        out.setdefault(point_part(int(i)), []).append(v)
    return {part: np.asarray(v) for part, v in out.items()}


def video_notes(
    video: str,
    keys: VideoKeypoints,
    layout: Skeleton | None,
    indices: np.ndarray | None,
    img_shape: tuple[int, int],
) -> list[str]:
    """Warnings about one video: layout joints missing in most frames, points outside the image.

    Args:
        video: the video id; keys: its keypoints; layout: the layout stored (None: 137 points);
        indices: the layout's 137-indices (None: all); img_shape: (H, W).

    Returns:
        Zero, one or two one-line messages.
    """
    notes = []
    score = keys.score if indices is None else keys.score[:, :, indices]
    detected = (score > 0).any(axis=0)  # [F, V]
    if detected.shape[0]:
        missing = 1.0 - detected.mean(axis=0)
        worst = np.flatnonzero(missing > MOSTLY_MISSING)
        if worst.size:
            names = (
                [layout.joints[v] for v in worst]
                if layout is not None
                else [OPENPOSE_NAMES[v] for v in worst]
            )
            shown = ", ".join(
                f"{n} {100 * missing[v]:.0f}%" for n, v in zip(names, worst, strict=True)
            )
            notes.append(
                f"video {video}: {worst.size} joint(s) undetected in most frames ({shown})"
            )
    h, w = img_shape
    xy = keys.keypoint if indices is None else keys.keypoint[:, :, indices]
    seen = score > 0
    if seen.any():
        x, y = xy[..., 0][seen], xy[..., 1][seen]
        outside = (
            (x < -OUTSIDE_MARGIN * w)
            | (x > (1 + OUTSIDE_MARGIN) * w)
            | (y < -OUTSIDE_MARGIN * h)
            | (y > (1 + OUTSIDE_MARGIN) * h)
        )
        share = float(outside.mean())
        if share > _OUTSIDE_SHARE:
            notes.append(
                f"video {video}: {100 * share:.1f}% of the detected points lie well outside the "
                f"{h}x{w} image (max x {x.max():.0f}, max y {y.max():.0f}): check --img-shape H W"
            )
    return notes


class SplitStats:
    """Counts per split: videos, clips, frames and the share of undetected points per part."""

    def __init__(self, layout: Skeleton | None) -> None:
        indices = None if layout is None else np.asarray(layout.source_indices)
        self._parts = _parts_of(indices)
        self._videos: dict[str, set[str]] = {}
        self._clips: dict[str, int] = {}
        self._frames: dict[str, int] = {}
        self._missing: dict[str, dict[str, list[float]]] = {}
        self._unlabelled: dict[str, dict[str, int]] = {}

    def add(self, split: str, video: str, clip: dict[str, Any]) -> None:
        """Count one clip (``keypoint_score`` [M, T, V], ``label``) of ``video`` in ``split``."""
        self._videos.setdefault(split, set()).add(video)
        self._clips[split] = self._clips.get(split, 0) + 1
        if int(clip["label"]) < 0:
            per_video = self._unlabelled.setdefault(split, {})
            per_video[video] = per_video.get(video, 0) + 1
        detected = (clip["keypoint_score"] > 0).any(axis=0)  # [T, V]
        self._frames[split] = self._frames.get(split, 0) + detected.shape[0]
        sums = self._missing.setdefault(split, {p: [0.0, 0.0] for p in self._parts})
        for part, cols in self._parts.items():
            block = detected[:, cols]
            sums[part][0] += float(block.size - block.sum())
            sums[part][1] += float(block.size)

    def table(self) -> dict[str, dict[str, Any]]:
        """``{split: {"videos", "clips", "frames", "missing": {part: share in [0, 1]}}}``."""
        return {
            split: {
                "videos": len(self._videos[split]),
                "clips": self._clips[split],
                "frames": self._frames[split],
                "missing": {
                    part: (m / n if n else 0.0) for part, (m, n) in self._missing[split].items()
                },
            }
            for split in sorted(self._clips)
        }

    def unlabelled_notes(self) -> list[str]:
        """One warning per training split (its name starts with ``train``) holding unlabelled
        clips, naming their videos; other splits may hold them (the challenge's test labels
        are withheld)."""
        notes = []
        for split, per_video in sorted(self._unlabelled.items()):
            if not split.startswith("train"):
                continue
            videos = sorted(per_video)
            more = f" and {len(videos) - 10} more" if len(videos) > 10 else ""
            notes.append(
                f"split {split!r}: {sum(per_video.values())} unlabelled clip(s) from video(s) "
                f"{', '.join(videos[:10])}{more} (no _label.csv); `pymg train` refuses "
                "unlabelled clips in its training split"
            )
        return notes

    def lines(self) -> list[str]:
        """The table as aligned text lines (a header, then one line per split)."""
        parts = list(self._parts)
        lead = f"{'split':<8}{'videos':>8}{'clips':>8}{'frames':>10}  missing"
        out = [lead + "".join(f"{p:>12}" for p in parts)]
        for split, row in self.table().items():
            cells = f"{split:<8}{row['videos']:>8}{row['clips']:>8}{row['frames']:>10}"
            shares = "".join(f"{100 * row['missing'][p]:>11.1f}%" for p in parts)
            out.append(cells + " " * len("  missing") + shares)
        return out
