"""Heatmap generation speed: numpy loop vs torch reference vs C++ (1 / all threads) vs CUDA.

Run: ``pytest benchmarks/bench_heatmaps.py --benchmark-only`` (default cases, a few minutes on 2
cores) or add ``--bench-full`` for the big batches (N=32, M=1..2, V=17/41, 56x56/64x64, numpy
included). Every case is a pytest-benchmark group, so the backends of one case print side by side:

* ``numpy``: the per-point numpy loop of PYSKL's rules (pymg.ops.pyskl_numpy);
* ``torch``: the vectorised torch backend (pymg.ops.backend_torch), current torch thread count;
* ``cpp-1t`` / ``cpp-all``: the CPU kernels of pymg._C on 1 thread / ``torch.get_num_threads()``;
* ``cuda``: the CUDA kernels (skipped without a device);
* ``fill-1t`` / ``fill-all`` / ``fill-cuda``: ``out.zero_()`` of the output, the memory floor.

Keypoints are realistic skeleton clips (pymg.ops.timing.synthetic_keypoints); outputs are float32
and written into preallocated tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from pymg import _native
from pymg.ops.timing import make_runner, synthetic_keypoints
from pymg.topology import get_layout


@dataclass(frozen=True)
class Case:
    kind: str
    layout: str
    n: int
    m: int
    size: int
    t: int = 48

    @property
    def name(self) -> str:
        v = get_layout(self.layout).num_joints
        return f"{self.kind} N={self.n} M={self.m} T={self.t} V={v} {self.size}x{self.size}"


DEFAULT_CASES = [
    Case(kind, layout, 1, 1, 56) for kind in ("joint", "limb") for layout in ("coco17", "imigue41")
] + [Case(kind, "coco17", 32, 1, 56) for kind in ("joint", "limb")]
FULL_CASES = [
    Case(kind, layout, 32, m, size)
    for kind in ("joint", "limb")
    for layout in ("coco17", "imigue41")
    for m in (1, 2)
    for size in (56, 64)
    if not (layout == "coco17" and m == 1 and size == 56)
]
CASES = [pytest.param(c, id=c.name.replace(" ", "-")) for c in DEFAULT_CASES] + [
    pytest.param(c, id=c.name.replace(" ", "-"), marks=pytest.mark.slow) for c in FULL_CASES
]

_NO_CUDA = not (torch.cuda.is_available() and _native.available() and _native.cuda_compiled())
_CUDA_MARKS = [pytest.mark.cuda, pytest.mark.skipif(_NO_CUDA, reason="no CUDA device/kernels")]
BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("torch", id="torch"),
    pytest.param("cpp-1t", id="cpp-1t"),
    pytest.param("cpp-all", id="cpp-all"),
    pytest.param("cuda", id="cuda", marks=_CUDA_MARKS),
    pytest.param("fill-1t", id="fill-1t"),
    pytest.param("fill-all", id="fill-all"),
    pytest.param("fill-cuda", id="fill-cuda", marks=_CUDA_MARKS),
]
_SLOW_BACKENDS = {"numpy": 2, "torch": 3}  # rounds for the slow backends; the rest run 15 rounds


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_heatmaps(benchmark, request: pytest.FixtureRequest, case: Case, backend: str) -> None:
    if backend.startswith("cpp") and not _native.available():
        pytest.skip(f"pymg._C not available: {_native.load_error()}")
    if backend == "numpy" and case.n > 1 and not request.config.getoption("--bench-full"):
        pytest.skip("the numpy loop on a batch runs with --bench-full only")
    skeleton = get_layout(case.layout)
    kp, sc = synthetic_keypoints(case.layout, case.n, case.m, case.t, (case.size, case.size))
    threads = {"1t": 1, "all": torch.get_num_threads()}.get(backend.rsplit("-", 1)[-1])
    name = {"cpp": "native", "fill": "fill"}.get(backend.split("-")[0], backend)
    device = "cuda" if backend.endswith("cuda") else "cpu"
    run = make_runner(
        name, case.kind, kp, sc, list(skeleton.limbs), size=(case.size, case.size),
        threads=threads, device=device,
    )  # fmt: skip
    benchmark.group = case.name
    benchmark.extra_info.update({"backend": backend, "threads": threads, "per_sample": case.n})
    rounds = _SLOW_BACKENDS.get(backend, 15)
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
