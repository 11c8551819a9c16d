"""Inference for downstream code: :class:`Recognizer` wraps a trained checkpoint.

>>> rec = Recognizer.from_checkpoint("runs/imigue41_posec3d_joint/best.pt")   # doctest: +SKIP
>>> pred = rec.predict(keypoints, scores, img_shape=(720, 1280))              # doctest: +SKIP
>>> pred.top_names[0], pred.probabilities.shape                               # doctest: +SKIP
('folding arms', (1, 32))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pymg.engine.builders import build_model, skeleton_from_dict
from pymg.engine.checkpointing import load_checkpoint, load_model_state
from pymg.engine.config import Config, config_from_dict
from pymg.engine.evaluate import predict_batch

__all__ = ["Prediction", "Recognizer"]


@dataclass
class Prediction:
    """Result of :meth:`Recognizer.predict` for N clips.

    Attributes:
        probabilities: float32 [N, K], each row sums to 1.
        labels: int64 [N], the arg-max class of each clip.
        top_names: the N predicted class names.
        class_names: the K class names (column order of ``probabilities``).
    """

    probabilities: np.ndarray
    labels: np.ndarray
    top_names: list[str]
    class_names: list[str]


class Recognizer:
    """A trained model plus what it needs at test time (config, layout, class names).

    Args:
        model: the PoseC3D / ST-GCN network (weights loaded).
        cfg: the training config (sizes, test views, layout name).
        class_names: the K class names.
        layout: the :class:`pymg.topology.Skeleton` the model was trained on.
        device: where to run.
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: Config,
        class_names: list[str],
        layout: Any,
        device: torch.device,
    ) -> None:
        self.model = model.to(device).eval()
        self.cfg = cfg
        self.class_names = list(class_names)
        self.layout = layout
        self.device = device

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device = "cpu") -> Recognizer:
        """Load a pymg checkpoint (``latest.pt``/``best.pt`` of a training run).

        Args:
            path: the checkpoint file.
            device: ``"cpu"``, ``"cuda"``, ``"auto"`` or a torch.device.
        """
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(device)
        ck = load_checkpoint(path, map_location="cpu")
        cfg = config_from_dict(ck["config"])
        layout = skeleton_from_dict(ck["layout"])
        state = ck["model"]
        embed = state.get("cls_head.embed.weight")
        embed_dim = None if embed is None else int(embed.shape[0])
        model = build_model(_without_pretrained(cfg), layout, embed_dim)
        load_model_state(model, state, str(path))
        return cls(model, cfg, list(ck["class_names"]), layout, dev)

    @property
    def num_classes(self) -> int:
        """K."""
        return len(self.class_names)

    def predict(
        self,
        keypoints: Any,
        scores: Any = None,
        img_shape: tuple[int, int] | None = None,
        *,
        num_clips: int | None = None,
        flip: bool | None = None,
    ) -> Prediction:
        """Classify one clip or a batch of clips of the same length.

        Args:
            keypoints: float [M, T, V, 2] (one clip) or [N, M, T, V, 2], pixel coordinates
                (x, y) of the original frames; V must match the checkpoint's layout. Missing
                points are 0 with score 0 (OpenPose convention).
            scores: [M, T, V] / [N, M, T, V] confidences, or None for all ones.
            img_shape: (height, width) of the original frames; default: the keypoints' extent.
            num_clips, flip: test views (default: the checkpoint config's ``test`` section).

        Returns:
            :class:`Prediction` with probabilities [N, K] (N = 1 for a single clip).
        """
        from pymg.data import PoseDataset, collate, test_transform

        kp = np.asarray(keypoints.cpu() if torch.is_tensor(keypoints) else keypoints, np.float32)
        if kp.ndim == 4:
            kp = kp[None]
        v = self.layout.num_joints
        if kp.ndim != 5 or kp.shape[-1] != 2 or kp.shape[3] != v or kp.shape[2] < 1:
            raise ValueError(
                f"keypoints must be [M, T, V, 2] or [N, M, T, V, 2] with V={v} "
                f"(layout {self.layout.name!r}) and T >= 1, got shape {kp.shape}"
            )
        if scores is None:
            sc = np.ones(kp.shape[:-1], np.float32)
        else:
            sc = np.asarray(scores.cpu() if torch.is_tensor(scores) else scores, np.float32)
            if sc.ndim == 3:
                sc = sc[None]
            if sc.shape != kp.shape[:-1]:
                raise ValueError(f"scores must have shape {kp.shape[:-1]}, got {sc.shape}")
        if img_shape is None:
            finite = kp[np.isfinite(kp).all(-1)]
            extent = finite.max(axis=0) if finite.size else np.ones(2, np.float32)
            img_shape = (int(np.ceil(extent[1])) + 1, int(np.ceil(extent[0])) + 1)
        if len(img_shape) != 2 or min(img_shape) <= 0:
            raise ValueError(f"img_shape must be (height, width) > 0, got {img_shape!r}")
        h, w = int(img_shape[0]), int(img_shape[1])
        annotations = [
            {
                "frame_dir": f"clip{i}",
                "label": 0,
                "total_frames": int(kp.shape[2]),
                "img_shape": (h, w),
                "original_shape": (h, w),
                "keypoint": kp[i],
                "keypoint_score": sc[i],
            }
            for i in range(kp.shape[0])
        ]
        size = self.cfg.data.test_size
        dataset = PoseDataset(
            annotations,
            layout=self.layout,
            transform=test_transform(size=size),
            num_persons=self.cfg.data.num_persons,
        )
        batch = collate([dataset[i] for i in range(len(dataset))])
        batch = {k: x.to(self.device) if torch.is_tensor(x) else x for k, x in batch.items()}
        probs = predict_batch(
            self.model,
            batch,
            num_clips=self.cfg.test.num_clips if num_clips is None else num_clips,
            flip=self.cfg.test.flip if flip is None else flip,
            size=size,
        )
        p = probs.cpu().numpy().astype(np.float32)
        labels = p.argmax(axis=1).astype(np.int64)
        return Prediction(p, labels, [self.class_names[i] for i in labels], list(self.class_names))


def _without_pretrained(cfg: Config) -> Config:
    """The config with ``model.pretrained`` cleared (the checkpoint carries the weights)."""
    from dataclasses import replace

    return replace(cfg, model=replace(cfg.model, pretrained=""))
