"""One clip of a dataset, as the model sees it: the layout a file stores, a clip loaded with or
without the test transform, and its heatmap volume drawn with :mod:`pymg.ops` like the model does.

``pymg viz`` and ``pymg demo`` draw these with :mod:`pymg.viz`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pymg.engine.builders import resolve_layout
from pymg.topology import Skeleton

__all__ = ["clip_layout", "file_layout", "heatmap_volume", "load_clip"]


def file_layout(data: str | Path) -> str | None:
    """The layout name a dataset file records (pymg ``.npz``), else None (PYSKL pickles record
    none).

    Raises:
        FileNotFoundError: no file at ``data``.
    """
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.suffix.lower() != ".npz":
        return None
    from pymg.data.formats.native import NativeClips

    return NativeClips(str(path)).layout


def clip_layout(data: str, layout: Skeleton | str | None = None) -> Skeleton:
    """The layout to read ``data`` in: ``layout`` when given, else the one the file records,
    else (``"synthetic"``) the synthetic set's default.

    Raises:
        ValueError: ``layout`` is None and the file records none (PYSKL pickles).
    """
    if layout is not None:
        return resolve_layout(layout)
    if data == "synthetic":
        import inspect

        from pymg.data import SyntheticMicroGestures

        default = inspect.signature(SyntheticMicroGestures).parameters["layout"].default
        return resolve_layout(default)
    stored = file_layout(data)
    if stored is None:
        raise ValueError(f"{data} records no joint layout: pass one (pymg viz --layout coco17)")
    return resolve_layout(stored)


def load_clip(
    data: str, index: int, *, split: str | None, layout: Skeleton | str, size: int | None
) -> dict[str, Any]:
    """Sample ``index`` of ``data`` (a dataset file or ``"synthetic"``) in ``layout``.

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
    sample = dict(dataset[index])
    names = getattr(source, "class_names", None) or dataset.class_names
    label = int(sample["label"])
    sample["class_name"] = str(names[label]) if names and 0 <= label < len(names) else None
    return sample


def heatmap_volume(
    sample: dict[str, Any],
    layout: Skeleton | str,
    size: int,
    stream: str = "joint",
    clip_len: int = 48,
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
