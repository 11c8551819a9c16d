"""The CUDA kernels of pymg._C against the CPU kernels and the numpy loop of PYSKL's rules.

CPU and CUDA kernels share every formula (csrc/*_math.h, no FMA contraction on either side), so
their float32 heatmaps are compared bit for bit. Skipped where no CUDA device is present or the
extension was built without CUDA.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymg import _native
from pymg.ops import WINDOW_SIGMAS, pyskl_numpy
from pymg.ops.backend_native import NATIVE

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.native,
    pytest.mark.skipif(
        not (torch.cuda.is_available() and _native.available() and _native.cuda_compiled()),
        reason="needs a CUDA device and pymg._C built with CUDA",
    ),
]

LIMBS = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11),
         (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12)]  # fmt: skip
TOL = dict(atol=1e-5, rtol=0.0)


def random_points(seed: int, n: int, m: int, t: int, v: int, size: tuple[int, int]):
    """Keypoints [N, M, T, V, 2] on and around the image with NaNs, zero and borderline scores."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    kp = torch.rand(n, m, t, v, 2, generator=g) * torch.tensor([w + 8.0, h + 8.0]) - 4.0
    sc = torch.rand(n, m, t, v, generator=g) * 1.5
    flat_kp, flat_sc = kp.view(-1, 2), sc.view(-1)
    idx = torch.randperm(flat_sc.numel(), generator=g)
    k = max(1, flat_sc.numel() // 10)
    flat_kp[idx[:k], 0] = float("nan")
    flat_kp[idx[k : 2 * k]] = flat_kp[idx[k : 2 * k]].round()
    flat_sc[idx[2 * k : 3 * k]] = 0.0
    flat_sc[idx[3 * k : 4 * k]] = 1e-3  # float32(1e-3) vs eps 1e-3
    return kp, sc


def joint(kp, sc, size, dtype=torch.float32, sigma=0.6, eps=1e-3):
    n, _, t, v, _ = kp.shape
    out = torch.full((n, v, t, *size), float("nan"), dtype=dtype, device=kp.device)
    NATIVE.joint_heatmaps_into(kp.contiguous(), sc.contiguous(), out, sigma, eps)
    return out


def limb(kp, sc, limbs, size, dtype=torch.float32, sigma=0.6, eps=1e-3):
    n, _, t, _, _ = kp.shape
    out = torch.full((n, len(limbs), t, *size), float("nan"), dtype=dtype, device=kp.device)
    table = torch.tensor(limbs, dtype=torch.int32)
    NATIVE.limb_heatmaps_into(kp.contiguous(), sc.contiguous(), table, out, sigma, eps)
    return out


@pytest.mark.parametrize(("seed", "m", "v", "t"), [(0, 1, 17, 4), (1, 2, 41, 3), (2, 3, 17, 1)])
def test_cuda_joint_matches_cpu_and_numpy(seed: int, m: int, v: int, t: int) -> None:
    size = (21, 30)
    kp, sc = random_points(seed, 2, m, t, v, size)
    cpu = joint(kp, sc, size)
    gpu = joint(kp.cuda(), sc.cuda(), size)
    assert torch.equal(gpu.cpu(), cpu)
    expected = pyskl_numpy.batch_joint_heatmaps(kp.numpy(), sc.numpy(), size, eps=1e-3)
    torch.testing.assert_close(gpu.cpu(), torch.from_numpy(expected), **TOL)


@pytest.mark.parametrize(("seed", "m", "sigma"), [(3, 1, 0.6), (4, 2, 1.7)])
def test_cuda_limb_matches_cpu_and_numpy(seed: int, m: int, sigma: float) -> None:
    size = (26, 22)
    kp, sc = random_points(seed, 2, m, 3, 17, size)
    kp[0, 0, 0, 1] = kp[0, 0, 0, 0] + torch.tensor([0.6, 0.8])  # |AB|^2 at the degenerate border
    kp[0, 0, 1, 1] = kp[0, 0, 1, 0] + torch.tensor([0.99, 0.0])
    sc[0, 0, :2, :2] = 1.0
    cpu = limb(kp, sc, LIMBS, size, sigma=sigma)
    gpu = limb(kp.cuda(), sc.cuda(), LIMBS, size, sigma=sigma)
    assert torch.equal(gpu.cpu(), cpu)
    expected = pyskl_numpy.batch_limb_heatmaps(
        kp.numpy(), sc.numpy(), size, LIMBS, sigma=sigma, eps=1e-3
    )
    torch.testing.assert_close(gpu.cpu(), torch.from_numpy(expected), **TOL)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_half_outputs_equal_float32_cast(dtype: torch.dtype) -> None:
    size = (32, 32)
    kp, sc = random_points(5, 2, 2, 4, 17, size)
    kp, sc = kp.cuda(), sc.cuda() * 3.0
    assert torch.equal(
        joint(kp, sc, size, dtype, sigma=2.0), joint(kp, sc, size, sigma=2.0).to(dtype)
    )
    assert torch.equal(limb(kp, sc, LIMBS, size, dtype), limb(kp, sc, LIMBS, size).to(dtype))


def test_cuda_runs_on_current_stream_and_device() -> None:
    size = (56, 56)
    kp, sc = random_points(6, 8, 2, 48, 17, size)
    expected = joint(kp, sc, size)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        kp_d, sc_d = kp.cuda(non_blocking=False), sc.cuda()
        out = joint(kp_d, sc_d, size)
    stream.synchronize()
    torch.testing.assert_close(out.cpu(), expected, **TOL)


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_cuda_gather_matches_cpu(mode: str) -> None:
    g = np.random.default_rng(7)
    n, m, t, v, k, t2 = 3, 2, 11, 41, 2, 16
    kp = torch.from_numpy(g.uniform(0, 64, (n, m, t, v, 2)).astype(np.float32))
    sc = torch.from_numpy(g.uniform(0, 1, (n, m, t, v)).astype(np.float32))
    sc[torch.rand(sc.shape) < 0.2] = 0.0
    lengths = torch.tensor([11, 5, 1])
    positions = torch.from_numpy(g.uniform(-1, 12, (n, k, t2)).astype(np.float32))
    outs = []
    for device in ("cpu", "cuda"):
        out_kp = torch.full((n * k, m, t2, v, 2), float("nan"), device=device)
        out_sc = torch.full((n * k, m, t2, v), float("nan"), device=device)
        args = [x.to(device) for x in (kp, sc, lengths, positions)]
        NATIVE.gather_frames_into(*args, out_kp, out_sc, mode, 1e-3)
        outs.append((out_kp, out_sc))
    torch.testing.assert_close(outs[1][0].cpu(), outs[0][0], atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(outs[1][1].cpu(), outs[0][1], atol=1e-6, rtol=1e-6)


def test_cuda_error_becomes_runtime_error_and_is_not_sticky() -> None:
    from pymg import _C

    kp = torch.zeros(1, 1, 1, 1, 2, device="cuda")
    sc = torch.ones(1, 1, 1, 1, device="cuda")
    out = torch.empty(1, 1, 1, 4, 4, device="cuda")
    bad_device = torch.cuda.device_count() + 3
    with pytest.raises(RuntimeError, match="pymg CUDA error in .*(invalid device|InvalidDevice)"):
        _C.joint_heatmaps(kp.data_ptr(), sc.data_ptr(), out.data_ptr(), 1, 1, 1, 1, 4, 4,
                          0.6, WINDOW_SIGMAS, 1e-3, 0, bad_device, 0, 1)  # fmt: skip
    # the context still works afterwards
    torch.testing.assert_close(joint(kp, sc, (4, 4)).cpu(), joint(kp.cpu(), sc.cpu(), (4, 4)))


def test_cuda_device_count_matches_torch() -> None:
    assert _native.cuda_device_count() == torch.cuda.device_count()
