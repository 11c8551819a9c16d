"""Edge values give one answer in every backend, or are refused at the public boundary.

* sigma below ``MIN_SIGMA`` (or non-finite) is refused by every op and backend;
* NaN and +-inf scores mark a point missing in the native kernels and the torch backend alike
  (heatmaps and frame gathering);
* the CPU kernels allocate their scratch before the OpenMP loop: a failing allocation is a
  ``MemoryError``, not a process abort.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import pymg.ops as ops

IMPLS = [pytest.param("native", marks=pytest.mark.native), "reference"]
LIMBS = [(0, 1), (1, 2), (2, 0), (3, 3)]
SIZE = (12, 14)


def _points(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(2, 2, 3, 4, 2, generator=g) * torch.tensor([SIZE[1], SIZE[0]])
    sc = torch.rand(2, 2, 3, 4, generator=g) * 0.9 + 0.1
    return kp, sc


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sigma", [0.0, 1e-30, 4e-20, 9.99e-4, float("inf"), float("nan")])
def test_tiny_or_non_finite_sigma_is_refused(impl: str, sigma: float) -> None:
    kp, sc = _points(0)
    with pytest.raises(ValueError, match=r"sigma must be (finite|>= MIN_SIGMA)"):
        ops.joint_heatmaps(kp, sc, size=SIZE, sigma=sigma, impl=impl)
    with pytest.raises(ValueError, match=r"sigma must be (finite|>= MIN_SIGMA)"):
        ops.limb_heatmaps(kp, sc, limbs=LIMBS, size=SIZE, sigma=sigma, impl=impl)


@pytest.mark.native
@pytest.mark.parametrize("sigma", [ops.MIN_SIGMA, 0.05, 1e3, 1e30])
def test_extreme_accepted_sigmas_agree_across_backends(sigma: float) -> None:
    kp, sc = _points(1)
    kp[0, 0, 0, 0] = torch.tensor([3.0, 4.0])  # a joint exactly on a pixel
    for fn, kw in ((ops.joint_heatmaps, {}), (ops.limb_heatmaps, {"limbs": LIMBS})):
        native = fn(kp, sc, size=SIZE, sigma=sigma, impl="native", **kw)
        torch_ = fn(kp, sc, size=SIZE, sigma=sigma, impl="reference", **kw)
        assert torch.isfinite(native).all()
        torch.testing.assert_close(native, torch_, atol=1e-5, rtol=0)
        assert native.max() <= sc.max()
    joint = ops.joint_heatmaps(kp, sc, size=SIZE, sigma=sigma, impl="native")
    assert joint[0, 0, 0, 4, 3] >= sc[0, 0, 0, 0]  # the gaussian's peak is the score


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_scores_mark_points_missing(impl: str, bad: float) -> None:
    kp, sc = _points(2)
    hit = torch.zeros_like(sc, dtype=torch.bool)
    hit[0, 0, 1, 1] = hit[1, 1, 2, 0] = hit[1, 0, 0, 3] = True
    bad_sc, dropped = sc.masked_fill(hit, bad), sc.masked_fill(hit, 0.0)
    got = ops.joint_heatmaps(kp, bad_sc, size=SIZE, impl=impl)
    assert torch.equal(got, ops.joint_heatmaps(kp, dropped, size=SIZE, impl=impl))
    assert torch.isfinite(got).all()
    got = ops.limb_heatmaps(kp, bad_sc, limbs=LIMBS, size=SIZE, impl=impl)
    assert torch.equal(got, ops.limb_heatmaps(kp, dropped, limbs=LIMBS, size=SIZE, impl=impl))
    assert torch.isfinite(got).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ops.GATHER_MODES)
def test_gather_copies_points_with_non_finite_scores(impl: str, mode: str) -> None:
    kp = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).reshape(1, 1, 3, 1, 2)
    sc = torch.tensor([float("inf"), 0.5, float("nan")]).reshape(1, 1, 3, 1)
    pos = torch.tensor([[[0.25, 0.75, 1.25, 1.75]]])
    out_kp, out_sc = ops.gather_frames(kp, sc, torch.tensor([3]), pos, mode=mode, impl=impl)
    # never blended with a missing point: the nearer frame is copied (as "nearest" does)
    assert out_kp[0, 0, :, 0].tolist() == [[1.0, 2.0], [3.0, 4.0], [3.0, 4.0], [5.0, 6.0]]
    assert out_sc[0, 0, :, 0, None].isinf().flatten().tolist() == [True, False, False, False]
    assert out_sc[0, 0, 1:3, 0].tolist() == [0.5, 0.5]


@pytest.mark.native
@pytest.mark.parametrize("backend", ["native", "reference"])
def test_backends_agree_on_mixed_edge_scores(backend: str) -> None:
    kp, sc = _points(3)
    flat = sc.view(-1)
    flat[::5], flat[1::7], flat[2::11] = float("inf"), float("nan"), float("-inf")
    flat[3::13] = 3e38  # finite and huge
    want = ops.limb_heatmaps(kp, sc, limbs=LIMBS, size=SIZE, impl="native")
    got = ops.limb_heatmaps(kp, sc, limbs=LIMBS, size=SIZE, impl=backend)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-5)


@pytest.mark.native
def test_failed_scratch_allocation_raises_memory_error() -> None:
    """2 planes of 2**57 pixels in float16: the per-thread float scratch (2**60 bytes) cannot be
    allocated. The kernel must raise MemoryError before touching the (fake) output pointer."""
    code = textwrap.dedent(
        """
        import torch
        from pymg import _C
        kp, sc = torch.zeros(2, 1, 1, 1, 2), torch.ones(2, 1, 1, 1)
        try:
            _C.joint_heatmaps(kp.data_ptr(), sc.data_ptr(), 8, 2, 1, 1, 1, 2**29, 2**28, 0.6, 3.0,
                              1e-3, _C.DTYPE_FLOAT16, -1, 0, 2)
        except MemoryError:
            print("MemoryError")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.strip() == "MemoryError"
