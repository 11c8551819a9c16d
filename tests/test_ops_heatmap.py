"""Heatmap ops: the torch backend and public ops vs the numpy PYSKL loop and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pymg.ops as ops
from pymg.ops import backend_torch, pyskl_numpy
from pymg.ops.backend_torch import TorchBackend

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_native = pytest.mark.skipif(not ops.native_available(), reason="needs pymg._C")

COCO17_LIMBS = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
                (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12)]  # fmt: skip
TWO_S2 = 2 * 0.6**2  # 2 sigma^2 for the default sigma


def random_pose(
    seed: int, n: int, m: int, t: int, v: int, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [N, M, T, V, 2] partly off the image and scores [N, M, T, V] with zeros and
    borderline values; a few points exactly at x = -2.5 and on integer coordinates."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    kp = torch.rand(n, m, t, v, 2, generator=g) * torch.tensor([w + 8.0, h + 8.0]) - 4.0
    sc = torch.rand(n, m, t, v, generator=g)
    pick = torch.rand(n, m, t, v, generator=g)
    sc[pick < 0.15] = 0.0
    sc[(pick >= 0.15) & (pick < 0.2)] = 1e-3  # float32(1e-3) > 1e-3: kept with the default eps
    sc[(pick >= 0.2) & (pick < 0.25)] = 1e-4  # float32(1e-4) < 1e-4: skipped with eps=1e-4
    kp[..., 0][pick > 0.95] = -2.5
    kp[..., 1][(pick > 0.9) & (pick < 0.93)] = torch.round(kp[..., 1][(pick > 0.9) & (pick < 0.93)])
    return kp, sc


def random_limbs(seed: int, v: int, count: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(a), int(b)) for a, b in rng.integers(0, v, size=(count, 2))]


def imigue41_limbs() -> list[tuple[int, int]]:
    try:
        from pymg.topology import get_layout
    except ImportError:
        return random_limbs(41, 41, 45)
    return [tuple(p) for p in get_layout("imigue41").limbs]  # type: ignore[misc]


def oracle_joints(kp: torch.Tensor, sc: torch.Tensor, size, **kw) -> torch.Tensor:
    return torch.from_numpy(pyskl_numpy.batch_joint_heatmaps(kp.numpy(), sc.numpy(), size, **kw))


def oracle_limbs(kp: torch.Tensor, sc: torch.Tensor, size, limbs, **kw) -> torch.Tensor:
    out = pyskl_numpy.batch_limb_heatmaps(kp.numpy(), sc.numpy(), size, limbs, **kw)
    return torch.from_numpy(out)


@pytest.mark.parametrize(
    ("seed", "m", "t", "v", "size", "sigma", "eps"),
    [
        (0, 1, 3, 17, (20, 24), 0.6, 1e-3),
        (1, 2, 2, 17, (17, 13), 0.6, 1e-4),
        (2, 3, 1, 9, (16, 16), 1.1, 1e-3),
        (3, 2, 2, 41, (12, 14), 0.6, 1e-3),
    ],
)
def test_reference_matches_numpy_loop(seed, m, t, v, size, sigma, eps) -> None:
    kp, sc = random_pose(seed, 2, m, t, v, size)
    limbs = COCO17_LIMBS if v == 17 else (imigue41_limbs() if v == 41 else random_limbs(seed, v, 7))
    got_j = ops.joint_heatmaps(kp, sc, size=size, sigma=sigma, eps=eps, impl="reference")
    got_l = ops.limb_heatmaps(
        kp, sc, limbs=limbs, size=size, sigma=sigma, eps=eps, impl="reference"
    )
    want_j = oracle_joints(kp, sc, size, sigma=sigma, eps=eps)
    want_l = oracle_limbs(kp, sc, size, limbs, sigma=sigma, eps=eps)
    assert got_j.shape == (2, v, t, *size) and got_j.dtype == torch.float32
    assert got_l.shape == (2, len(limbs), t, *size)
    torch.testing.assert_close(got_j, want_j, atol=1e-5, rtol=0)
    torch.testing.assert_close(got_l, want_l, atol=1e-5, rtol=0)
    # pixels outside every window are exactly zero in both
    assert torch.equal(got_j == 0, want_j == 0)


def test_numpy_loop_single_sample_layout() -> None:
    kp, sc = random_pose(5, 1, 2, 3, 5, (9, 11))
    single = pyskl_numpy.joint_heatmaps(kp[0].numpy(), sc[0].numpy(), (9, 11))
    assert single.shape == (3, 5, 9, 11)  # PYSKL [T, C, H, W]
    batched = pyskl_numpy.batch_joint_heatmaps(kp.numpy(), sc.numpy(), (9, 11))
    np.testing.assert_array_equal(batched[0], single.transpose(1, 0, 2, 3))


def test_asymmetric_window_and_trunc() -> None:
    kp = torch.tensor([[10.0, 10.0], [-2.5, 5.0], [-2.9, 5.0], [4.0, -2.5]]).view(1, 1, 1, 4, 2)
    h = ops.joint_heatmaps(kp, size=(20, 20), impl="reference")[0, :, 0]
    row = h[0, 10]
    assert torch.nonzero(row).flatten().tolist() == [8, 9, 10, 11]  # mx=10.0 covers x = 8..11
    for x in range(8, 12):
        assert row[x].item() == pytest.approx(math.exp(-((x - 10) ** 2) / TWO_S2), rel=1e-6)
    assert torch.nonzero(h[0, :, 10]).flatten().tolist() == [8, 9, 10, 11]
    # trunc(-2.5 + 1.8) = 0 -> column 0 is lit; trunc(-2.9 + 1.8) = -1 -> nothing
    assert torch.nonzero(h[1]).tolist() == [[y, 0] for y in range(3, 7)]
    assert h[1, 5, 0].item() == pytest.approx(math.exp(-(2.5**2) / TWO_S2), rel=1e-6)
    assert not h[2].any()
    assert torch.nonzero(h[3]).tolist() == [[0, x] for x in range(2, 6)]


def test_scores_scale_eps_skip_and_max_combine() -> None:
    kp = torch.tensor([[5.0, 5.0]]).view(1, 1, 1, 1, 2).repeat(1, 3, 1, 1, 1)
    sc = torch.tensor([0.3, 0.8, 0.5]).view(1, 3, 1, 1)
    h = ops.joint_heatmaps(kp, sc, size=(11, 11), impl="reference")
    assert h[0, 0, 0, 5, 5].item() == pytest.approx(0.8)  # max, not sum
    assert h[0, 0, 0, 5, 6].item() == pytest.approx(0.8 * math.exp(-1 / TWO_S2), rel=1e-6)
    tiny = torch.full((1, 1, 1, 1), 1e-4)  # float32(1e-4) < 1e-4 in float64
    assert not ops.joint_heatmaps(kp[:, :1], tiny, size=(11, 11), eps=1e-4, impl="reference").any()
    assert ops.joint_heatmaps(kp[:, :1], tiny, size=(11, 11), eps=0.5e-4, impl="reference").any()
    kept = torch.full((1, 1, 1, 1), 1e-3)  # float32(1e-3) > 1e-3: kept with the default eps
    assert ops.joint_heatmaps(kp[:, :1], kept, size=(11, 11), impl="reference").any()


def test_missing_points_nan_inf() -> None:
    kp = torch.tensor([[[5.0, 5.0], [float("nan"), 3.0], [3.0, float("inf")]]]).view(1, 1, 1, 3, 2)
    sc = torch.tensor([float("nan"), 1.0, 1.0]).view(1, 1, 1, 3)
    h = ops.joint_heatmaps(kp, sc, size=(8, 8), impl="reference")
    assert torch.isfinite(h).all() and not h.any()
    limbs = ops.limb_heatmaps(kp, None, limbs=[(0, 1), (0, 2), (2, 0)], size=(8, 8))
    assert not limbs.any()
    assert ops.limb_heatmaps(kp, None, limbs=[(0, 0)], size=(8, 8)).any()


@pytest.mark.parametrize("impl", ["reference", "auto"])
def test_huge_and_negative_inputs(impl: str) -> None:
    kp = torch.tensor([[1e30, 3.0], [-1e30, 3.0], [3.0, 4.0], [5.0, 1e20]]).view(1, 1, 1, 4, 2)
    sc = torch.tensor([1.0, 1.0, -0.5, 1.0]).view(1, 1, 1, 4)
    limbs = [(0, 1), (0, 2), (2, 3), (1, 3)]
    assert not ops.joint_heatmaps(kp, sc, size=(7, 7), impl=impl).any()
    got = ops.limb_heatmaps(kp, sc, limbs=limbs, size=(7, 7), impl=impl)
    want = oracle_limbs(kp, sc, (7, 7), limbs)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_limb_hand_values() -> None:
    kp = torch.tensor([[5.0, 5.0], [10.0, 5.0]]).view(1, 1, 1, 2, 2)
    sc = torch.tensor([0.9, 0.6]).view(1, 1, 1, 2)
    h = ops.limb_heatmaps(kp, sc, limbs=[(0, 1)], size=(12, 14), impl="reference")[0, 0, 0]
    assert h[5, 7].item() == pytest.approx(0.6)  # on the segment: min(s_a, s_b)
    assert h[6, 7].item() == pytest.approx(0.6 * math.exp(-1 / TWO_S2), rel=1e-6)
    assert h[5, 11].item() == pytest.approx(0.6 * math.exp(-1 / TWO_S2), rel=1e-6)  # beyond B
    assert h[5, 3].item() == pytest.approx(0.6 * math.exp(-4 / TWO_S2), rel=1e-6)  # before A
    # window: x in [trunc(3.2), trunc(11.8) + 1) = [3, 12), y in [3, 7): asymmetric
    assert h[5, 2].item() == 0.0 and h[5, 12].item() == 0.0
    assert h[3, 7].item() == pytest.approx(0.6 * math.exp(-4 / TWO_S2), rel=1e-6)
    assert h[2, 7].item() == 0.0 and h[7, 7].item() == 0.0


@pytest.mark.parametrize("dx", [0.99999, 0.9999999, 1.0, 1.00001, 0.0])
def test_near_degenerate_limbs(dx: float) -> None:
    kp = torch.tensor([[5.0, 5.0], [5.0 + dx, 5.0]]).view(1, 1, 1, 2, 2)
    sc = torch.tensor([0.9, 0.4]).view(1, 1, 1, 2)
    h = ops.limb_heatmaps(kp, sc, limbs=[(0, 1)], size=(11, 11), impl="reference")
    want = oracle_limbs(kp, sc, (11, 11), [(0, 1)])
    torch.testing.assert_close(h, want, atol=1e-6, rtol=0)
    d2 = (np.float32(5.0 + dx) - np.float32(5.0)) ** 2  # |AB|^2 of the float32 coordinates
    expected_peak = 0.9 if d2 < 1 else 0.4  # degenerate: joint gaussian at A with s_a
    assert h[0, 0, 0, 5, 5].item() == pytest.approx(expected_peak)


def test_t1_and_one_person_missing() -> None:
    kp, sc = random_pose(7, 2, 2, 1, 17, (14, 14))
    sc[0, 1] = 0.0  # second person of sample 0 missing entirely
    got = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=(14, 14), impl="reference")
    torch.testing.assert_close(got, oracle_limbs(kp, sc, (14, 14), COCO17_LIMBS), atol=1e-5, rtol=0)
    single = ops.limb_heatmaps(
        kp[:1, :1], sc[:1, :1], limbs=COCO17_LIMBS, size=(14, 14), impl="reference"
    )
    torch.testing.assert_close(got[:1], single, atol=0, rtol=0)


def test_flip_matches_pyskl_double() -> None:
    kp, sc = random_pose(8, 1, 1, 2, 17, (10, 12))
    perm = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    h = ops.joint_heatmaps(kp, sc, size=(10, 12), impl="reference")
    flipped = ops.flip_heatmaps(h, perm)
    doubled = pyskl_numpy.flip_double(h[0].permute(1, 0, 2, 3).numpy(), perm)
    np.testing.assert_array_equal(flipped[0].permute(1, 0, 2, 3).numpy(), doubled[2:])
    assert flipped[0, 1, 0, 3, 0] == h[0, 2, 0, 3, 11]
    torch.testing.assert_close(ops.flip_heatmaps(flipped, perm), h, atol=0, rtol=0)
    perm_t = torch.tensor(perm)
    torch.testing.assert_close(ops.flip_heatmaps(h, perm_t), flipped, atol=0, rtol=0)


@pytest.mark.parametrize(("dtype", "atol"), [(torch.float16, 1e-3), (torch.bfloat16, 4e-3)])
def test_low_precision_outputs(dtype: torch.dtype, atol: float) -> None:
    kp, sc = random_pose(9, 2, 2, 2, 17, (12, 12))
    full = ops.joint_heatmaps(kp, sc, size=(12, 12), impl="reference")
    low = ops.joint_heatmaps(kp, sc, size=(12, 12), dtype=dtype, impl="reference")
    assert low.dtype == dtype
    torch.testing.assert_close(low.float(), full, atol=atol, rtol=0)
    assert torch.equal(low, full.to(dtype))  # computed in float32, rounded once
    limbs = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=(12, 12), dtype=dtype)
    full_l = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=(12, 12))
    torch.testing.assert_close(limbs.float(), full_l, atol=atol, rtol=0)


def test_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    kp, sc = random_pose(10, 2, 2, 3, 17, (9, 10))
    whole_j = ops.joint_heatmaps(kp, sc, size=(9, 10), impl="reference")
    whole_l = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=(9, 10), impl="reference")
    monkeypatch.setattr(
        backend_torch, "_CHUNK_ELEMENTS", 7 * 90 + 5
    )  # 7 planes per chunk, ragged end
    assert torch.equal(ops.joint_heatmaps(kp, sc, size=(9, 10), impl="reference"), whole_j)
    got = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=(9, 10), impl="reference")
    assert torch.equal(got, whole_l)


def test_noncontiguous_float64_and_determinism() -> None:
    kp, sc = random_pose(11, 2, 2, 3, 5, (8, 9))
    kp_nc = kp.permute(2, 0, 1, 3, 4).contiguous().permute(1, 2, 0, 3, 4).double()
    sc_nc = sc.transpose(0, 1).contiguous().transpose(0, 1)
    assert not kp_nc.is_contiguous() and not sc_nc.is_contiguous()
    limbs = torch.tensor([[0, 1], [1, 2], [3, 4]]).t().contiguous().t()
    for impl in ("auto", "reference"):
        a = ops.limb_heatmaps(kp_nc, sc_nc, limbs=limbs, size=(8, 9), impl=impl)
        b = ops.limb_heatmaps(kp, sc, limbs=[(0, 1), (1, 2), (3, 4)], size=(8, 9), impl=impl)
        assert torch.equal(a, b)
        assert torch.equal(a, ops.limb_heatmaps(kp, sc, limbs=limbs, size=(8, 9), impl=impl))
        j1 = ops.joint_heatmaps(kp_nc, sc_nc, size=(8, 9), impl=impl)
        assert torch.equal(j1, ops.joint_heatmaps(kp, sc, size=(8, 9), impl=impl))


def test_use_impl_forces_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = TorchBackend.joint_heatmaps_into

    def spy(*args: object) -> None:
        calls.append("reference")
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(TorchBackend, "joint_heatmaps_into", spy)
    kp, sc = random_pose(12, 1, 1, 1, 3, (6, 6))
    with ops.use_impl("reference"):
        inside = ops.joint_heatmaps(kp, sc, size=(6, 6))
    assert calls == ["reference"]
    assert torch.equal(inside, ops.joint_heatmaps(kp, sc, size=(6, 6), impl="reference"))


@pytest.mark.native
@needs_native
def test_native_public_ops_match_reference_and_numpy() -> None:
    kp, sc = random_pose(13, 2, 2, 3, 17, (15, 13))
    size = (15, 13)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        nat = ops.joint_heatmaps(kp, sc, size=size, dtype=dtype, impl="native")
        ref = ops.joint_heatmaps(kp, sc, size=size, dtype=dtype, impl="reference")
        torch.testing.assert_close(nat.float(), ref.float(), atol=1e-5, rtol=0)
        nat_l = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=size, dtype=dtype, impl="native")
        ref_l = ops.limb_heatmaps(kp, sc, limbs=COCO17_LIMBS, size=size, dtype=dtype)
        torch.testing.assert_close(nat_l.float(), ref_l.float(), atol=1e-5, rtol=0)
    auto = ops.joint_heatmaps(kp, sc, size=size)
    torch.testing.assert_close(auto, oracle_joints(kp, sc, size), atol=1e-5, rtol=0)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("impl", ["reference", "auto"])
def test_cuda_matches_numpy_loop(impl: str) -> None:
    kp, sc = random_pose(14, 2, 2, 3, 17, (16, 18))
    size = (16, 18)
    dev = torch.device("cuda")
    got_j = ops.joint_heatmaps(kp.to(dev), sc.to(dev), size=size, impl=impl)
    got_l = ops.limb_heatmaps(kp.to(dev), sc.to(dev), limbs=COCO17_LIMBS, size=size, impl=impl)
    assert got_j.device.type == "cuda"
    torch.testing.assert_close(got_j.cpu(), oracle_joints(kp, sc, size), atol=1e-5, rtol=0)
    want_l = oracle_limbs(kp, sc, size, COCO17_LIMBS)
    torch.testing.assert_close(got_l.cpu(), want_l, atol=1e-5, rtol=0)
