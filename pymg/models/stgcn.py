"""ST-GCN (Yan et al., AAAI 2018) and ST-GCN++ (Duan et al., 2022) as in PYSKL, for keypoints.

The network follows PYSKL's ``STGCN`` backbone + ``GCNHead``:

* data batch-norm over ``V*C`` (persons folded into the batch),
* 10 blocks with channels 64x4, 128x3, 256x3; temporal stride 2 at blocks 5 and 8 (1-based),
* each block = spatial graph convolution (1x1 conv to ``K*C_out`` channels, aggregation with the
  ``K`` partition matrices times a learnable edge importance, BN, ReLU) followed by a temporal
  convolution (kernel 9, BN) plus a residual branch (none in block 1, identity when shapes match,
  else a strided 1x1 conv + BN) and a final ReLU,
* head: average over T, V and persons -> dropout -> linear classifier; an optional linear
  embedding branch reads the pooled feature before dropout (semantic embedding loss,
  :class:`pymg.losses.SemanticEmbeddingLoss`).

ST-GCN++ (:func:`stgcn_plus_plus`) is the same trunk with PYSKL's ``gcn_adaptive='init'`` (each
block learns its own partition, initialised from ``mode='spatial'``), ``gcn_with_res=True`` and
``tcn_type='mstcn'`` (see :mod:`pymg.models.gcn_blocks`).

Parameter names are PYSKL's (``backbone.data_bn``, ``backbone.gcn.{i}.gcn.A/PA/conv/bn``,
``backbone.gcn.{i}.tcn.*``, ``backbone.gcn.{i}.residual.conv/bn``, ``cls_head.fc_cls``), one
partition copy per block included, so a PYSKL state dict maps one to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pymg.models.batch import align_batch, image_sizes, mirror_keypoints
from pymg.models.gcn_blocks import (
    ADAPTIVE_MODES,
    TCN_TYPES,
    GraphConv,
    MultiScaleTCN,
    STGCNBlock,
    TemporalConv,
)
from pymg.models.interface import (
    ModelInput,
    ModelOutput,
    RecognizerModel,
    check_activation_size,
    check_views,
)
from pymg.ops import STRATEGIES
from pymg.topology import Skeleton, graph_partitions, resolve_layout

__all__ = [
    "STGCN",
    "STGCN_PLUS_PLUS",
    "GCNHead",
    "GraphConv",
    "MultiScaleTCN",
    "STGCNBackbone",
    "STGCNBlock",
    "TemporalConv",
    "stgcn_plus_plus",
]

_EPS = 1e-4  # PYSKL's rounding guard for the inflated widths


def _validate_partition(partition: Any, num_joints: int) -> Tensor:
    """Return ``partition`` as a float32 tensor ``[K, V, V]`` after checking it."""
    if isinstance(partition, np.ndarray):
        partition = torch.from_numpy(np.ascontiguousarray(partition))
    if not isinstance(partition, Tensor):
        raise TypeError(
            "partition: expected a strategy name or an array/tensor [K, V, V], "
            f"got {type(partition).__name__}"
        )
    if partition.ndim != 3 or partition.shape[1:] != (num_joints, num_joints):
        raise ValueError(
            f"partition: expected shape [K, {num_joints}, {num_joints}], "
            f"got {tuple(partition.shape)}"
        )
    A = partition.detach().to(torch.float32).clone()
    if not bool(torch.isfinite(A).all()):
        raise ValueError("partition: contains NaN or inf")
    return A


class STGCNBackbone(nn.Module):
    """The ST-GCN trunk (PYSKL ``STGCN``): data BN and a stack of :class:`STGCNBlock`.

    Block 1 maps ``in_channels`` to ``base_channels`` (no residual; PYSKL leaves it out when the
    two are equal). The width is multiplied by ``ch_ratio`` at every block in ``inflate_blocks``
    and the temporal stride is 2 at every block in ``down_blocks`` (1-based; PYSKL's
    ``inflate_stages`` / ``down_stages``, both ``[5, 8]`` by default).

    Args:
        partition: graph partition ``[K, V, V]``; every block keeps its own copy (``gcn.A``).
        in_channels: input channels per joint ``C`` (3 = x, y, score; 2 = x, y).
        base_channels: channels of the first block (64).
        num_blocks: number of blocks (10; PYSKL ``num_stages``).
        down_blocks: 1-based blocks with temporal stride 2.
        inflate_blocks: 1-based blocks where the width grows (default: ``down_blocks``).
        temporal_kernel: kernel of the single-scale temporal conv (9).
        adaptive: ``"importance"`` (ST-GCN), ``"init"`` (ST-GCN++), ``"offset"`` or ``None``.
        gcn_with_res: residual inside each graph conv (ST-GCN++).
        tcn_type: ``"unit_tcn"`` or ``"mstcn"`` (ST-GCN++).
        tcn_dropout: dropout at the end of each temporal conv but the first block's.
        ch_ratio: width multiplier at each inflate block (2).

    Shape:
        - x: ``[N, M, T, V, C]``
        - output: ``[N, M, C_out, T_out, V]``, ``C_out = base_channels * ch_ratio**len(inflate)``
          and ``T_out = T`` halved (rounding up) at every down block.
    """

    def __init__(
        self,
        partition: Tensor,
        *,
        in_channels: int = 3,
        base_channels: int = 64,
        num_blocks: int = 10,
        down_blocks: Sequence[int] = (5, 8),
        inflate_blocks: Sequence[int] | None = None,
        temporal_kernel: int = 9,
        adaptive: str | None = "importance",
        gcn_with_res: bool = False,
        tcn_type: str = "unit_tcn",
        tcn_dropout: float = 0.0,
        ch_ratio: float = 2,
    ):
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks: expected >= 1, got {num_blocks}")
        inflate_blocks = tuple(down_blocks if inflate_blocks is None else inflate_blocks)
        for name, indices in (("down_blocks", down_blocks), ("inflate_blocks", inflate_blocks)):
            if any(not 2 <= b <= num_blocks for b in indices):
                raise ValueError(
                    f"{name}: expected 1-based indices in [2, {num_blocks}], got {tuple(indices)}"
                )
        if temporal_kernel < 1 or temporal_kernel % 2 == 0:
            raise ValueError(f"temporal_kernel: expected a positive odd int, got {temporal_kernel}")
        if adaptive not in ADAPTIVE_MODES:
            raise ValueError(f"adaptive: expected one of {ADAPTIVE_MODES}, got {adaptive!r}")
        if tcn_type not in TCN_TYPES:
            raise ValueError(f"tcn_type: expected one of {TCN_TYPES}, got {tcn_type!r}")
        num_joints = int(partition.shape[1])
        self.num_joints = num_joints
        self.in_channels = in_channels
        self.data_bn = nn.BatchNorm1d(in_channels * num_joints)
        common: dict[str, Any] = {
            "temporal_kernel": temporal_kernel,
            "adaptive": adaptive,
            "gcn_with_res": gcn_with_res,
            "tcn_type": tcn_type,
        }
        blocks: list[STGCNBlock] = []
        if in_channels != base_channels:
            blocks.append(
                STGCNBlock(in_channels, base_channels, partition, residual=False, **common)
            )
        c_in, inflations = base_channels, 0
        for index in range(2, num_blocks + 1):
            inflations += index in inflate_blocks
            c_out = int(base_channels * ch_ratio**inflations + _EPS)
            stride = 2 if index in down_blocks else 1
            blocks.append(
                STGCNBlock(c_in, c_out, partition, stride=stride, tcn_dropout=tcn_dropout, **common)
            )
            c_in = c_out
        self.gcn = nn.ModuleList(blocks)
        self.out_channels = c_in

    @property
    def A(self) -> Tensor:
        """The first block's partition ``[K, V, V]`` (every block holds its own copy)."""
        first = self.gcn[0]
        if not isinstance(first, STGCNBlock):  # pragma: no cover - built above
            raise TypeError("backbone.gcn[0] is not an STGCNBlock")
        return first.gcn.A

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # older pymg stored one shared partition as "A": hand it to every block that lacks one
        shared = state_dict.pop(prefix + "A", None)
        if shared is not None:
            for i in range(len(self.gcn)):
                state_dict.setdefault(f"{prefix}gcn.{i}.gcn.A", shared)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, M, T, V, C]`` -> ``[N, M, C_out, T_out, V]``."""
        n, m, t, v, c = x.shape
        # data BN over V*C per frame, persons folded into the batch
        y = x.permute(0, 1, 3, 4, 2).reshape(n * m, v * c, t)
        y = self.data_bn(y)
        y = y.view(n * m, v, c, t).permute(0, 2, 3, 1).contiguous()  # [N*M, C, T, V]
        for block in self.gcn:
            y = block(y)
        return y.view(n, m, *y.shape[1:])


class GCNHead(nn.Module):
    """Pool over T, V and persons -> dropout -> linear (PYSKL ``GCNHead``) + optional embedding.

    Args:
        in_channels: feature channels ``C``.
        num_classes: ``K``.
        dropout: dropout probability before the classifier.
        embed_dim: ``D`` of the optional embedding branch (a linear layer on the pooled feature,
            before dropout; initialised ``normal(0, 0.01)``, bias 0, as in the recipe);
            ``None`` = no branch.

    Shape:
        - x: ``[N, M, C, T, V]``
        - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``
    """

    def __init__(
        self, in_channels: int, num_classes: int, dropout: float = 0.0, embed_dim: int | None = None
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.zeros_(self.fc_cls.bias)
        self.embed: nn.Linear | None = None
        if embed_dim is not None:
            self.embed = nn.Linear(in_channels, embed_dim)
            nn.init.normal_(self.embed.weight, std=0.01)
            nn.init.zeros_(self.embed.bias)

    def forward(self, x: Tensor) -> ModelOutput:
        """``[N, M, C, T, V]`` -> ``ModelOutput(logits [N, K], embedding [N, D] or None)``."""
        feature = x.mean(dim=(3, 4)).mean(dim=1)  # [N, C]
        embedding = None if self.embed is None else self.embed(feature)
        return ModelOutput(self.fc_cls(self.dropout(feature)), embedding)


def _image_sizes(batch: Mapping[str, Any], n: int, size: tuple[int, int] | None) -> Tensor:
    """Per-sample ``(W, H)``, float32 ``[N, 2]``, from ``size`` or ``batch["img_shape"]``."""
    if size is not None:  # checked by STGCN.__init__
        return torch.tensor([[float(size[1]), float(size[0])]] * n)
    try:
        return image_sizes(batch, n).flip(-1)
    except ValueError as exc:
        raise ValueError(f"{exc} (or pass size=(H, W) to STGCN)") from None


def _normalise(kp: Tensor, sc: Tensor, wh: Tensor, num_clips: int) -> Tensor:
    """Network input ``[R, M, T, V, 3]``: (x, y) mapped to ``[-1, 1]`` by ``wh`` and the score.

    Shape:
        - kp: ``[N * num_clips, M, T, V, 2]`` pixels; sc: ``[N * num_clips, M, T, V]``
        - wh: ``[N, 2]`` (W, H) per sample
    """
    scale = wh.to(kp.device).repeat_interleave(num_clips, dim=0).view(-1, 1, 1, 1, 2)
    xy = kp * (2.0 / scale) - 1.0
    finite = torch.isfinite(xy).all(dim=-1)
    xy = torch.where(finite.unsqueeze(-1), xy, torch.zeros_like(xy))
    sc = torch.where(finite & torch.isfinite(sc), sc.to(torch.float32), torch.zeros_like(sc))
    return torch.cat([xy, sc.unsqueeze(-1)], dim=-1)


class STGCN(RecognizerModel):
    """ST-GCN / ST-GCN++ recognizer for keypoint batches (PYSKL ``STGCN`` + ``GCNHead``).

    Args:
        layout: a :class:`pymg.topology.Skeleton` or a layout name (``"imigue41"``, or a PYSKL
            name such as ``"coco"``).
        num_classes: ``K``.
        partition: strategy for :func:`pymg.topology.graph_partitions` (``"spatial"`` = PYSKL's
            ``stgcn_spatial``, ``"spatial_exact"``, ``"inward_outward"`` = PYSKL's ``spatial``,
            ``"uniform"``, ``"distance"``, ``"binary"``) or a ready array/tensor ``[K_A, V, V]``.
        clip_len: frames after temporal alignment of a keypoint batch (100, as PYSKL).
        in_channels: channels per joint ``C`` of a ready tensor input (3 = x, y, score).
        embed_dim: ``D`` of the embedding branch (``None`` = none).
        dropout: dropout before the classifier (PYSKL default 0).
        base_channels: channels of the first block (64); see :class:`STGCNBackbone`.
        num_blocks: number of ST-GCN blocks (10; PYSKL ``num_stages``).
        down_blocks: 1-based blocks with temporal stride 2 (5, 8; PYSKL ``down_stages``).
        inflate_blocks: 1-based blocks that double the width (default ``down_blocks``; PYSKL
            ``inflate_stages``).
        temporal_kernel: temporal kernel size (9).
        gcn_adaptive: ``"importance"`` (ST-GCN: learnable edge importance ``PA``), ``"init"``
            (ST-GCN++: every block learns its partition), ``"offset"`` or ``None`` (fixed).
        gcn_with_res: residual inside each graph conv (ST-GCN++).
        tcn_type: ``"unit_tcn"`` (9x1 conv) or ``"mstcn"`` (ST-GCN++'s multi-scale TCN).
        tcn_dropout: dropout at the end of each temporal conv (all blocks but the first).
        ch_ratio: width multiplier at every inflate block (2).
        strategy: temporal alignment strategy for :func:`pymg.ops.align_frames`.
        size: ``(H, W)`` used to normalise pixel coordinates; ``None`` = take each sample's
            ``img_shape`` from the batch.
        max_hop: neighbours up to this many hops apart are linked when ``partition`` is a
            strategy name (PYSKL's ``graph_cfg.max_hop``; 1 = the skeleton's edges).

    Input normalisation (keypoint batches): after alignment, ``x' = 2 x / W - 1`` and
    ``y' = 2 y / H - 1`` (PYSKL ``PreNormalize2D``), so the image maps to ``[-1, 1]``; the score is
    the third channel. Missing points (NaN/inf) become ``(0, 0)`` with score 0.

    Shape:
        - batch: dict with ``keypoint [N, M, T, V, 2]`` (pixels), ``keypoint_score [N, M, T, V]``
          (optional, default 1), ``length [N]`` (optional, default T), ``img_shape [N, 2]``
          (H, W; unless ``size`` is set); or a ready tensor ``[N, M, T, V, C]``.
        - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``.
    """

    engine_args = ("layout", "embed_dim")

    def __init__(
        self,
        layout: Skeleton | str,
        num_classes: int = 32,
        partition: str | np.ndarray | Tensor = "spatial",
        clip_len: int = 100,
        in_channels: int = 3,
        embed_dim: int | None = None,
        *,
        dropout: float = 0.0,
        base_channels: int = 64,
        num_blocks: int = 10,
        down_blocks: Sequence[int] = (5, 8),
        inflate_blocks: Sequence[int] | None = None,
        temporal_kernel: int = 9,
        gcn_adaptive: str | None = "importance",
        gcn_with_res: bool = False,
        tcn_type: str = "unit_tcn",
        tcn_dropout: float = 0.0,
        ch_ratio: float = 2,
        strategy: str = "uniform",
        size: tuple[int, int] | None = None,
        max_hop: int = 1,
    ):
        super().__init__()
        skeleton = resolve_layout(layout)
        for name, value in (("num_classes", num_classes), ("clip_len", clip_len)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels: expected a positive int, got {in_channels!r}")
        if embed_dim is not None and (not isinstance(embed_dim, int) or embed_dim < 1):
            raise ValueError(f"embed_dim: expected None or a positive int, got {embed_dim!r}")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")
        if size is not None and (len(size) != 2 or min(size) <= 0):
            raise ValueError(f"size: expected None or a positive (H, W), got {size!r}")
        self.layout = skeleton
        num_joints = int(skeleton.num_joints)
        if isinstance(partition, str):
            partition = graph_partitions(skeleton, strategy=partition, max_hop=max_hop)
        A = _validate_partition(partition, num_joints)
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError(f"base_channels: expected a positive int, got {base_channels!r}")
        check_activation_size(
            [("base_channels", base_channels), ("clip_len", clip_len), ("joints", num_joints)]
        )
        self.num_classes = num_classes
        self.num_joints = num_joints
        self.clip_len = clip_len
        self.in_channels = in_channels
        self.embed_dim = embed_dim
        self.strategy = strategy
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.backbone = STGCNBackbone(
            A,
            in_channels=in_channels,
            base_channels=base_channels,
            num_blocks=num_blocks,
            down_blocks=down_blocks,
            inflate_blocks=inflate_blocks,
            temporal_kernel=temporal_kernel,
            adaptive=gcn_adaptive,
            gcn_with_res=gcn_with_res,
            tcn_type=tcn_type,
            tcn_dropout=tcn_dropout,
            ch_ratio=ch_ratio,
        )
        self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout, embed_dim)

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
        """Turn a keypoint batch into the network input.

        Aligns every clip to ``clip_len`` frames (:func:`pymg.ops.align_frames`), normalises the
        coordinates to ``[-1, 1]`` by the image size and appends the score channel. ``flip``
        mirrors the keypoints in pixel space (:func:`pymg.models.batch.mirror_keypoints`, as the
        data ``Flip`` does); ``size`` (a heatmap side) does not apply to keypoint models.

        Shape:
            - batch: ``keypoint [N, M, T, V, 2]``, ``keypoint_score [N, M, T, V]``, ``length [N]``,
              ``img_shape [N, 2]``
            - output: float32 ``[N * num_clips * F, M, clip_len, V, 3]`` (``F = 2`` with ``flip``),
              row ``(n * num_clips + k) * F + f`` = sample ``n``, clip ``k``, flip ``f``
        """
        check_views(num_clips)
        if self.in_channels != 3:
            raise ValueError(
                f"batch input builds 3 channels (x, y, score) but the model has in_channels="
                f"{self.in_channels}; pass a ready tensor [N, M, T, V, {self.in_channels}] instead"
            )
        options: dict[str, Any] = {
            "strategy": self.strategy,
            "num_clips": num_clips,
            "training": training,
            "generator": generator,
            "device": self.backbone.data_bn.weight.device,
        }
        kp, sc = align_batch(batch, self.layout, self.clip_len, **options)
        wh = _image_sizes(batch, kp.shape[0] // num_clips, self.size)
        views = [_normalise(kp, sc, wh, num_clips)]
        if flip:
            mirrored = mirror_keypoints(batch, self.layout.joint_flip_perm, wh)
            kp, sc = align_batch(mirrored, self.layout, self.clip_len, **options)
            views.append(_normalise(kp, sc, wh, num_clips))
        return torch.stack(views, dim=1).flatten(0, 1)

    def forward_input(self, x: ModelInput) -> ModelOutput:
        """Run the network on a ready input tensor (cast to the weights' dtype).

        Shape:
            - x: ``[N, M, T, V, C]`` with ``V = layout.num_joints`` and ``C = in_channels``
            - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"x: expected a batch dict or a Tensor, got {type(x).__name__}")
        if x.ndim != 5:
            raise ValueError(f"x: expected a Tensor [N, M, T, V, C], got shape {tuple(x.shape)}")
        if x.shape[3] != self.num_joints:
            raise ValueError(
                f"x: expected V={self.num_joints} joints for layout {self.layout.name!r} "
                f"at dim 3 of [N, M, T, V, C], got shape {tuple(x.shape)}"
            )
        if x.shape[4] != self.in_channels:
            raise ValueError(
                f"x: expected C={self.in_channels} channels at dim 4 of [N, M, T, V, C], "
                f"got shape {tuple(x.shape)}"
            )
        head: GCNHead = self.cls_head
        return head(self.backbone(x.to(self.backbone.data_bn.weight.dtype)))


STGCN_PLUS_PLUS: dict[str, Any] = {
    "partition": "inward_outward",
    "gcn_adaptive": "init",
    "gcn_with_res": True,
    "tcn_type": "mstcn",
}
"""The :class:`STGCN` arguments that make ST-GCN++ (PYSKL ``STGCN`` with ``gcn_adaptive='init'``,
``gcn_with_res=True``, ``tcn_type='mstcn'`` and ``graph_cfg=dict(mode='spatial')``)."""


def stgcn_plus_plus(layout: Skeleton | str, num_classes: int = 32, **kwargs: Any) -> STGCN:
    """ST-GCN++: :class:`STGCN` with the defaults of :data:`STGCN_PLUS_PLUS`.

    Args:
        layout: as for :class:`STGCN`.
        num_classes: ``K``.
        kwargs: any other :class:`STGCN` argument (``in_channels``, ``num_blocks``, or one of
            :data:`STGCN_PLUS_PLUS` to change it).

    Shape:
        - input ``[N, M, T, V, C]`` or a keypoint batch; output logits ``[N, K]``.
    """
    return STGCN(layout, num_classes, **{**STGCN_PLUS_PLUS, **kwargs})
