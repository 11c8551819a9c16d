"""Tests of pymg.topology.graph: hop distances and ST-GCN partitions vs hand computations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pymg.topology import (
    IMIGUE41,
    Skeleton,
    gcn_edges,
    get_layout,
    graph_partitions,
    hop_distance,
    list_layouts,
)

INF = np.inf


def _skeleton(num: int, limbs: list[tuple[int, int]], center: int) -> Skeleton:
    """A skeleton without mirrored joints: every limb is its own mirror, so any graph is valid."""
    return Skeleton(
        name="g", joints=tuple(f"j{i}" for i in range(num)), limbs=tuple(limbs),
        left_joints=(), right_joints=(), left_limbs=(), right_limbs=(), center=center,
    )  # fmt: skip


CHAIN4 = _skeleton(4, [(0, 1), (1, 2), (2, 3)], center=1)
STAR4 = _skeleton(4, [(0, 1), (0, 2), (0, 3)], center=0)


def test_hop_distance_chain() -> None:
    full = hop_distance(CHAIN4, None)
    expected = np.array([[0, 1, 2, 3], [1, 0, 1, 2], [2, 1, 0, 1], [3, 2, 1, 0]], dtype=float)
    np.testing.assert_array_equal(full, expected)
    capped = hop_distance(CHAIN4, 1)
    np.testing.assert_array_equal(capped, np.where(expected <= 1, expected, INF))
    assert capped.dtype == np.float64
    same = hop_distance(4, max_hop=2, edges=[(0, 1), (1, 2), (2, 3)])
    np.testing.assert_array_equal(same, np.where(expected <= 2, expected, INF))
    np.testing.assert_array_equal(hop_distance(CHAIN4, 0), np.where(expected == 0, 0.0, INF))


def test_hop_distance_disconnected_and_errors() -> None:
    d = hop_distance(3, None, edges=[(0, 1)])
    assert d[0, 1] == 1 and d[0, 2] == INF and d[2, 2] == 0
    with pytest.raises(ValueError, match="edges must be given"):
        hop_distance(3)
    with pytest.raises(ValueError, match="edges must be None when graph is a Skeleton"):
        hop_distance(CHAIN4, edges=[(0, 1)])
    with pytest.raises(ValueError, match=r"edges\[0\] = \(0, 5\) is out of range \[0, 3\)"):
        hop_distance(3, edges=[(0, 5)])
    with pytest.raises(ValueError, match="max_hop must be an int >= 0 or None, got -1"):
        hop_distance(CHAIN4, -1)
    with pytest.raises(ValueError, match="joint count >= 1, got 0"):
        hop_distance(0, edges=[])


def test_spatial_chain_by_hand() -> None:
    # chain 0-1-2-3, center 1: degrees+1 = 2, 3, 3, 2; distances to center 1, 0, 1, 2
    a = graph_partitions(CHAIN4, "spatial")
    assert a.shape == (3, 4, 4) and a.dtype == np.float32
    root = np.diag([1 / 2, 1 / 3, 1 / 3, 1 / 2])
    farther = np.zeros((4, 4))  # [source v, target w], v at least as far from the center as w
    farther[0, 1] = farther[2, 1] = farther[3, 2] = 1 / 3
    closer = np.zeros((4, 4))
    closer[1, 0], closer[1, 2], closer[2, 3] = 1 / 2, 1 / 3, 1 / 2
    np.testing.assert_allclose(a, np.stack([root, farther, closer]), rtol=1e-6)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, rtol=1e-6)


def test_spatial_star_by_hand() -> None:
    a = graph_partitions(STAR4, "spatial")
    np.testing.assert_allclose(a[0], np.diag([1 / 4, 1 / 2, 1 / 2, 1 / 2]), rtol=1e-6)
    expected_in = np.zeros((4, 4))
    expected_in[1:, 0] = 1 / 4  # leaves feed the center: same-or-farther subset
    expected_out = np.zeros((4, 4))
    expected_out[0, 1:] = 1 / 2  # the center feeds each leaf: closer subset
    np.testing.assert_allclose(a[1], expected_in, rtol=1e-6)
    np.testing.assert_allclose(a[2], expected_out, rtol=1e-6)


def test_uniform_and_distance_by_hand() -> None:
    norm = np.array([[1 / 2, 1 / 3, 0, 0], [1 / 2, 1 / 3, 1 / 3, 0],
                     [0, 1 / 3, 1 / 3, 1 / 2], [0, 0, 1 / 3, 1 / 2]])  # fmt: skip
    u = graph_partitions(CHAIN4, "uniform")
    assert u.shape == (1, 4, 4)
    np.testing.assert_allclose(u[0], norm, rtol=1e-6)
    d = graph_partitions(CHAIN4, "distance")
    assert d.shape == (2, 4, 4)
    np.testing.assert_allclose(d[0], np.diag(np.diag(norm)), rtol=1e-6)
    np.testing.assert_allclose(d[1], norm - np.diag(np.diag(norm)), rtol=1e-6)
    d2 = graph_partitions(CHAIN4, "distance", max_hop=2)
    assert d2.shape == (3, 4, 4)
    # joint 2 reaches all 4 joints within 2 hops; 0-3 is 3 hops away
    assert d2[2, 0, 2] == pytest.approx(1 / 4) and d2[2, 0, 3] == 0
    np.testing.assert_allclose(d2.sum(axis=(0, 1)), 1.0, rtol=1e-6)


def _reference_spatial(s: Skeleton, max_hop: int, exact: bool) -> np.ndarray:
    """A loop-by-loop re-statement of ST-GCN's spatial configuration partition."""
    num = s.num_joints
    dist = np.full((num, num), INF)
    adj = np.eye(num)
    for a, b in gcn_edges(s):  # the limbs (COCO: without the hip-hip limb, as PYSKL)
        adj[a, b] = adj[b, a] = 1
    reach = np.eye(num)
    for h in range(num):
        dist[(reach > 0) & (dist == INF)] = h
        reach = reach @ adj
    capped = np.where(dist <= max_hop, dist, INF)
    center_dist = (dist if exact else capped)[:, s.center]
    mask = (capped <= max_hop).astype(float)
    norm = mask / mask.sum(axis=0, keepdims=True)
    parts = [np.zeros((num, num)) for _ in range(2 * max_hop + 1)]
    for v in range(num):
        for w in range(num):
            h = capped[v, w]
            if h == 0:
                parts[0][v, w] = norm[v, w]
            elif h <= max_hop:
                k = 2 * int(h) - 1 if center_dist[v] >= center_dist[w] else 2 * int(h)
                parts[k][v, w] = norm[v, w]
    return np.stack(parts)


@pytest.mark.parametrize("name", list_layouts())
@pytest.mark.parametrize("max_hop", [1, 2])
@pytest.mark.parametrize("exact", [True, False])
def test_spatial_matches_loop_reference(name: str, max_hop: int, exact: bool) -> None:
    s = get_layout(name)
    a = graph_partitions(s, "spatial", max_hop, exact_center_distance=exact)
    assert a.shape == (2 * max_hop + 1, s.num_joints, s.num_joints)
    np.testing.assert_allclose(a, _reference_spatial(s, max_hop, exact), rtol=1e-6, atol=0)
    np.testing.assert_allclose(a.sum(axis=(0, 1)), 1.0, rtol=1e-5)
    u = graph_partitions(s, "uniform", max_hop)
    np.testing.assert_allclose(u[0], a.sum(axis=0), rtol=1e-5, atol=1e-7)
    # the partition commutes with the left/right flip (the center is central)
    perm = list(s.joint_flip_perm)
    np.testing.assert_array_equal(a[:, perm][:, :, perm], a)


def test_gcn_edges_orientation_and_coco_graph() -> None:
    for name in list_layouts():
        s = get_layout(name)
        edges = gcn_edges(s)
        undirected = {frozenset(e) for e in edges}
        if name.startswith("coco17"):  # PYSKL's coco graph has no hip-hip edge
            assert undirected == {frozenset(limb) for limb in s.limbs} - {frozenset((11, 12))}
        else:
            assert undirected == {frozenset(limb) for limb in s.limbs}
        to_center = hop_distance(s.num_joints, None, edges=edges)[:, s.center]
        assert all(to_center[child] >= to_center[parent] for child, parent in edges)
    # a custom layout named like a shipped one keeps all its limbs
    odd = replace(_skeleton(3, [(1, 0), (1, 2)], center=1), name="coco17")
    assert gcn_edges(odd) == ((0, 1), (2, 1))  # oriented (child, parent)


def test_exact_vs_capped_center_distance_differ_far_from_center() -> None:
    chain = _skeleton(5, [(0, 1), (1, 2), (2, 3), (3, 4)], center=0)
    exact = graph_partitions(chain, exact_center_distance=True)
    np.testing.assert_array_equal(graph_partitions(chain, "spatial_exact"), exact)
    capped = graph_partitions(chain)  # the default: capped, as ST-GCN / PYSKL
    # joint 2 feeds joint 3: 2 is closer to the center (2 < 3 hops), but capped both are inf
    assert exact[2, 2, 3] == pytest.approx(1 / 3) and exact[1, 2, 3] == 0
    assert capped[1, 2, 3] == pytest.approx(1 / 3) and capped[2, 2, 3] == 0
    np.testing.assert_array_equal(exact.sum(0), capped.sum(0))


def test_partition_errors() -> None:
    with pytest.raises(ValueError, match=r"strategy must be one of .*got 'bogus'"):
        graph_partitions(IMIGUE41, "bogus")
    with pytest.raises(ValueError, match="max_hop must be an int >= 1, got 0"):
        graph_partitions(IMIGUE41, "spatial", 0)
    with pytest.raises(TypeError, match="skeleton must be a Skeleton, got str"):
        graph_partitions("imigue41")  # type: ignore[arg-type]
