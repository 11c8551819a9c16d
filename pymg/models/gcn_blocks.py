"""Building blocks of ST-GCN / ST-GCN++ (PYSKL ``unit_gcn``, ``unit_tcn``, ``mstcn``, block).

Module and parameter names are PYSKL's (and mmaction2 1.x's), so a PYSKL state dict maps one to
one: ``gcn.A`` (the partition; a buffer, or a learned parameter with ``adaptive="init"``),
``gcn.PA`` (edge importance), ``gcn.conv``, ``gcn.bn``, ``gcn.down.{0,1}`` (ST-GCN++ residual),
``tcn.conv/bn`` or ``tcn.branches.*``/``tcn.transform.*``/``tcn.bn`` (multi-scale TCN),
``residual.conv/bn``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "ADAPTIVE_MODES",
    "TCN_TYPES",
    "GraphConv",
    "MultiScaleTCN",
    "STGCNBlock",
    "TemporalConv",
]

ADAPTIVE_MODES = ("importance", "init", "offset", None)
TCN_TYPES = ("unit_tcn", "mstcn")


class GraphConv(nn.Module):
    """Spatial graph convolution (PYSKL ``unit_gcn`` with ``conv_pos='pre'``).

    ``y = ReLU(BN(sum_k (W_k x) A'_k) + res)``, the aggregation running over joints, with
    ``A' = A * PA`` (``adaptive="importance"``, ST-GCN; ``PA`` starts at ones), ``A' = A`` learned
    from the given partition (``"init"``, ST-GCN++), ``A' = A + PA`` (``"offset"``) or the fixed
    ``A`` (``None``). ``res`` is 0, or with ``with_res`` the input (same width) or a 1x1 conv + BN.

    Args:
        in_channels: input channels ``C_in``.
        out_channels: output channels ``C_out``.
        A: the partition ``[K, V, V]`` (``A[k, v, w]`` carries joint ``v`` into ``w``); copied.
        adaptive: one of :data:`ADAPTIVE_MODES`.
        with_res: add the residual inside the unit (ST-GCN++).

    Shape:
        - x: ``[B, C_in, T, V]``
        - output: ``[B, C_out, T, V]``
    """

    A: Tensor

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        *,
        adaptive: str | None = "importance",
        with_res: bool = False,
    ):
        super().__init__()
        if adaptive not in ADAPTIVE_MODES:
            raise ValueError(f"adaptive: expected one of {ADAPTIVE_MODES}, got {adaptive!r}")
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"A: expected a partition [K, V, V], got shape {tuple(A.shape)}")
        self.num_subsets = int(A.shape[0])
        self.adaptive = adaptive
        self.with_res = with_res
        partition = A.detach().clone().float()
        if adaptive == "init":
            self.A = nn.Parameter(partition)
        else:
            self.register_buffer("A", partition)
        self.PA: nn.Parameter | None = None
        if adaptive == "importance":
            self.PA = nn.Parameter(partition.new_ones(partition.shape))
        elif adaptive == "offset":
            self.PA = nn.Parameter(partition.new_empty(partition.shape).uniform_(-1e-6, 1e-6))
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, kernel_size=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU()
        self.down: nn.Module | None = None
        if with_res and in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.BatchNorm2d(out_channels)
            )

    def adjacency(self) -> Tensor:
        """The effective partition ``[K, V, V]`` used by the forward pass."""
        if self.PA is None:
            return self.A
        return self.A * self.PA if self.adaptive == "importance" else self.A + self.PA

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, T, V]`` -> ``[B, C_out, T, V]``."""
        b, _, t, v = x.shape
        y = self.conv(x).view(b, self.num_subsets, -1, t, v)
        y = self.bn(torch.einsum("nkctv,kvw->nctw", y, self.adjacency()))
        if self.with_res:
            y = y + (x if self.down is None else self.down(x))
        return self.act(y)


class TemporalConv(nn.Module):
    """Temporal convolution over frames + BN (PYSKL ``unit_tcn``), no activation.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        kernel_size: temporal kernel (odd); zero padding keeps ``T`` at stride 1.
        stride: temporal stride; ``T_out = ceil(T / stride)``.
        dilation: temporal dilation (the padding grows with it).
        norm: follow the conv with BN (``False``: identity, as in the multi-scale branches).
        dropout: dropout after the BN (training only).

    Shape:
        - x: ``[B, C_in, T, V]``
        - output: ``[B, C_out, T_out, V]``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 9,
        stride: int = 1,
        dilation: int = 1,
        *,
        norm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            (kernel_size, 1),
            padding=(pad, 0),
            stride=(stride, 1),
            dilation=(dilation, 1),
        )
        self.bn: nn.Module = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.drop: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, T, V]`` -> ``[B, C_out, T_out, V]``."""
        return self.drop(self.bn(self.conv(x)))


class MultiScaleTCN(nn.Module):
    """PYSKL's multi-scale temporal convolution (``mstcn``, ST-GCN++), default branch set.

    Six parallel branches on ``C_in``: four ``1x1 conv -> BN -> ReLU -> 3x1 conv`` with dilations
    1..4, one ``1x1 conv -> BN -> ReLU -> 3x1 max-pool`` and a strided ``1x1 conv``; each gets
    ``C_out // 6`` channels (the first the remainder). Their concatenation goes through
    ``BN -> ReLU -> 1x1 conv`` (``transform``), then BN and dropout.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        stride: temporal stride of every branch.
        dropout: dropout after the last BN (training only).

    Shape:
        - x: ``[B, C_in, T, V]``
        - output: ``[B, C_out, ceil(T / stride), V]``
    """

    BRANCHES: tuple[tuple[str, int], ...] = (
        ("conv", 1),
        ("conv", 2),
        ("conv", 3),
        ("conv", 4),
        ("max", 3),
        ("1x1", 1),
    )

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, dropout: float = 0.0):
        super().__init__()
        count = len(self.BRANCHES)
        mid = out_channels // count
        if mid < 1:
            raise ValueError(
                f"out_channels: the multi-scale TCN needs at least {count} channels, "
                f"got {out_channels}"
            )
        first = out_channels - mid * (count - 1)
        branches: list[nn.Module] = []
        for i, (kind, value) in enumerate(self.BRANCHES):
            c = first if i == 0 else mid
            if kind == "1x1":
                branches.append(nn.Conv2d(in_channels, c, kernel_size=1, stride=(stride, 1)))
                continue
            head = [nn.Conv2d(in_channels, c, kernel_size=1), nn.BatchNorm2d(c), nn.ReLU()]
            if kind == "max":
                tail: nn.Module = nn.MaxPool2d((value, 1), stride=(stride, 1), padding=(1, 0))
            else:
                tail = TemporalConv(c, c, 3, stride, dilation=value, norm=False)
            branches.append(nn.Sequential(*head, tail))
        self.branches = nn.ModuleList(branches)
        total = first + mid * (count - 1)
        self.transform = nn.Sequential(
            nn.BatchNorm2d(total), nn.ReLU(), nn.Conv2d(total, out_channels, kernel_size=1)
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, T, V]`` -> ``[B, C_out, T_out, V]``."""
        y = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.drop(self.bn(self.transform(y)))


class STGCNBlock(nn.Module):
    """One ST-GCN block: graph conv -> temporal conv, plus the block residual, then ReLU.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        A: the partition ``[K, V, V]`` of this block (copied).
        stride: temporal stride of the temporal conv and the residual branch.
        residual: whether the block has a residual branch (PYSKL: not in the first block);
            identity when the shape is kept, else a strided 1x1 conv + BN.
        temporal_kernel: kernel of the single-scale temporal conv (9).
        adaptive: :class:`GraphConv` ``adaptive``.
        gcn_with_res: :class:`GraphConv` ``with_res``.
        tcn_type: ``"unit_tcn"`` (:class:`TemporalConv`) or ``"mstcn"`` (:class:`MultiScaleTCN`).
        tcn_dropout: dropout at the end of the temporal conv.

    Shape:
        - x: ``[B, C_in, T, V]``
        - output: ``[B, C_out, ceil(T / stride), V]``
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        *,
        stride: int = 1,
        residual: bool = True,
        temporal_kernel: int = 9,
        adaptive: str | None = "importance",
        gcn_with_res: bool = False,
        tcn_type: str = "unit_tcn",
        tcn_dropout: float = 0.0,
    ):
        super().__init__()
        if tcn_type not in TCN_TYPES:
            raise ValueError(f"tcn_type: expected one of {TCN_TYPES}, got {tcn_type!r}")
        self.gcn = GraphConv(in_channels, out_channels, A, adaptive=adaptive, with_res=gcn_with_res)
        self.tcn: nn.Module
        if tcn_type == "unit_tcn":
            self.tcn = TemporalConv(
                out_channels, out_channels, temporal_kernel, stride, dropout=tcn_dropout
            )
        else:
            self.tcn = MultiScaleTCN(out_channels, out_channels, stride, dropout=tcn_dropout)
        self.relu = nn.ReLU()
        self.has_residual = residual
        self.residual: nn.Module | None = None
        if residual and (in_channels != out_channels or stride != 1):
            self.residual = TemporalConv(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C_in, T, V]`` -> ``[B, C_out, T_out, V]``."""
        y = self.tcn(self.gcn(x))
        if self.has_residual:
            y = y + (x if self.residual is None else self.residual(x))
        return self.relu(y)
