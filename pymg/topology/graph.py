"""Graph views of a skeleton: hop distances and ST-GCN adjacency partitions."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from pymg.topology.skeleton import Skeleton, _as_int, _pair_tuple

__all__ = ["PARTITION_STRATEGIES", "graph_partitions", "hop_distance"]

PARTITION_STRATEGIES = ("uniform", "distance", "spatial")


def _graph(graph: Skeleton | int, edges: Sequence[tuple[int, int]] | None) -> tuple[int, list]:
    if isinstance(graph, Skeleton):
        if edges is not None:
            raise ValueError("edges must be None when graph is a Skeleton (its limbs are used)")
        return graph.num_joints, list(graph.limbs)
    num = _as_int(graph, "graph")
    if num < 1:
        raise ValueError(f"graph must be a Skeleton or a joint count >= 1, got {num}")
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
        hops = _as_int(max_hop, "max_hop")
        if hops < 0:
            raise ValueError(f"max_hop must be >= 0 or None, got {hops}")
        dist[dist > hops] = np.inf
    return dist


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
    exact_center_distance: bool = True,
) -> np.ndarray:
    """ST-GCN adjacency partitions (Yan et al. 2018) of a skeleton.

    ``A[k, v, w]`` is the weight with which joint ``v`` feeds joint ``w`` in subset ``k``
    (``out[..., w] = sum_k sum_v x_k[..., v] * A[k, v, w]``, the ST-GCN/PYSKL orientation). The
    adjacency ``hop(v, w) <= max_hop`` (self loops included) is column-normalised, so every
    column of ``A.sum(0)`` sums to 1 (``1 / (deg(w) + 1)`` per entry for ``max_hop=1``).

    Strategies:
        * ``"uniform"``: K = 1, the whole normalised adjacency.
        * ``"distance"``: K = max_hop + 1, subset ``h`` keeps the pairs at hop distance ``h``.
        * ``"spatial"``: K = 2 * max_hop + 1: the joint itself; then per hop ``h >= 1`` the
          neighbours ``v`` of ``w`` at the same or a greater distance from the center than ``w``
          ("centrifugal"), and those closer to the center ("centripetal").

    Args:
        skeleton: the layout; its ``center`` drives the spatial partition.
        strategy: ``"spatial"``, ``"uniform"`` or ``"distance"``.
        max_hop: neighbourhood radius (>= 1).
        exact_center_distance: measure distances to the center over the whole graph. ``False``
            reproduces ST-GCN/PYSKL exactly, whose center distances are capped at ``max_hop``
            (joints farther away count as ``inf`` and so "equal" to each other).

    Returns:
        float32 array [K, V, V].
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton must be a Skeleton, got {type(skeleton).__name__}")
    if strategy not in PARTITION_STRATEGIES:
        raise ValueError(f"strategy must be one of {PARTITION_STRATEGIES}, got {strategy!r}")
    hops = _as_int(max_hop, "max_hop")
    if hops < 1:
        raise ValueError(f"max_hop must be >= 1, got {hops}")
    dist = hop_distance(skeleton, max_hop=hops)
    norm = _normalize_columns((dist <= hops).astype(np.float64))
    if strategy == "uniform":
        parts = [norm]
    elif strategy == "distance":
        parts = [np.where(dist == h, norm, 0.0) for h in range(hops + 1)]
    else:
        to_center = (hop_distance(skeleton, None) if exact_center_distance else dist)[
            :, skeleton.center
        ]
        # farther[v, w]: source v is at least as far from the center as target w.
        farther = to_center[:, None] >= to_center[None, :]
        parts = [np.where(dist == 0, norm, 0.0)]
        for h in range(1, hops + 1):
            at_hop = dist == h
            parts.append(np.where(at_hop & farther, norm, 0.0))
            parts.append(np.where(at_hop & ~farther, norm, 0.0))
    return np.stack(parts).astype(np.float32)
