"""Inference for downstream code: :class:`Recognizer` wraps a trained checkpoint.

>>> rec = Recognizer.from_checkpoint("runs/imigue41_posec3d_joint/best.pt")   # doctest: +SKIP
>>> pred = rec.predict(keypoints, scores, img_shape=(720, 1280))              # doctest: +SKIP
>>> pred = rec.predict(clip)  # a dict: keypoint, keypoint_score, img_shape  # doctest: +SKIP
>>> pred.top_names[0], pred.probabilities.shape                               # doctest: +SKIP
('folding arms', (1, 32))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pymg.engine.builders import label_embeddings_for, skeleton_from_dict
from pymg.engine.checkpointing import load_checkpoint, load_model_state
from pymg.engine.config import Config, config_from_dict
from pymg.engine.evaluate import predict_batch
from pymg.engine.model_options import build_from_spec, model_spec
from pymg.topology import OPENPOSE_NUM_POINTS, Skeleton

__all__ = ["Prediction", "Recognizer", "checkpoint_model_spec"]


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
        num_classes = getattr(model, "num_classes", len(class_names))
        if len(class_names) != num_classes:
            raise ValueError(
                f"class_names holds {len(class_names)} names but the model has {num_classes} "
                "classes (one name per class expected)"
            )
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
        model = build_from_spec(checkpoint_model_spec(ck, cfg), layout)
        load_model_state(model, ck["model"], str(path))
        try:
            return cls(model, cfg, list(ck["class_names"]), layout, dev)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

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
        """Classify one clip or a batch of clips.

        Args:
            keypoints: one of
                - a clip dict with PYSKL's names (``keypoint`` [M, T, V, 2] pixels of the original
                  frames, optional ``keypoint_score`` [M, T, V] and ``img_shape`` (H, W)), e.g. a
                  dataset annotation or a synthetic clip;
                - a batch as :func:`pymg.data.collate` returns it from a dataset with the test
                  transform (``keypoint`` [N, M, T, V, 2] already in output pixels), used as is;
                - an array [M, T, V, 2] (one clip) or [N, M, T, V, 2] (clips of one length).
                V is the checkpoint layout's joint count, or 137 for raw OpenPose-137 points, of
                which the layout's ``source_indices`` select the joints. Missing points are 0
                with score 0 (OpenPose convention).
            scores: with an array: [M, T, V] / [N, M, T, V] confidences, or None for all ones.
            img_shape: with an array or a clip dict without one: (height, width) of the original
                frames; default: the keypoints' extent.
            num_clips, flip: test views (default: the checkpoint config's ``test`` section).

        Returns:
            :class:`Prediction` with probabilities [N, K] (N = 1 for a single clip).
        """
        if isinstance(keypoints, Mapping) and _is_batch(keypoints):
            batch = dict(keypoints)
        else:
            batch = self._prepare(*_clip_arrays(keypoints, scores, img_shape))
        probs = predict_batch(
            self.model,
            batch,
            num_clips=self.cfg.test.num_clips if num_clips is None else num_clips,
            flip=self.cfg.test.flip if flip is None else flip,
            size=self.cfg.data.test_size,
        )
        p = probs.cpu().numpy().astype(np.float32)
        labels = p.argmax(axis=1).astype(np.int64)
        return Prediction(p, labels, [self.class_names[i] for i in labels], list(self.class_names))

    def _prepare(
        self, kp: np.ndarray, sc: np.ndarray, img_shape: tuple[int, int] | None
    ) -> dict[str, Any]:
        """Raw clips ``[N, M, T, V or 137, 2]`` -> a collated batch through the test pipeline."""
        from pymg.data import PoseDataset, collate, test_transform

        kp, sc = _select_joints(kp, sc, self.layout)
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
        dataset = PoseDataset(
            annotations,
            layout=self.layout,
            transform=test_transform(size=self.cfg.data.test_size),
            num_persons=self.cfg.data.num_persons,
        )
        return collate([dataset[i] for i in range(len(dataset))])


def _is_batch(data: Mapping[str, Any]) -> bool:
    """A collated batch (keypoint [N, M, T, V, 2]) rather than one clip dict."""
    keypoint = data.get("keypoint")
    if torch.is_tensor(keypoint):
        return keypoint.dim() == 5  # np.ndim would copy a device tensor to the host
    return keypoint is not None and np.ndim(keypoint) == 5


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(value.detach().cpu() if torch.is_tensor(value) else value, np.float32)


def _clip_arrays(
    keypoints: Any, scores: Any, img_shape: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """``(keypoint [N, M, T, V, 2], score [N, M, T, V], img_shape)`` from a clip dict or arrays."""
    if isinstance(keypoints, Mapping):
        if "keypoint" not in keypoints:
            raise ValueError("keypoints: a clip dict needs 'keypoint' [M, T, V, 2]")
        if scores is not None:
            raise ValueError("scores: a clip dict carries its scores as 'keypoint_score'")
        scores = keypoints.get("keypoint_score")
        if img_shape is None and keypoints.get("img_shape") is not None:
            img_shape = tuple(int(x) for x in keypoints["img_shape"])  # type: ignore[assignment]
        keypoints = keypoints["keypoint"]
    kp = _numpy(keypoints)
    if kp.ndim == 4:
        kp = kp[None]
    if kp.ndim != 5 or kp.shape[-1] != 2 or kp.shape[2] < 1:
        raise ValueError(
            f"keypoints must be [M, T, V, 2] or [N, M, T, V, 2] with T >= 1, got shape {kp.shape}"
        )
    if scores is None:
        return kp, np.ones(kp.shape[:-1], np.float32), img_shape
    sc = _numpy(scores)
    if sc.ndim == 3:
        sc = sc[None]
    if sc.shape != kp.shape[:-1]:
        raise ValueError(f"scores must have shape {kp.shape[:-1]}, got {sc.shape}")
    return kp, sc, img_shape


def _select_joints(kp: np.ndarray, sc: np.ndarray, layout: Skeleton) -> tuple[Any, Any]:
    """The layout's joints of ``[N, M, T, V_in, 2]`` (V_in = the layout's V, or OpenPose-137)."""
    v, v_in = layout.num_joints, kp.shape[3]
    if v_in == v:
        return kp, sc
    if v_in == OPENPOSE_NUM_POINTS and layout.source_indices is not None:
        index = list(layout.source_indices)
        return kp[:, :, :, index], sc[:, :, :, index]
    how = (
        f"or the {OPENPOSE_NUM_POINTS} raw OpenPose points, of which its source_indices select "
        "the joints"
        if layout.source_indices is not None
        else "(it has no source_indices, so raw OpenPose-137 points cannot be mapped onto it)"
    )
    raise ValueError(
        f"keypoints: expected V={v} joints of layout {layout.name!r} {how}; got V={v_in}"
    )


def checkpoint_model_spec(ck: Mapping[str, Any], cfg: Config) -> dict[str, Any]:
    """The resolved model of a checkpoint: its ``model_spec``, or, for a checkpoint written before
    the spec was stored, the spec its (translated) config resolves to, as training resolved it
    (``embed_dim`` from the label-embedding table when ``loss.semantic`` was on)."""
    spec = ck.get("model_spec")
    if spec is not None:
        return dict(spec)
    table = label_embeddings_for(cfg)
    return model_spec(cfg, None if table is None else int(table.shape[1]))
