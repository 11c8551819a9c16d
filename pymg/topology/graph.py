"""Graph views of a skeleton: hop distances and ST-GCN adjacency partitions."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from pymg.checks import check_int
from pymg.topology.skeleton import Skeleton, _pair_tuple

__all__ = [
    "PARTITION_STRATEGIES",
    "PYSKL_GRAPH_MODES",
    "gcn_edges",
    "graph_partitions",
    "hop_distance",
]

PARTITION_STRATEGIES = (
    "spatial",
    "spatial_exact",
    "inward_outward",
    "uniform",
    "distance",
    "binary",
)

PYSKL_GRAPH_MODES: dict[str, str] = {
    "stgcn_spatial": "spatial",
    "spatial": "inward_outward",
    "binary_adj": "binary",
}
"""PYSKL / mmaction2 ``graph_cfg`` modes and the pymg strategy that builds the same matrices."""

# PYSKL's ``coco`` graph has no hip-hip edge; pymg's COCO layouts keep it as a limb for the
# limb heatmaps, so the graph of those layouts drops it (as (child, parent) pairs, PYSKL's order).
_COCO_GRAPH = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6),
    (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2),
)  # fmt: skip


def _graph(graph: Skeleton | int, edges: Sequence[tuple[int, int]] | None) -> tuple[int, list]:
    if isinstance(graph, Skeleton):
        if edges is not None:
            raise ValueError("edges must be None when graph is a Skeleton (its limbs are used)")
        return graph.num_joints, list(graph.limbs)
    num: int = check_int(graph, "graph", minimum=1, expected="a Skeleton or a joint count >= 1")
    if edges is None:
        raise ValueError("edges must be given when graph is a joint count")
    pairs = list(_pair_tuple(edges, "edges"))
    for i, (a, b) in enumerate(pairs):
        if not (0 <= a < num and 0 <= b < num):
            raise ValueError(f"edges[{i}] = ({a}, {b}) is out of range [0, {num})")
    return num, pairs


def _bfs_distances(num: int, edges: list) -> np.ndarray:
    neighbours: list[list[int]] = [[] for _ in range(num)]
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    dist = np.full((num, num), np.inf)
    for start in range(num):
        dist[start, start] = 0.0
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for w in neighbours[v]:
                if dist[start, w] == np.inf:
                    dist[start, w] = dist[start, v] + 1.0
                    queue.append(w)
    return dist


def hop_distance(
    graph: Skeleton | int,
    max_hop: int | None = 1,
    *,
    edges: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Number of limbs on the shortest path between every pair of joints (undirected BFS).

    Args:
        graph: a :class:`Skeleton` (its limbs are the edges) or the joint count ``V``.
        max_hop: distances above it are ``inf`` (as in ST-GCN); ``None`` keeps every finite one.
        edges: ``(a, b)`` joint pairs, only when ``graph`` is a count.

    Returns:
        float64 array [V, V], symmetric, 0 on the diagonal, ``inf`` for unreachable pairs and
        pairs farther apart than ``max_hop``.
    """
    num, pairs = _graph(graph, edges)
    dist = _bfs_distances(num, pairs)
    if max_hop is not None:
        hops = check_int(max_hop, "max_hop", minimum=0, expected="an int >= 0 or None")
        dist[dist > hops] = np.inf
    return dist


def gcn_edges(skeleton: Skeleton) -> tuple[tuple[int, int], ...]:
    """The edges of a skeleton's ST-GCN graph as ``(child, parent)`` pairs (PYSKL's "inward").

    The graph is the layout's limbs, except for the shipped COCO layouts (``coco17``,
    ``coco17_pyskl``) whose graph is PYSKL's ``coco`` graph: the limbs without the hip-hip one.
    Each edge is oriented from the end farther from ``skeleton.center`` (hop count over the graph)
    to the nearer one; an edge whose ends are equally far keeps its limb order. On a tree (every
    shipped layout but the iMiGUE ones) this gives PYSKL's inward lists exactly.

    Returns:
        ``E`` pairs of joint indices.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton must be a Skeleton, got {type(skeleton).__name__}")
    edges: list[tuple[int, int]] = list(skeleton.limbs)
    if skeleton.name in ("coco17", "coco17_pyskl"):
        from pymg.topology.layouts import resolve_layout

        if resolve_layout(skeleton.name) == skeleton:
            edges = list(_COCO_GRAPH)
    to_center = _bfs_distances(skeleton.num_joints, edges)[:, skeleton.center]
    return tuple((b, a) if to_center[b] > to_center[a] else (a, b) for a, b in edges)


def _edge_matrix(num: int, edges: Sequence[tuple[int, int]]) -> np.ndarray:
    """``M[j, i] = 1`` for every pair ``(i, j)`` (PYSKL's ``edge2mat``)."""
    out = np.zeros((num, num))
    for i, j in edges:
        out[j, i] = 1.0
    return out


def _normalize_columns(adjacency: np.ndarray) -> np.ndarray:
    """``A @ diag(1 / column sums)``: column ``w`` is divided by the degree of ``w`` (+1 self)."""
    sums = adjacency.sum(axis=0)
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return adjacency * scale[None, :]


def graph_partitions(
    skeleton: Skeleton,
    strategy: str = "spatial",
    max_hop: int = 1,
    *,
    exact_center_distance: bool = False,
) -> np.ndarray:
    """ST-GCN adjacency partitions (Yan et al. 2018) of a skeleton's graph (:func:`gcn_edges`).

    ``A[k, v, w]`` is the weight with which joint ``v`` feeds joint ``w`` in subset ``k``
    (``out[..., w] = sum_k sum_v x_k[..., v] * A[k, v, w]``, the ST-GCN/PYSKL orientation). Except
    for ``"inward_outward"`` and ``"binary"``, the adjacency ``hop(v, w) <= max_hop`` (self loops
    included) is column-normalised, so every column of ``A.sum(0)`` sums to 1 (``1 / (deg(w) + 1)``
    per entry for ``max_hop=1``).

    Strategies:
        * ``"spatial"`` (default): K = 2 * max_hop + 1: the joint itself; then per hop ``h >= 1``
          the neighbours ``v`` of ``w`` at the same or a greater distance from the center than
          ``w``, and those closer to it. Distances to the center are capped at ``max_hop`` as in
          ST-GCN, PYSKL and mmaction2 (``mode='stgcn_spatial'``): joints farther away count as
          ``inf``, so "equally far". This equals PYSKL's matrices on every PYSKL layout.
        * ``"spatial_exact"``: the same with exact (uncapped) hop distances to the center (pymg's
          default before it followed PYSKL; the same as ``exact_center_distance=True``).
        * ``"inward_outward"``: PYSKL/mmaction2 ``mode='spatial'`` (ST-GCN++): K = 3, the identity,
          the inward edges ``M[parent, child] = 1`` and the outward ones ``M[child, parent] = 1``,
          each column-normalised (``max_hop`` is ignored).
        * ``"uniform"``: K = 1, the whole normalised adjacency.
        * ``"distance"``: K = max_hop + 1, subset ``h`` keeps the pairs at hop distance ``h``.
        * ``"binary"``: PYSKL ``mode='binary_adj'``: K = 1, 1 on every edge in both directions,
          no self loops, no normalisation.

    PYSKL's mode names are translated by :data:`PYSKL_GRAPH_MODES`.

    Args:
        skeleton: the layout; its ``center`` drives the spatial partitions.
        strategy: one of :data:`PARTITION_STRATEGIES`.
        max_hop: neighbourhood radius (>= 1).
        exact_center_distance: with ``"spatial"``, measure distances to the center over the whole
            graph (``"spatial_exact"``).

    Returns:
        float32 array [K, V, V].
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton must be a Skeleton, got {type(skeleton).__name__}")
    if strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"strategy must be one of {PARTITION_STRATEGIES}, got {strategy!r}")
    hops = check_int(max_hop, "max_hop", minimum=1)
    num = skeleton.num_joints
    edges = gcn_edges(skeleton)
    if strategy == "inward_outward":
        inward = _normalize_columns(_edge_matrix(num, edges))
        outward = _normalize_columns(_edge_matrix(num, [(j, i) for i, j in edges]))
        return np.stack([np.eye(num), inward, outward]).astype(np.float32)
    if strategy == "binary":
        both = _edge_matrix(num, list(edges) + [(j, i) for i, j in edges])
        return both[None].astype(np.float32)
    dist = hop_distance(num, max_hop=hops, edges=edges)
    norm = _normalize_columns((dist <= hops).astype(np.float64))
    if strategy == "uniform":
        parts = [norm]
    elif strategy == "distance":
        parts = [np.where(dist == h, norm, 0.0) for h in range(hops + 1)]
    else:
        exact = exact_center_distance or strategy == "spatial_exact"
        to_center = (hop_distance(num, None, edges=edges) if exact else dist)[:, skeleton.center]
        # farther[v, w]: source v is at least as far from the center as target w.
        farther = to_center[:, None] >= to_center[None, :]
        parts = [np.where(dist == 0, norm, 0.0)]
        for h in range(1, hops + 1):
            at_hop = dist == h
            parts.append(np.where(at_hop & farther, norm, 0.0))
            parts.append(np.where(at_hop & ~farther, norm, 0.0))
    return np.stack(parts).astype(np.float32)
