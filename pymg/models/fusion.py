"""Late fusion of recognizers: softmax per stream, weighted average of class probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from pymg.models.interface import ModelInput, ModelOutput, RecognizerModel
from pymg.models.posec3d import PoseC3D
from pymg.topology import Skeleton

__all__ = ["PoseC3DTwoStream", "TwoStream", "fuse_scores"]


def _check_weights(weights: Sequence[float], count: int) -> list[float]:
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise TypeError(f"weights must be a sequence of {count} numbers, got {weights!r}") from None
    if len(values) != count:
        raise ValueError(f"weights must have {count} entries (one per stream), got {weights!r}")
    if any(not np.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {weights!r}")
    return values


def fuse_scores(
    scores: Sequence[Tensor | np.ndarray],
    weights: Sequence[float] | None = None,
    *,
    softmax: bool = True,
) -> Tensor | np.ndarray:
    """Fuse per-stream class scores: ``sum_i w_i p_i / sum_i w_i``.

    Works on saved scores (numpy arrays) and on tensors; returns a numpy array when the first
    input is one, else a tensor (float64 for numpy, the promoted input dtype for tensors).

    Args:
        scores: one ``[N, K]`` array per stream (logits when ``softmax``, else probabilities).
        weights: one weight per stream (default all 1), finite, >= 0, not all 0.
        softmax: apply a softmax over K to each stream first.

    Shape:
        - scores: sequence of ``[N, K]``; output ``[N, K]`` (rows sum to 1 when ``softmax``).
    """
    if isinstance(scores, (Tensor, np.ndarray)) or len(scores) == 0:
        raise TypeError("scores must be a non-empty sequence of [N, K] arrays (one per stream)")
    as_numpy = isinstance(scores[0], np.ndarray)
    tensors: list[Tensor] = []
    for i, s in enumerate(scores):
        if not isinstance(s, (Tensor, np.ndarray)):
            raise TypeError(f"scores[{i}] must be a Tensor or ndarray, got {type(s).__name__}")
        t = torch.as_tensor(s)
        if t.dim() != 2:
            raise ValueError(f"scores[{i}] must have shape [N, K], got {tuple(t.shape)}")
        if tensors and t.shape != tensors[0].shape:
            raise ValueError(
                f"scores[{i}] has shape {tuple(t.shape)}, expected {tuple(tensors[0].shape)}"
            )
        tensors.append(t.to(torch.float64) if as_numpy or not t.is_floating_point() else t)
    w = _check_weights(weights if weights is not None else [1.0] * len(tensors), len(tensors))
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = tensors[0].device
    total = torch.zeros(tensors[0].shape, dtype=dtype, device=device)
    for wi, t in zip(w, tensors, strict=True):
        t = t.to(device=device, dtype=dtype)
        total = total + wi * (t.softmax(dim=1) if softmax else t)
    fused = total / sum(w)
    return fused.cpu().numpy() if as_numpy else fused


class TwoStream(RecognizerModel):
    """Joint + limb PoseC3D (or any two recognizers) fused on class probabilities.

    The logits are the log of the fused probabilities, so a softmax of them gives
    ``(w_j softmax(joint) + w_l softmax(limb)) / (w_j + w_l)`` and the engine treats the pair as
    one model.

    Args:
        joint_model: first recognizer (:class:`~pymg.models.interface.RecognizerModel`).
        limb_model: second recognizer with the same layout and ``K``.
        weights: stream weights (the paper: 1:1; Li et al. 2023: 0.4 / 0.6).

    Shape:
        - x: a keypoint batch, or the pair ``(joint_input, limb_input)`` of :meth:`make_input`
        - output: ``ModelOutput(logits [N, K] = log fused probabilities, embedding None)``
    """

    def __init__(
        self,
        joint_model: RecognizerModel,
        limb_model: RecognizerModel,
        weights: Sequence[float] = (1.0, 1.0),
    ) -> None:
        super().__init__()
        for name, model in (("joint_model", joint_model), ("limb_model", limb_model)):
            if not isinstance(model, RecognizerModel):
                raise TypeError(
                    f"{name} must be a pymg RecognizerModel (PoseC3D, STGCN...), got "
                    f"{type(model).__name__}"
                )
        if joint_model.num_classes != limb_model.num_classes:
            raise ValueError(
                f"the streams disagree: joint_model has K={joint_model.num_classes} classes, "
                f"limb_model K={limb_model.num_classes}"
            )
        self.joint_model = joint_model
        self.limb_model = limb_model
        self.layout = joint_model.layout
        self.num_classes = joint_model.num_classes
        self.weights = tuple(_check_weights(weights, 2))

    def make_input(
        self,
        batch: Mapping[str, Any],
        *,
        num_clips: int = 1,
        flip: bool = False,
        training: bool = False,
        size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, ...]:
        """Each stream's input (see :meth:`RecognizerModel.make_input`), as a pair.

        Shape:
            - output: ``(joint_input, limb_input)``, each with ``N * num_clips * F`` rows
        """
        options: dict[str, Any] = {
            "num_clips": num_clips,
            "flip": flip,
            "training": training,
            "size": size,
            "generator": generator,
        }
        joint = self.joint_model.make_input(batch, **options)
        limb = self.limb_model.make_input(batch, **options)
        if not isinstance(joint, Tensor) or not isinstance(limb, Tensor):
            raise TypeError("TwoStream needs streams whose make_input returns one Tensor")
        return joint, limb

    def forward_input(self, x: ModelInput) -> ModelOutput:
        """Fused log-probabilities of the pair ``(joint_input, limb_input)``.

        Shape:
            - x: two inputs of R rows each
            - output: ``ModelOutput(logits [R, K], None)``
        """
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            got = f"{len(x)} items" if isinstance(x, (tuple, list)) else type(x).__name__
            raise ValueError(f"x must be a batch dict or (joint_input, limb_input), got {got}")
        joint = self.joint_model(x[0]).logits
        limb = self.limb_model(x[1]).logits
        if joint.shape != limb.shape:
            raise ValueError(
                f"the streams disagree: joint logits {tuple(joint.shape)}, limb logits "
                f"{tuple(limb.shape)}"
            )
        dtype = torch.promote_types(joint.dtype, torch.float32)  # no half-precision softmax
        fused = cast(Tensor, fuse_scores([joint.to(dtype), limb.to(dtype)], self.weights))
        return ModelOutput(fused.clamp_min(torch.finfo(fused.dtype).tiny).log(), None)


class PoseC3DTwoStream(TwoStream):
    """The paper's two-stream PoseC3D: a joint and a limb :class:`PoseC3D` of the same size,
    fused on class probabilities with ``weights`` (1:1 by default), trained as one model.

    Args:
        layout: a :class:`pymg.topology.Skeleton` or a layout name.
        num_classes, clip_len, size, sigma, base_channels, stage_blocks, dropout, strategy: as
            for :class:`PoseC3D`, used by both streams.
        weights: ``(joint, limb)`` stream weights.

    Shape:
        - x: a keypoint batch (see :class:`PoseC3D`) or the pair of heatmap volumes
          ``([N, V, clip_len, S, S], [N, L, clip_len, S, S])``
        - output: ``ModelOutput(logits [N, K] = log fused probabilities, embedding None)``
    """

    channels_last_format = torch.channels_last_3d
    engine_args = ("layout", "size")

    def __init__(
        self,
        layout: Skeleton | str,
        num_classes: int = 32,
        clip_len: int = 48,
        size: int = 56,
        sigma: float = 0.6,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (4, 6, 3),
        dropout: float = 0.5,
        strategy: str = "uniform",
        weights: Sequence[float] = (1.0, 1.0),
    ) -> None:
        shared: dict[str, Any] = {
            "num_classes": num_classes,
            "clip_len": clip_len,
            "size": size,
            "sigma": sigma,
            "base_channels": base_channels,
            "stage_blocks": stage_blocks,
            "dropout": dropout,
            "strategy": strategy,
        }
        joint = PoseC3D(layout, stream="joint", **shared)
        limb = PoseC3D(layout, stream="limb", **shared)
        super().__init__(joint, limb, weights)
        self.clip_len = joint.clip_len
