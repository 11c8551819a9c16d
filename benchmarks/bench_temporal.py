"""Temporal alignment speed: gathering/blending frames of a keypoint batch at given positions.

Run: ``pytest benchmarks/bench_temporal.py --benchmark-only`` (``--bench-full`` adds 10 test clips).
A batch of N=32 clips of 40..300 frames (M=2, V=41) is resampled to 48 frames, K clips per sample:

* ``numpy``: a per-sample numpy index gather of the nearest frames (what a PYSKL-style loader does
  per sample; no blending, no missing-point rule);
* ``torch``: the torch backend (pymg.ops.backend_torch);
* ``cpp-1t`` / ``cpp-all``: pymg._C on 1 thread / ``torch.get_num_threads()``;
* ``cuda``: the CUDA kernel (skipped without a device).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from pymg import _native
from pymg.ops import GATHER_MODES, frame_positions
from pymg.ops.backend_native import NATIVE
from pymg.ops.backend_torch import TORCH

N, M, V, T_MAX, CLIP_LEN = 32, 2, 41, 300, 48

_NO_CUDA = not (torch.cuda.is_available() and _native.available() and _native.cuda_compiled())
BACKENDS = [
    "numpy",
    "torch",
    "cpp-1t",
    "cpp-all",
    pytest.param(
        "cuda",
        marks=[pytest.mark.cuda, pytest.mark.skipif(_NO_CUDA, reason="no CUDA device/kernels")],
    ),
]
CLIPS = [pytest.param(1, id="K=1"), pytest.param(10, id="K=10", marks=pytest.mark.slow)]
MODES = GATHER_MODES


def _batch(k: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    kp = torch.rand(N, M, T_MAX, V, 2, generator=g) * 64
    sc = torch.rand(N, M, T_MAX, V, generator=g)
    lengths = torch.randint(40, T_MAX + 1, (N,), generator=g)
    positions = frame_positions(lengths, CLIP_LEN, strategy="uniform", num_clips=k)
    return kp, sc, lengths, positions.contiguous()


def _numpy_gather(kp: np.ndarray, sc: np.ndarray, positions: np.ndarray) -> Any:
    out = []
    for n in range(kp.shape[0]):
        for clip in positions[n]:
            idx = np.floor(clip + 0.5).astype(np.int64)
            out.append((kp[n][:, idx], sc[n][:, idx]))
    return out


def _runner(backend: str, mode: str, batch: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
    kp, sc, lengths, positions = batch
    k = positions.shape[1]
    if backend == "numpy":
        arrays = kp.numpy(), sc.numpy(), positions.numpy()
        return lambda: _numpy_gather(*arrays)
    device = "cuda" if backend == "cuda" else "cpu"
    kp, sc, lengths, positions = (x.to(device) for x in batch)
    out_kp = torch.empty(N * k, M, CLIP_LEN, V, 2, device=device)
    out_sc = torch.empty(N * k, M, CLIP_LEN, V, device=device)
    args = (kp, sc, lengths, positions, out_kp, out_sc, mode, 1e-3)
    if backend == "torch":
        return lambda: TORCH.gather_frames_into(*args)
    if backend == "cuda":

        def run_cuda() -> None:
            NATIVE.gather_frames_into(*args)
            torch.cuda.synchronize()

        return run_cuda
    threads = 1 if backend == "cpp-1t" else torch.get_num_threads()

    def run_cpu() -> None:
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            NATIVE.gather_frames_into(*args)
        finally:
            torch.set_num_threads(old)

    return run_cpu


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("k", CLIPS)
def test_gather_frames(benchmark, k: int, mode: str, backend: str) -> None:
    if backend.startswith("cpp") and not _native.available():
        pytest.skip(f"pymg._C not available: {_native.load_error()}")
    if backend == "numpy" and mode == "linear":
        pytest.skip("the numpy baseline only gathers nearest frames")
    run = _runner(backend, mode, _batch(k))
    benchmark.group = f"gather {mode} N={N} M={M} T<={T_MAX} V={V} -> K={k} x {CLIP_LEN}"
    benchmark.extra_info.update({"backend": backend, "clips": k})
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
