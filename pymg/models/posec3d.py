"""PoseC3D recognizer: keypoints -> heatmap volumes (model's device) -> ResNet3dSlowOnly -> I3DHead.

Heatmaps are built in the forward pass, in a batch, from keypoints already mapped to the output
pixel grid by the data transforms, so the data loader only moves kilobytes of keypoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from pymg.models.batch import align_batch
from pymg.models.heads import I3DHead
from pymg.models.interface import (
    ModelInput,
    ModelOutput,
    RecognizerModel,
    check_activation_size,
    check_views,
)
from pymg.models.resnet3d import ResNet3dSlowOnly
from pymg.ops.constants import HEATMAP_DTYPES, STRATEGIES
from pymg.topology import Skeleton, resolve_layout

__all__ = ["PoseC3D"]

_STREAMS = ("joint", "limb")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class PoseC3D(RecognizerModel):
    """PoseC3D (Duan et al., CVPR 2022) on joint or limb heatmap volumes.

    Submodules are ``backbone`` (:class:`ResNet3dSlowOnly`) and ``cls_head`` (:class:`I3DHead`), so
    the state dict uses PYSKL's key names (see :mod:`pymg.models.checkpoint`).

    Args:
        layout: a :class:`pymg.topology.Skeleton` or a layout name (``"imigue41"``...).
        stream: ``"joint"`` (``C = V`` channels) or ``"limb"`` (``C = L``, the layout's limbs).
        num_classes: ``K``.
        clip_len: frames ``T`` after temporal alignment.
        size: heatmap side ``S`` (``H = W = S``); keypoints must already be in ``[0, S)`` pixels.
        sigma: Gaussian sigma in pixels.
        base_channels, stage_blocks: backbone width and depth (tiny demo: 8 and ``(1, 1, 1)``).
        embed_dim: ``D`` of the head's embedding branch (semantic embedding loss), or None.
        dropout: dropout before the classifier.
        strategy: temporal alignment strategy of :func:`pymg.ops.align_frames`
            (``"uniform"`` = the paper's structure-preserving one, ``"pyskl"``, ``"crop_pad"``).
        heatmap_dtype: dtype of the generated heatmaps (None = float32); bf16/fp16 halve the memory
            and suit ``torch.autocast``. Outside autocast they are cast back to the weights' dtype.
        eps: scores below ``eps`` draw nothing (PYSKL 1e-3).
        spatial_strides, temporal_strides, inflate: per-stage backbone settings.
        head_init_std: standard deviation of the classifier's initial weights (PYSKL 0.01).

    Shape:
        - batch: dict with ``keypoint [N, M, T_in, V, 2]`` (output pixels), optional
          ``keypoint_score [N, M, T_in, V]`` (default 1) and ``length [N]`` (default ``T_in``);
          or a ready heatmap volume ``[N, C, clip_len, S, S]`` (any T/H/W the backbone accepts).
        - output: :class:`~pymg.models.interface.ModelOutput` ``(logits [N, K], embedding
          [N, D] or None)``.
    """

    channels_last_format = torch.channels_last_3d  # 3D convolutions
    engine_args = ("layout", "size", "embed_dim")

    def __init__(
        self,
        layout: Skeleton | str,
        stream: str = "joint",
        num_classes: int = 32,
        clip_len: int = 48,
        size: int = 56,
        sigma: float = 0.6,
        base_channels: int = 32,
        stage_blocks: Sequence[int] = (4, 6, 3),
        embed_dim: int | None = None,
        dropout: float = 0.5,
        strategy: str = "uniform",
        heatmap_dtype: torch.dtype | None = None,
        *,
        eps: float = 1e-3,
        spatial_strides: Sequence[int] = (2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 2),
        inflate: Sequence[int] = (0, 1, 1),
        head_init_std: float = 0.01,
    ) -> None:
        super().__init__()
        layout = resolve_layout(layout)
        if stream not in _STREAMS:
            raise ValueError(f"stream must be one of {_STREAMS}, got {stream!r}")
        if heatmap_dtype is not None and heatmap_dtype not in HEATMAP_DTYPES:
            raise ValueError(
                f"heatmap_dtype must be None or one of {HEATMAP_DTYPES}, got {heatmap_dtype!r}"
            )
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.layout = layout
        self.stream = stream
        self.num_classes = _positive_int("num_classes", num_classes)
        self.clip_len = _positive_int("clip_len", clip_len)
        self.size = _positive_int("size", size)
        self.sigma = float(sigma)
        self.eps = float(eps)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
        self.strategy = strategy
        self.heatmap_dtype = heatmap_dtype
        self.embed_dim = embed_dim
        if stream == "joint":
            in_channels = int(layout.num_joints)
            flip_perm = tuple(layout.joint_flip_perm)
        else:
            in_channels = int(layout.num_limbs)
            flip_perm = tuple(layout.limb_flip_perm)
        if in_channels < 1:
            raise ValueError(f"layout {layout.name!r} has no {stream}s to draw")
        self.in_channels = in_channels
        widest = max(in_channels, _positive_int("base_channels", base_channels))
        check_activation_size(
            [("channels", widest), ("clip_len", clip_len), ("size", size), ("size", size)]
        )
        self.flip_perm: tuple[int, ...] = flip_perm
        self.limbs: tuple[tuple[int, int], ...] = tuple((int(a), int(b)) for a, b in layout.limbs)
        self.backbone = ResNet3dSlowOnly(
            in_channels,
            base_channels=base_channels,
            stage_blocks=stage_blocks,
            spatial_strides=spatial_strides,
            temporal_strides=temporal_strides,
            inflate=inflate,
        )
        self.cls_head = I3DHead(
            self.backbone.out_channels,
            num_classes,
            dropout=dropout,
            embed_dim=embed_dim,
            init_std=head_init_std,
        )

    def _device(self) -> torch.device:
        return self.backbone.conv1.conv.weight.device

    def make_heatmaps(
        self,
        batch: Mapping[str, Any],
        *,
        num_clips: int = 1,
        training: bool = False,
        flip: bool = False,
        size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Align a keypoint batch in time and draw its heatmap volumes on the model's device.

        Args:
            batch: ``keypoint`` / ``keypoint_score`` / ``length`` as from
                :func:`pymg.data.collate`.
            num_clips: clips per sample (test-time multi-clip).
            training: random alignment offsets where the strategy has any.
            flip: append a horizontally flipped copy of every clip (left/right channels swapped).
            size: heatmap side ``S`` of this call (e.g. the test resolution; None: ``self.size``).
            generator: RNG for the random offsets.

        Shape:
            - output: ``[N * num_clips * F, C, clip_len, S, S]`` with ``F = 2`` if ``flip`` else 1;
              row ``(n * num_clips + k) * F + f`` is sample ``n``, clip ``k``, flip ``f`` (0: none),
              so ``out.view(N, -1, ...)`` groups every view of one sample.
        """
        from pymg.ops import flip_heatmaps, joint_heatmaps, limb_heatmaps

        check_views(num_clips)
        side = self.size if size is None else _positive_int("size", size)
        kp, sc = align_batch(
            batch,
            self.layout,
            self.clip_len,
            strategy=self.strategy,
            num_clips=num_clips,
            training=training,
            generator=generator,
            eps=self.eps,
            device=self._device(),
        )
        dtype = self.heatmap_dtype or torch.float32
        grid = (side, side)
        if self.stream == "joint":
            heat = joint_heatmaps(kp, sc, size=grid, sigma=self.sigma, eps=self.eps, dtype=dtype)
        else:
            heat = limb_heatmaps(
                kp, sc, limbs=self.limbs, size=grid, sigma=self.sigma, eps=self.eps, dtype=dtype
            )
        if flip:
            flipped = flip_heatmaps(heat, self.flip_perm)
            heat = torch.stack([heat, flipped], dim=1).flatten(0, 1)
        return heat

    def make_input(
        self,
        batch: Mapping[str, Any],
        *,
        num_clips: int = 1,
        flip: bool = False,
        training: bool = False,
        size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The recognizer interface's input: :meth:`make_heatmaps` (same arguments and rows).

        Shape:
            - output: ``[N * num_clips * F, C, clip_len, S, S]`` (``F = 2`` with ``flip``)
        """
        return self.make_heatmaps(
            batch,
            num_clips=num_clips,
            training=training,
            flip=flip,
            size=size,
            generator=generator,
        )

    def forward_input(self, x: ModelInput) -> ModelOutput:
        """Classify ready heatmap volumes.

        Shape:
            - x: ``[N, C, T, H, W]`` with ``C = in_channels``
            - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``
        """
        if not isinstance(x, Tensor):
            raise TypeError(
                f"x must be a batch dict or a heatmap Tensor [N, C, T, H, W], got "
                f"{type(x).__name__}"
            )
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"heatmaps must have shape [N, {self.in_channels}, T, H, W] for the {self.stream} "
                f"stream of {self.layout.name!r}, got {tuple(x.shape)}"
            )
        return self.cls_head(self.backbone(x))
