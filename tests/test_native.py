"""The native CPU kernels of pymg._C against independent references.

Oracles: pymg.ops.pyskl_numpy (a per-point numpy loop of PYSKL's rules), the torch backend
(pymg.ops.backend_torch), a per-frame python loop of the gather rules written here, and
hand-computed values. The kernels are called through pymg.ops.backend_native.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from pymg import _native
from pymg.ops import WINDOW_SIGMAS, pyskl_numpy
from pymg.ops.backend_native import NATIVE
from pymg.ops.backend_torch import TORCH

pytestmark = [
    pytest.mark.native,
    pytest.mark.skipif(
        not _native.available(), reason=f"pymg._C not built: {_native.load_error()}"
    ),
]

COCO17_LIMBS = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
                (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12)]  # fmt: skip
TOL = dict(atol=1e-5, rtol=0.0)


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def random_points(
    seed: int, n: int, m: int, t: int, v: int, size: tuple[int, int], eps: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [N, M, T, V, 2] spread over and around the image, with adversarial entries."""
    g = np.random.default_rng(seed)
    h, w = size
    kp = np.stack([g.uniform(-4, w + 4, (n, m, t, v)), g.uniform(-4, h + 4, (n, m, t, v))], -1)
    kp = kp.astype(np.float32)
    sc = g.uniform(0.0, 1.5, (n, m, t, v)).astype(np.float32)
    flat_kp, flat_sc = kp.reshape(-1, 2), sc.reshape(-1)
    idx = g.permutation(flat_sc.size)
    k = max(1, flat_sc.size // 12)
    flat_kp[idx[:k], g.integers(0, 2, k)] = np.nan  # missing points
    flat_kp[idx[k : 2 * k]] = np.round(flat_kp[idx[k : 2 * k]])  # integer centres
    flat_kp[idx[2 * k : 3 * k]] += np.float32(0.5) - flat_kp[idx[2 * k : 3 * k]] % 1  # half pixels
    flat_sc[idx[3 * k : 4 * k]] = 0.0
    flat_sc[idx[4 * k : 5 * k]] = np.float32(eps)  # borderline: float32(eps) may be < eps
    flat_kp[idx[5 * k : 6 * k], 0] = np.float32(-2.5)  # trunc toward zero still lights column 0
    return torch.from_numpy(kp), torch.from_numpy(sc)


def native_joint(kp, sc, size, sigma=0.6, eps=1e-3, dtype=torch.float32) -> torch.Tensor:
    n, _, t, v, _ = kp.shape
    # NaN-filled: the kernel must write every element
    out = torch.full((n, v, t, *size), float("nan"), dtype=dtype)
    NATIVE.joint_heatmaps_into(kp.contiguous(), sc.contiguous(), out, sigma, eps)
    return out


def native_limb(kp, sc, limbs, size, sigma=0.6, eps=1e-3, dtype=torch.float32) -> torch.Tensor:
    n, _, t, _, _ = kp.shape
    out = torch.full((n, len(limbs), t, *size), float("nan"), dtype=dtype)
    lt = torch.tensor(limbs, dtype=torch.int32).reshape(-1, 2)
    NATIVE.limb_heatmaps_into(kp.contiguous(), sc.contiguous(), lt, out, sigma, eps)
    return out


@pytest.mark.parametrize(("seed", "m", "v"), [(0, 1, 17), (1, 2, 17), (2, 3, 5), (3, 1, 41)])
def test_joint_matches_numpy_loop(seed: int, m: int, v: int) -> None:
    size = (20, 27)
    kp, sc = random_points(seed, 2, m, 3, v, size)
    expected = pyskl_numpy.batch_joint_heatmaps(kp.numpy(), sc.numpy(), size, sigma=0.6, eps=1e-3)
    got = native_joint(kp, sc, size)
    assert got.shape == (2, v, 3, *size)
    torch.testing.assert_close(got, torch.from_numpy(expected), **TOL)


@pytest.mark.parametrize(("seed", "m", "sigma", "eps"), [(4, 1, 0.6, 1e-3), (5, 3, 1.3, 1e-4)])
def test_limb_matches_numpy_loop(seed: int, m: int, sigma: float, eps: float) -> None:
    size = (24, 19)
    kp, sc = random_points(seed, 2, m, 2, 17, size, eps=eps)
    # near-degenerate limbs: |AB|^2 just below, at and above 1
    kp[0, 0, 0, 1] = kp[0, 0, 0, 0] + torch.tensor([0.99, 0.0])
    kp[0, 0, 0, 2] = kp[0, 0, 0, 0] + torch.tensor([0.6, 0.8])
    kp[0, 0, 1, 1] = kp[0, 0, 1, 0] + torch.tensor([1.01, 0.0])
    kp[1, 0, 0, 0] = kp[1, 0, 0, 5] = torch.tensor([5.0, 6.0])  # A == B
    sc[0, 0, :, :3] = 1.0
    sc[1, 0, 0, [0, 5]] = torch.tensor([0.3, 0.9])
    expected = pyskl_numpy.batch_limb_heatmaps(
        kp.numpy(), sc.numpy(), size, COCO17_LIMBS, sigma=sigma, eps=eps
    )
    got = native_limb(kp, sc, COCO17_LIMBS, size, sigma=sigma, eps=eps)
    assert got.shape == (2, 17, 2, *size)
    torch.testing.assert_close(got, torch.from_numpy(expected), **TOL)
    # the degenerate A == B limb is a joint gaussian at A with A's score (0.3), not min(0.3, 0.9)
    assert got[1, 4, 0, 6, 5].item() == pytest.approx(0.3, abs=1e-6)


def test_limbs_v41_t1_match_numpy_loop() -> None:
    size = (16, 16)
    kp, sc = random_points(6, 1, 2, 1, 41, size)
    g = np.random.default_rng(6)
    limbs = [tuple(int(i) for i in g.choice(41, 2, replace=False)) for _ in range(30)]
    expected = pyskl_numpy.batch_limb_heatmaps(kp.numpy(), sc.numpy(), size, limbs, eps=1e-3)
    torch.testing.assert_close(native_limb(kp, sc, limbs, size), torch.from_numpy(expected), **TOL)


def test_matches_torch_backend() -> None:
    size = (18, 22)
    kp, sc = random_points(7, 2, 2, 4, 17, size)
    ref_j = torch.empty(2, 17, 4, *size)
    TORCH.joint_heatmaps_into(kp, sc, ref_j, 0.6, 1e-3)
    torch.testing.assert_close(native_joint(kp, sc, size), ref_j, **TOL)
    ref_l = torch.empty(2, len(COCO17_LIMBS), 4, *size)
    table = torch.tensor(COCO17_LIMBS, dtype=torch.int32)
    TORCH.limb_heatmaps_into(kp, sc, table, ref_l, 0.6, 1e-3)
    torch.testing.assert_close(native_limb(kp, sc, COCO17_LIMBS, size), ref_l, **TOL)
    positions = torch.rand(2, 3, 7) * 6.0 - 0.5
    lengths = torch.tensor([4, 3])
    for mode in ("linear", "nearest"):
        got = native_gather(kp, sc, lengths, positions, mode)
        want = (torch.empty_like(got[0]), torch.empty_like(got[1]))
        TORCH.gather_frames_into(kp, sc, lengths, positions, *want, mode, 1e-3)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0, equal_nan=True)


def test_joint_hand_values() -> None:
    """mx = 10.0 lights x = 8..11 only (asymmetric window); values are exp(-d^2 / 0.72) * s."""
    kp = torch.zeros(1, 1, 1, 1, 2)
    kp[..., 0], kp[..., 1] = 10.0, 3.0
    sc = torch.full((1, 1, 1, 1), 0.5)
    out = native_joint(kp, sc, (8, 16))[0, 0, 0]
    lit_cols = torch.nonzero(out[3] > 0).flatten().tolist()
    assert lit_cols == [8, 9, 10, 11]
    assert torch.count_nonzero(out[:, 12:]) == 0
    assert out[3, 8].item() == pytest.approx(0.5 * math.exp(-4 / 0.72), rel=1e-6)
    assert out[4, 11].item() == pytest.approx(0.5 * math.exp(-2 / 0.72), rel=1e-6)


def test_borderline_score_is_skipped_in_double() -> None:
    kp = torch.full((1, 1, 1, 1, 2), 4.0)
    sc = torch.full((1, 1, 1, 1), 1e-4)  # float32(1e-4) < 1e-4 in double
    assert torch.count_nonzero(native_joint(kp, sc, (8, 8), eps=1e-4)) == 0
    assert torch.count_nonzero(native_joint(kp, sc, (8, 8), eps=9.9e-5)) > 0


def test_huge_coordinates_give_finite_maps() -> None:
    """Overflowing distances (|AB|^2 = inf) must not leak NaN/inf into the maps."""
    kp = torch.tensor([[3.0, 4.0], [1e20, 5.0], [-3e38, 3e38], [5.0, -1e30]]).reshape(1, 1, 1, 4, 2)
    sc = torch.ones(1, 1, 1, 4)
    limbs = [(0, 1), (0, 2), (1, 2), (3, 0)]
    for out in (native_joint(kp, sc, (8, 8)), native_limb(kp, sc, limbs, (8, 8))):
        assert torch.isfinite(out).all()
    assert native_joint(kp, sc, (8, 8))[0, 0, 0, 4, 3].item() == pytest.approx(1.0)


def test_persons_combine_by_max() -> None:
    kp = torch.tensor([[5.0, 5.0], [5.0, 5.0]]).reshape(1, 2, 1, 1, 2)
    sc = torch.tensor([0.4, 0.7]).reshape(1, 2, 1, 1)
    out = native_joint(kp, sc, (10, 10))
    assert out[0, 0, 0, 5, 5].item() == pytest.approx(0.7, abs=1e-7)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_outputs_equal_float32_cast(dtype: torch.dtype) -> None:
    size = (32, 32)
    kp, sc = random_points(8, 2, 2, 3, 17, size)
    sc = sc * 3.0  # also values above 1
    ref_j = native_joint(kp, sc, size, sigma=2.0)
    assert torch.equal(native_joint(kp, sc, size, sigma=2.0, dtype=dtype), ref_j.to(dtype))
    ref_l = native_limb(kp, sc, COCO17_LIMBS, size, sigma=2.0)
    assert torch.equal(
        native_limb(kp, sc, COCO17_LIMBS, size, sigma=2.0, dtype=dtype), ref_l.to(dtype)
    )


def test_half_conversion_of_special_values() -> None:
    """Subnormal, tie and overflow cases of the kernel's float -> fp16/bf16 rounding."""
    values = [65504.0, 65519.0, 65520.0, 7e4, 2.0**-25, 1.5 * 2.0**-24, 2.0**-14, 1 + 2.0**-11,
              3e-6]  # fmt: skip
    for i, s in enumerate(values):
        kp = torch.full((1, 1, 1, 1, 2), 2.0)
        sc = torch.full((1, 1, 1, 1), s)
        ref = native_joint(kp, sc, (5, 5))
        for dtype in (torch.float16, torch.bfloat16):
            got = native_joint(kp, sc, (5, 5), dtype=dtype)
            assert torch.equal(got, ref.to(dtype)), (i, s, dtype)


def test_portable_half_rounding_matches_torch() -> None:
    """The software float16/bfloat16 rounding (used by the CUDA kernels) on every kind of float."""
    from pymg import _C

    g = torch.Generator().manual_seed(0)
    bits = torch.randint(-(2**31), 2**31 - 1, (200_000,), generator=g, dtype=torch.int64)
    x = bits.to(torch.int32).view(torch.float32)  # all exponents, subnormals, inf, NaN
    x = torch.cat([x, torch.rand(50_000, generator=g) * 2.0**-20, torch.tensor([65519.0, 65520.0])])
    x = x[~torch.isnan(x)]  # NaN payload bits differ by convention; NaN itself is checked below
    for dtype, code in ((torch.float16, _C.DTYPE_FLOAT16), (torch.bfloat16, _C.DTYPE_BFLOAT16)):
        out = torch.empty(x.numel(), dtype=torch.int16)
        _C._convert_floats(x.data_ptr(), out.data_ptr(), x.numel(), code)
        assert torch.equal(out, x.to(dtype).view(torch.int16)), dtype
        nan = torch.tensor([float("nan")])
        _C._convert_floats(nan.data_ptr(), out.data_ptr(), 1, code)
        assert torch.isnan(out[:1].view(dtype)).all()


def test_threads_give_identical_results() -> None:
    size = (40, 40)
    kp, sc = random_points(9, 3, 2, 8, 17, size)
    with num_threads(1):
        j1, l1 = native_joint(kp, sc, size), native_limb(kp, sc, COCO17_LIMBS, size)
    with num_threads(2):
        j2, l2 = native_joint(kp, sc, size), native_limb(kp, sc, COCO17_LIMBS, size)
    assert torch.equal(j1, j2)
    assert torch.equal(l1, l2)


class _HeatmapDataset(torch.utils.data.Dataset):
    def __init__(self, kp: torch.Tensor, sc: torch.Tensor) -> None:
        self.kp, self.sc = kp, sc

    def __len__(self) -> int:
        return self.kp.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor:
        return native_joint(self.kp[i : i + 1], self.sc[i : i + 1], (16, 16))[0]


# python >= 3.12 warns about fork in a process with threads
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_forked_dataloader_workers_do_not_hang() -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("fork start method unavailable")
    kp, sc = random_points(10, 6, 1, 4, 17, (16, 16))
    with num_threads(2):
        expected = native_joint(kp, sc, (16, 16))  # warms the parent's OpenMP pool before forking
    loader = torch.utils.data.DataLoader(
        _HeatmapDataset(kp, sc),
        batch_size=2,
        num_workers=2,
        multiprocessing_context="fork",
        timeout=60,
    )
    got = torch.cat(list(loader))
    assert torch.equal(got, expected)


def gather_loop(kp, sc, lengths, positions, mode: str, eps: float):
    """Per-frame python loop of the gather rules -> (kp [N*K, M, T2, V, 2], sc [N*K, M, T2, V])."""
    n_, m_, t_, v_, _ = kp.shape
    k_, t2_ = positions.shape[1:]
    out_kp = np.zeros((n_ * k_, m_, t2_, v_, 2), np.float32)
    out_sc = np.zeros((n_ * k_, m_, t2_, v_), np.float32)

    def ok(x, s) -> bool:
        return bool(np.all(np.isfinite(x))) and float(s) >= eps

    for n in range(n_):
        length = min(int(lengths[n]), t_)
        for k in range(k_):
            for j in range(t2_):
                p = np.float32(positions[n, k, j])
                if not (p >= 0 and float(p) < length):
                    continue  # padding: zeros
                if mode == "nearest":
                    i0 = i1 = min(math.floor(p + np.float32(0.5)), length - 1)
                else:
                    i0 = math.floor(p)
                    i1 = min(i0 + 1, length - 1)
                w = np.float32(p - np.float32(i0)) if i1 != i0 else np.float32(0)
                for m in range(m_):
                    for v in range(v_):
                        a, b = kp[n, m, i0, v], kp[n, m, i1, v]
                        sa, sb = sc[n, m, i0, v], sc[n, m, i1, v]
                        both = ok(a, sa) and ok(b, sb)
                        dst = (n * k_ + k, m, j, v)
                        if w == 0 or (not both and w < 0.5):
                            out_kp[dst], out_sc[dst] = a, sa
                        elif not both:
                            out_kp[dst], out_sc[dst] = b, sb
                        else:
                            out_kp[dst] = (np.float32(1) - w) * a + w * b
                            out_sc[dst] = (np.float32(1) - w) * sa + w * sb
    return out_kp, out_sc


def native_gather(kp, sc, lengths, positions, mode: str, eps: float = 1e-3):
    n, m, _, v, _ = kp.shape
    k, t2 = positions.shape[1:]
    out_kp = torch.full((n * k, m, t2, v, 2), float("nan"))
    out_sc = torch.full((n * k, m, t2, v), float("nan"))
    NATIVE.gather_frames_into(kp, sc, lengths, positions, out_kp, out_sc, mode, eps)
    return out_kp, out_sc


@pytest.mark.parametrize(("mode", "name"), [("linear", "linear"), ("nearest", "nearest")])
@pytest.mark.parametrize("seed", [0, 1])
def test_gather_frames_matches_loop(mode: int, name: str, seed: int) -> None:
    g = np.random.default_rng(seed)
    n, m, t, v, k, t2 = 3, 2, 9, 5, 2, 12
    kp = g.uniform(0, 50, (n, m, t, v, 2)).astype(np.float32)
    sc = g.uniform(0, 1, (n, m, t, v)).astype(np.float32)
    sc[g.random(sc.shape) < 0.2] = 0.0  # missing points
    kp[g.random(sc.shape) < 0.05] = np.nan
    lengths = np.array([9, 4, 1], np.int64)
    positions = g.uniform(-1.5, 10.0, (n, k, t2)).astype(np.float32)
    positions[0, 0, :6] = [0.0, 0.5, 1.5, 2.25, 8.0, 8.7]  # ties, exact frames, past the last frame
    positions[1, 1, :3] = [3.5, 3.999, np.nan]
    exp_kp, exp_sc = gather_loop(kp, sc, lengths, positions, name, 1e-3)
    got_kp, got_sc = native_gather(*map(torch.from_numpy, (kp, sc, lengths, positions)), mode)
    torch.testing.assert_close(got_kp, torch.from_numpy(exp_kp), atol=1e-5, rtol=0, equal_nan=True)
    torch.testing.assert_close(got_sc, torch.from_numpy(exp_sc), atol=1e-6, rtol=0)


def test_gather_hand_values() -> None:
    kp = torch.tensor([[0.0, 0.0], [10.0, 20.0], [20.0, 40.0]]).reshape(1, 1, 3, 1, 2)
    sc = torch.tensor([1.0, 1.0, 0.0]).reshape(1, 1, 3, 1)  # frame 2 is missing
    pos = torch.tensor([[[0.25, 1.4, 1.6, 2.5, -0.1, 3.0]]])
    lengths = torch.tensor([3])
    out_kp, out_sc = native_gather(kp, sc, lengths, pos, "linear")
    assert out_kp[0, 0, :, 0].tolist() == [[2.5, 5.0], [10.0, 20.0], [20.0, 40.0], [20.0, 40.0],
                                           [0.0, 0.0], [0.0, 0.0]]  # fmt: skip
    assert out_sc[0, 0, :, 0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    out_kp, _ = native_gather(kp, sc, lengths, torch.tensor([[[0.5, 1.49]]]), "nearest")
    assert out_kp[0, 0, :, 0].tolist() == [[10.0, 20.0], [10.0, 20.0]]  # floor(p + 0.5)


def test_bad_shape_arguments_raise_value_error() -> None:
    from pymg import _C

    args = dict(keypoints=1, scores=1, out=1, N=1, M=1, T=1, V=1, H=4, W=4, sigma=0.6,
                window_sigmas=WINDOW_SIGMAS, eps=1e-3, dtype=0, device=-1, stream=0,
                num_threads=1)  # fmt: skip
    for key, value, match in [("N", -1, "N must be >= 0"), ("T", 0, "T must be >= 1"),
                              ("W", 0, "W must be >= 1"),
                              ("dtype", 7, "dtype must be"), ("num_threads", 0, "num_threads"),
                              ("out", 0, "out is a null pointer"), ("device", -2, "device must be"),
                              ("N", 2**61, "too large"), ("H", 2**31, "H and W")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            _C.joint_heatmaps(**{**args, key: value})
    limbs = torch.tensor([[0, 3]], dtype=torch.int32)
    with pytest.raises(ValueError, match=r"limbs\[0\] = \(0, 3\).*V=2"):
        _C.limb_heatmaps(
            1, 1, limbs.data_ptr(), 1, 1, 1, 1, 1, 2, 4, 4, 0.6, 3.0, 1e-3, 0, -1, 0, 1
        )
    with pytest.raises(ValueError, match="mode must be"):
        _C.gather_frames(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 1e-3, -1, 0, 1)


def test_launchers_check_tensors() -> None:
    kp, sc = torch.zeros(1, 1, 2, 3, 2), torch.zeros(1, 1, 2, 3)
    with pytest.raises(TypeError, match=r"out must be one of \(torch.float32"):
        NATIVE.joint_heatmaps_into(
            kp, sc, torch.empty(1, 3, 2, 4, 4, dtype=torch.float64), 0.6, 1e-3
        )
    with pytest.raises(ValueError, match=r"out must have shape \(1, 3, 2, 4, 4\)"):
        NATIVE.joint_heatmaps_into(kp, sc, torch.empty(1, 2, 2, 4, 4), 0.6, 1e-3)
    with pytest.raises(TypeError, match="sc must have dtype torch.float32"):
        NATIVE.joint_heatmaps_into(kp, sc.double(), torch.empty(1, 3, 2, 4, 4), 0.6, 1e-3)
    with pytest.raises(ValueError, match="out must be contiguous"):
        NATIVE.joint_heatmaps_into(kp, sc, torch.empty(1, 3, 2, 4, 8)[..., ::2], 0.6, 1e-3)
    with pytest.raises(TypeError, match="limbs must have dtype torch.int32"):
        limbs = torch.tensor([[0, 1]])
        NATIVE.limb_heatmaps_into(kp, sc, limbs, torch.empty(1, 1, 2, 4, 4), 0.6, 1e-3)


def test_build_facts() -> None:
    import pymg
    from pymg import _C
    from pymg.ops import GATHER_MODES, HEATMAP_DTYPES
    from pymg.ops.backend_native import dtype_code, gather_mode_code

    info = pymg.build_info()
    assert info["native_loaded"] is True and info["native_error"] is None
    assert info["version"] == pymg.__version__ == _C.__version__
    assert info["cuda_compiled"] == bool(_C.cuda_compiled)
    assert info["cuda_available"] == torch.cuda.is_available()
    # every dtype and mode of pymg.ops has a kernel code, defined in C++ only
    codes = [dtype_code(d) for d in HEATMAP_DTYPES] + [gather_mode_code(m) for m in GATHER_MODES]
    assert codes == [_C.DTYPE_FLOAT32, _C.DTYPE_FLOAT16, _C.DTYPE_BFLOAT16, _C.GATHER_LINEAR,
                     _C.GATHER_NEAREST]  # fmt: skip
    assert len(set(codes[:3])) == 3 and len(set(codes[3:])) == 2
    assert not hasattr(_C, "WINDOW_SIGMAS")  # passed with every launch instead
    if not torch.cuda.is_available():
        assert _native.cuda_device_count() == 0  # no crash without a driver or device
        assert _native.cuda_usable() is False


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-device error path")
def test_cuda_launch_without_device_raises_runtime_error() -> None:
    from pymg import _C

    if not _C.cuda_compiled:
        match = "built without CUDA"
    else:
        match = "pymg CUDA error in .*cuda"
    with pytest.raises(RuntimeError, match=match):
        _C.joint_heatmaps(1, 1, 1, 1, 1, 1, 1, 4, 4, 0.6, 3.0, 1e-3, 0, 0, 0, 1)


def test_timing_helper_rows_and_table() -> None:
    from pymg.ops import timing

    kp, sc = timing.synthetic_keypoints("coco17", 2, 2, 3, (20, 24), seed=1)
    assert kp.shape == (2, 2, 3, 17, 2) and sc.shape == (2, 2, 3, 17)
    assert 0 <= kp[..., 0].min() and kp[..., 0].max() < 24 and kp[..., 1].max() < 20
    rows = timing.benchmark_heatmaps(
        layouts=("coco17",), batch_size=2, clip_len=2, size=16, repeats=1, threads=(1,),
        backends=("numpy", "torch", "native", "fill"), numpy_samples=1,
    )  # fmt: skip
    assert [(r["kind"], r["backend"]) for r in rows] == [
        (kind, b) for kind in ("joint", "limb") for b in ("numpy", "torch", "native", "fill")
    ]
    native = rows[2]
    assert native["C"] == 17 and native["threads"] == 1 and native["extrapolated"] is False
    assert native["speedup_vs_numpy"] == pytest.approx(
        rows[0]["ms_per_batch"] / native["ms_per_batch"]
    )
    assert rows[0]["extrapolated"] is True and rows[3]["x_fill"] is None
    table = timing.format_table(rows)
    assert table.splitlines()[0].startswith("| case") and "limb V=17 C=17 N=2" in table
    with pytest.raises(ValueError, match="backends must be a subset"):
        timing.benchmark_heatmaps(backends=("gpu",))
