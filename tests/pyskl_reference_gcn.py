"""A test-only, minimal re-statement of PYSKL's ST-GCN / ST-GCN++ (graph, backbone, GCN head).

Written from PYSKL's ``pyskl/utils/graph.py``, ``pyskl/models/gcns/stgcn.py``,
``pyskl/models/gcns/utils/{gcn,tcn}.py`` and ``pyskl/models/heads/simple_head.py`` (mmaction2 1.x
has the same modules, with the classifier named ``fc`` instead of ``fc_cls``). It shares no code
with pymg, so logits parity between the two is a real check. Module and buffer names are PYSKL's,
so ``ReferenceGCN(...).state_dict()`` is what a PYSKL (or mmaction2) checkpoint holds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# PYSKL's graph layouts: (num_node, inward edges (0-based), center)
_NTU_BASE = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
]  # fmt: skip
LAYOUTS: dict[str, tuple[int, list[tuple[int, int]], int]] = {
    "openpose": (
        18,
        [(4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
         (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)],
        1,
    ),
    "nturgb+d": (25, [(i - 1, j - 1) for i, j in _NTU_BASE], 20),
    "coco": (
        17,
        [(15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8),
         (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)],
        0,
    ),
    "handmp": (
        21,
        [(1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 5), (7, 6), (8, 7), (9, 0), (10, 9),
         (11, 10), (12, 11), (13, 0), (14, 13), (15, 14), (16, 15), (17, 0), (18, 17),
         (19, 18), (20, 19)],
        0,
    ),
}  # fmt: skip


def _edge2mat(edges: list[tuple[int, int]], n: int) -> np.ndarray:
    m = np.zeros((n, n))
    for i, j in edges:
        m[j, i] = 1
    return m


def _normalize(a: np.ndarray) -> np.ndarray:
    col = a.sum(0)
    scale = np.zeros_like(col)
    scale[col > 0] = 1.0 / col[col > 0]
    return a @ np.diag(scale)


def pyskl_graph(layout: str, mode: str, max_hop: int = 1) -> np.ndarray:
    """PYSKL's ``Graph(layout, mode, max_hop).A`` (``stgcn_spatial`` or ``spatial``)."""
    n, inward, center = LAYOUTS[layout]
    adj = np.eye(n)
    for i, j in inward:
        adj[i, j] = adj[j, i] = 1
    hop = np.full((n, n), np.inf)
    reach = [np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    if mode == "spatial":
        outward = [(j, i) for i, j in inward]
        return np.stack(
            [np.eye(n), _normalize(_edge2mat(inward, n)), _normalize(_edge2mat(outward, n))]
        )
    if mode != "stgcn_spatial":
        raise ValueError(mode)
    norm = _normalize((hop <= max_hop).astype(float))
    parts = []
    for h in range(max_hop + 1):
        close, further = np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                if hop[j, i] == h:
                    if hop[j, center] >= hop[i, center]:
                        close[j, i] = norm[j, i]
                    else:
                        further[j, i] = norm[j, i]
        parts.append(close)
        if h > 0:
            parts.append(further)
    return np.stack(parts)


class UnitGCN(nn.Module):
    def __init__(self, cin: int, cout: int, A: torch.Tensor, adaptive: str, with_res: bool):
        super().__init__()
        self.k = A.shape[0]
        self.adaptive = adaptive
        self.with_res = with_res
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A)
        if adaptive == "importance":
            self.PA = nn.Parameter(torch.ones_like(A))
        self.conv = nn.Conv2d(cin, cout * self.k, 1)
        if with_res and cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        res = 0
        if self.with_res:
            res = self.down(x) if hasattr(self, "down") else x
        A = self.A * self.PA if self.adaptive == "importance" else self.A
        y = self.conv(x).view(n, self.k, -1, t, v)
        y = torch.einsum("nkctv,kvw->nctw", y, A)
        return self.act(self.bn(y) + res)


class UnitTCN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 9, stride: int = 1, dilation: int = 1,
                 norm: bool = True):  # fmt: skip
        super().__init__()
        pad = (kernel + (kernel - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(cin, cout, (kernel, 1), padding=(pad, 0), stride=(stride, 1),
                              dilation=(dilation, 1))  # fmt: skip
        self.bn = nn.BatchNorm2d(cout) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class MSTCN(nn.Module):
    CFG = [(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"]

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        nb = len(self.CFG)
        mid = cout // nb
        rem = cout - mid * (nb - 1)
        branches: list[nn.Module] = []
        for i, cfg in enumerate(self.CFG):
            c = rem if i == 0 else mid
            if cfg == "1x1":
                branches.append(nn.Conv2d(cin, c, 1, stride=(stride, 1)))
            elif cfg[0] == "max":
                branches.append(nn.Sequential(
                    nn.Conv2d(cin, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
                    nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))))  # fmt: skip
            else:
                branches.append(nn.Sequential(
                    nn.Conv2d(cin, c, 1), nn.BatchNorm2d(c), nn.ReLU(),
                    UnitTCN(c, c, cfg[0], stride, cfg[1], norm=False)))  # fmt: skip
        self.branches = nn.ModuleList(branches)
        tin = mid * (nb - 1) + rem
        self.transform = nn.Sequential(nn.BatchNorm2d(tin), nn.ReLU(), nn.Conv2d(tin, cout, 1))
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([b(x) for b in self.branches], dim=1)
        return self.bn(self.transform(y))


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, A: torch.Tensor, stride: int, residual: bool,
                 adaptive: str, with_res: bool, tcn: str):  # fmt: skip
        super().__init__()
        self.gcn = UnitGCN(cin, cout, A, adaptive, with_res)
        self.tcn = (
            UnitTCN(cout, cout, 9, stride) if tcn == "unit_tcn" else MSTCN(cout, cout, stride)
        )
        self.relu = nn.ReLU()
        self.mode = "none" if not residual else ("id" if cin == cout and stride == 1 else "conv")
        if self.mode == "conv":
            self.residual = UnitTCN(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = {"none": 0, "id": x}.get(self.mode) if self.mode != "conv" else self.residual(x)
        return self.relu(self.tcn(self.gcn(x)) + res)


class Backbone(nn.Module):
    def __init__(
        self,
        layout: str,
        mode: str,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 10,
        inflate_stages: tuple[int, ...] = (5, 8),
        down_stages: tuple[int, ...] = (5, 8),
        adaptive: str = "importance",
        with_res: bool = False,
        tcn: str = "unit_tcn",
    ):
        super().__init__()
        A = torch.tensor(pyskl_graph(layout, mode), dtype=torch.float32)
        self.data_bn = nn.BatchNorm1d(in_channels * A.shape[1])
        kw = {"adaptive": adaptive, "with_res": with_res, "tcn": tcn}
        blocks = [Block(in_channels, base_channels, A.clone(), 1, False, **kw)]
        c, inflates = base_channels, 0
        for i in range(2, num_stages + 1):
            inflates += i in inflate_stages
            out = int(base_channels * 2**inflates + 1e-4)
            blocks.append(Block(c, out, A.clone(), 1 + (i in down_stages), True, **kw))
            c = out
        self.gcn = nn.ModuleList(blocks)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = x.shape
        y = self.data_bn(x.permute(0, 1, 3, 4, 2).reshape(n * m, v * c, t))
        y = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block in self.gcn:
            y = block(y)
        return y.reshape((n, m) + y.shape[1:])


class Head(nn.Module):
    def __init__(self, cin: int, num_classes: int, name: str):
        super().__init__()
        self.name = name
        setattr(self, name, nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        pooled = x.mean(dim=(3, 4)).view(n, m, -1).mean(1)
        return getattr(self, self.name)(pooled)


class ReferenceGCN(nn.Module):
    """``RecognizerGCN``: ``backbone`` + ``cls_head``; ``convention`` picks the classifier name.

    Shape: ``[N, M, T, V, C] -> [N, num_classes]``.
    """

    def __init__(self, num_classes: int, *, convention: str = "pyskl", **backbone: object):
        super().__init__()
        self.backbone = Backbone(**backbone)  # type: ignore[arg-type]
        name = "fc_cls" if convention == "pyskl" else "fc"
        self.cls_head = Head(self.backbone.out_channels, num_classes, name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls_head(self.backbone(x))


def randomize(model: nn.Module, seed: int) -> None:
    """Random weights everywhere: conv/linear, BN affine and running stats, partitions, PA."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.dtype not in (torch.float32, torch.float64):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(".A") or name.endswith(".PA"):
                t.copy_(t * (torch.rand(t.shape, generator=g) + 0.5))  # keep the sparsity
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
