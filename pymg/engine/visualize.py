"""``pymg viz``: one clip of a dataset as skeleton frames or as a heatmap volume (PNG).

Drawing itself is :mod:`pymg.viz` (matplotlib, lazily imported); this module only loads the clip
and, for heatmaps, draws the volume with :func:`pymg.ops.joint_heatmaps` like the model does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pymg.engine.builders import resolve_layout

__all__ = ["heatmap_volume", "load_clip", "visualize_clip"]


def load_clip(
    data: str, index: int, *, split: str | None, layout: Any, size: int | None
) -> dict[str, Any]:
    """Sample ``index`` of ``data`` (a dataset file or ``"synthetic"``).

    With ``size`` the clip goes through the test transform (keypoints in ``[0, size)``), else
    its raw pixel coordinates are kept. Returns a :class:`pymg.data.PoseDataset` item.
    """
    from pymg.data import PoseDataset, SyntheticMicroGestures, test_transform

    skeleton = resolve_layout(layout)
    source: Any
    if data == "synthetic":
        source = SyntheticMicroGestures(num_classes=8, num_clips=max(index + 1, 8), layout=skeleton)
    else:
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"dataset file not found: {path}")
        source = str(path)
    transform = None if size is None else test_transform(size=size)
    dataset = PoseDataset(source, split=split, layout=skeleton, transform=transform)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(dataset):
        raise ValueError(f"index must lie in [0, {len(dataset)}), got {index!r}")
    return dict(dataset[index])


def heatmap_volume(
    sample: dict[str, Any], layout: Any, size: int, stream: str = "joint", clip_len: int = 48
) -> torch.Tensor:
    """The [C, clip_len, size, size] joint or limb heatmap volume of one transformed sample."""
    from pymg.ops import align_frames, joint_heatmaps, limb_heatmaps

    skeleton = resolve_layout(layout)
    kp = torch.as_tensor(sample["keypoint"], dtype=torch.float32)[None]
    sc = torch.as_tensor(sample["keypoint_score"], dtype=torch.float32)[None]
    lengths = torch.tensor([kp.shape[2]], dtype=torch.int64)
    kp, sc = align_frames(kp, sc, lengths, clip_len)
    if stream == "joint":
        return joint_heatmaps(kp, sc, size=(size, size))[0]
    if stream == "limb":
        return limb_heatmaps(kp, sc, limbs=skeleton.limbs, size=(size, size))[0]
    raise ValueError(f"stream must be 'joint' or 'limb', got {stream!r}")


def visualize_clip(
    data: str,
    *,
    kind: str = "skeleton",
    index: int = 0,
    split: str | None = None,
    layout: Any = "imigue41",
    out: str | Path | None = None,
    size: int = 64,
) -> Path:
    """Draw clip ``index`` of ``data`` to a PNG: ``kind`` is ``"skeleton"`` or ``"heatmap"``.

    Returns the written path (default ``<kind>_<index>.png`` in the current folder).
    """
    from pymg.viz import draw_heatmaps, draw_keypoints

    if kind not in ("skeleton", "heatmap"):
        raise ValueError(f"kind must be 'skeleton' or 'heatmap', got {kind!r}")
    target = Path(out) if out is not None else Path(f"{kind}_{index}.png")
    skeleton = resolve_layout(layout)
    if kind == "skeleton":
        sample = load_clip(data, index, split=split, layout=skeleton, size=None)
        return draw_keypoints(
            sample["keypoint"],
            skeleton,
            target,
            score=sample["keypoint_score"],
            img_shape=sample["img_shape"],
            title=f"{sample['frame_dir']} (label {sample['label']})",
        )
    sample = load_clip(data, index, split=split, layout=skeleton, size=size)
    volume = heatmap_volume(sample, skeleton, size)
    return draw_heatmaps(
        volume, target, title=f"{sample['frame_dir']}: joint heatmaps, max over channels"
    )
