"""Plain wall-clock timing of the heatmap backends (used by ``pymg bench`` and docs/benchmarks.md).

Backends, each drawing the same batch of synthetic but realistic skeletons (the layout's template
pose fitted to the image as PoseCompact does, per-sample scale/shift, small per-frame motion):

* ``"numpy"``: the per-point numpy loop of PYSKL's rules (:mod:`pymg.ops.pyskl_numpy`), timed on
  ``numpy_samples`` samples and extrapolated to the batch (``extrapolated=True``);
* ``"torch"``: the vectorised torch backend (:mod:`pymg.ops.backend_torch`);
* ``"native"``: the C++ kernels of ``pymg._C`` on the CPU, once per entry of ``threads``;
* ``"cuda"``: the CUDA kernels (skipped without a device or without CUDA kernels);
* ``"fill"``: ``out.zero_()`` of a preallocated output-sized tensor on the same device and thread
  count: the memory-write floor that any producer of the output pays (the kernels also write into
  preallocated outputs, so page faults of fresh allocations are left out of both).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

__all__ = [
    "BACKENDS",
    "benchmark_heatmaps",
    "format_table",
    "make_runner",
    "synthetic_keypoints",
]

BACKENDS = ("numpy", "torch", "native", "cuda", "fill")
_KINDS = ("joint", "limb")


def synthetic_keypoints(
    layout: str,
    batch_size: int,
    num_persons: int,
    clip_len: int,
    size: tuple[int, int],
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Realistic keypoints for timing: the layout's template pose filling the image.

    Args:
        layout: a layout name of :mod:`pymg.topology` (e.g. ``"coco17"``, ``"imigue41"``).
        batch_size, num_persons, clip_len: N, M, T.
        size: (H, W) of the heatmaps.
        seed: seed of the random scale, shift and motion.

    Returns:
        (keypoints float32 [N, M, T, V, 2], scores float32 [N, M, T, V]).
    """
    from pymg.topology import template_pose

    g = np.random.default_rng(seed)
    h, w = size
    pose = np.asarray(template_pose(layout), dtype=np.float64)  # [V, 2]
    lo, hi = pose.min(0), pose.max(0)
    pose = (pose - (lo + hi) / 2) / max(float((hi - lo).max()), 1e-6)  # unit box around 0
    shape = (batch_size, num_persons)
    scale = g.uniform(0.6, 0.9, shape)[..., None, None, None] * min(h, w)
    centre = np.stack([g.uniform(0.4, 0.6, shape) * w, g.uniform(0.4, 0.6, shape) * h], -1)
    phase = g.uniform(0, 2 * np.pi, (*shape, 1, pose.shape[0], 1))
    t = np.arange(clip_len)[None, None, :, None, None]
    motion = 1.5 * np.sin(0.2 * t + phase) + g.normal(0, 0.3, (*shape, clip_len, *pose.shape))
    kp = pose[None, None, None] * scale + centre[:, :, None, None, :] + motion
    kp = np.clip(kp, 0.0, np.array([w - 1.0, h - 1.0]))  # PoseCompact keeps the person inside
    sc = g.uniform(0.3, 1.0, kp.shape[:-1])
    return torch.from_numpy(kp.astype(np.float32)), torch.from_numpy(sc.astype(np.float32))


def _time(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] | None = None) -> float:
    """Best (minimum) wall time of ``fn`` in ms over ``repeats`` runs after one warm-up run.

    The minimum is the least disturbed by other processes on a shared machine (as ``timeit``)."""
    fn()
    if sync is not None:
        sync()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def _with_threads(n: int, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(old)

    return run


def benchmark_heatmaps(
    *,
    layouts: Sequence[str] = ("coco17", "imigue41"),
    kinds: Sequence[str] = _KINDS,
    batch_size: int = 32,
    num_persons: int = 1,
    clip_len: int = 48,
    size: int | tuple[int, int] = 56,
    backends: Sequence[str] = ("torch", "native", "cuda", "fill"),
    threads: Sequence[int] | None = None,
    repeats: int = 3,
    numpy_samples: int = 2,
    sigma: float = 0.6,
    eps: float = 1e-3,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Times joint/limb heatmap generation of one batch [N, C, T, H, W] per backend.

    Args:
        layouts: layout names (V and the limbs come from :func:`pymg.topology.get_layout`).
        kinds: ``"joint"`` and/or ``"limb"``.
        batch_size, num_persons, clip_len: N, M, T of the keypoint batch.
        size: H = W, or (H, W).
        backends: subset of :data:`BACKENDS`.
        threads: CPU thread counts for ``native`` and ``fill`` (default: 1 and
            ``torch.get_num_threads()``); ``torch`` and ``numpy`` use the current setting.
        repeats: timed runs per case (the minimum is reported).
        numpy_samples: samples timed for the slow ``numpy`` backend (then scaled to the batch).
        sigma, eps, dtype: heatmap parameters and output dtype.

    Returns:
        one dict per (layout, kind, backend, threads): ``layout, kind, V, C, N, M, T, H, W, backend,
        device, threads, ms_per_batch, ms_per_sample, extrapolated`` plus ``speedup_vs_numpy``,
        ``speedup_vs_torch`` and ``x_fill`` (time / fill time on the same device and threads) when
        those rows exist, else None.
    """
    from pymg.topology import get_layout

    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f"backends must be a subset of {BACKENDS}, got unknown {sorted(unknown)}")
    if set(kinds) - set(_KINDS) or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {_KINDS}, got {tuple(kinds)}")
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    case = _Case(
        size=hw, sigma=sigma, eps=eps, dtype=dtype, repeats=repeats, numpy_samples=numpy_samples,
        threads=tuple(threads) if threads else tuple(sorted({1, torch.get_num_threads()})),
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for layout in layouts:
        skeleton = get_layout(layout)
        kp, sc = synthetic_keypoints(layout, batch_size, num_persons, clip_len, hw, seed)
        limbs = [(int(a), int(b)) for a, b in skeleton.limbs]
        for kind in kinds:
            c = skeleton.num_joints if kind == "joint" else len(limbs)
            v = skeleton.num_joints
            base = {"layout": layout, "kind": kind, "V": v, "C": c, "N": batch_size,
                    "M": num_persons, "T": clip_len, "H": hw[0], "W": hw[1]}  # fmt: skip
            for row in case.run(kind, kp, sc, limbs, backends):
                rows.append({**base, **row, "ms_per_sample": row["ms_per_batch"] / batch_size})
    _add_ratios(rows)
    return rows


def make_runner(
    backend: str,
    kind: str,
    kp: torch.Tensor,
    sc: torch.Tensor,
    limbs: Sequence[tuple[int, int]],
    *,
    size: tuple[int, int],
    sigma: float = 0.6,
    eps: float = 1e-3,
    dtype: torch.dtype = torch.float32,
    threads: int | None = None,
    device: str = "cpu",
) -> Callable[[], Any]:
    """A zero-argument callable that produces the heatmaps of one batch on ``backend``.

    Args:
        backend: one of :data:`BACKENDS`. ``native``/``cuda``/``fill`` write into an output
            allocated here once; ``cuda`` and CUDA ``fill`` synchronise before returning.
        kind: ``"joint"`` (output [N, V, T, H, W]) or ``"limb"`` (output [N, L, T, H, W]).
        kp: float32 [N, M, T, V, 2] CPU keypoints; sc: float32 [N, M, T, V] scores.
        limbs: L joint index pairs.
        size: (H, W).
        threads: CPU threads for ``native`` and ``fill`` (None: the current torch setting).
        device: where ``fill`` writes (``"cpu"`` or ``"cuda"``); ``cuda`` always runs on CUDA.
    """
    from pymg.ops import pyskl_numpy
    from pymg.ops.backend_native import NATIVE
    from pymg.ops.heatmap import joint_heatmaps, limb_heatmaps

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    n, _, t, v, _ = kp.shape
    c = v if kind == "joint" else len(limbs)
    pairs = [(int(a), int(b)) for a, b in limbs]
    table = torch.tensor(pairs, dtype=torch.int32).reshape(-1, 2)
    if backend == "numpy":
        k_np, s_np = kp.numpy(), sc.numpy()
        if kind == "joint":
            return partial(pyskl_numpy.batch_joint_heatmaps, k_np, s_np, size, sigma=sigma, eps=eps)
        return partial(
            pyskl_numpy.batch_limb_heatmaps, k_np, s_np, size, pairs, sigma=sigma, eps=eps
        )
    if backend == "torch":
        if kind == "joint":
            return partial(joint_heatmaps, kp, sc, size=size, sigma=sigma, eps=eps, dtype=dtype,
                           impl="reference")  # fmt: skip
        return partial(limb_heatmaps, kp, sc, limbs=pairs, size=size, sigma=sigma, eps=eps,
                       dtype=dtype, impl="reference")  # fmt: skip
    device = "cuda" if backend == "cuda" else device
    out = torch.empty((n, c, t, *size), dtype=dtype, device=device)
    if backend == "fill":
        fn: Callable[[], Any] = out.zero_
    else:
        k_d, s_d = kp.to(device), sc.to(device)
        if kind == "joint":
            fn = partial(NATIVE.joint_heatmaps_into, k_d, s_d, out, sigma, eps)
        else:
            fn = partial(NATIVE.limb_heatmaps_into, k_d, s_d, table, out, sigma, eps)
    if device == "cuda":
        return _synced(fn)
    return fn if threads is None else _with_threads(threads, fn)


def _synced(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        result = fn()
        torch.cuda.synchronize()
        return result

    return run


@dataclass(frozen=True)
class _Case:
    """Timing of one (kind, keypoint batch) on every requested backend."""

    size: tuple[int, int]
    sigma: float
    eps: float
    dtype: torch.dtype
    repeats: int
    numpy_samples: int
    threads: tuple[int, ...]

    def run(
        self,
        kind: str,
        kp: torch.Tensor,
        sc: torch.Tensor,
        limbs: list[tuple[int, int]],
        backends: Sequence[str],
    ) -> list[dict[str, Any]]:
        from pymg import _native

        n = kp.shape[0]
        kw: dict[str, Any] = {
            "size": self.size, "sigma": self.sigma, "eps": self.eps, "dtype": self.dtype
        }  # fmt: skip
        rows: list[dict[str, Any]] = []

        def add(backend: str, device: str, threads: int | None, ms: float, extra: bool) -> None:
            rows.append({"backend": backend, "device": device, "threads": threads,
                         "ms_per_batch": ms, "extrapolated": extra})  # fmt: skip

        if "numpy" in backends:
            n_np = max(1, min(self.numpy_samples, n))
            run = make_runner("numpy", kind, kp[:n_np], sc[:n_np], limbs, **kw)
            add("numpy", "cpu", None, _time(run, 1) * n / n_np, n_np < n)
        if "torch" in backends:
            run = make_runner("torch", kind, kp, sc, limbs, **kw)
            add("torch", "cpu", torch.get_num_threads(), _time(run, self.repeats), False)
        for threads in self.threads:
            for backend in ("native", "fill"):
                if backend in backends and (backend == "fill" or _native.available()):
                    run = make_runner(backend, kind, kp, sc, limbs, threads=threads, **kw)
                    add(backend, "cpu", threads, _time(run, self.repeats), False)
        if torch.cuda.is_available() and _native.available() and _native.cuda_compiled():
            for backend in ("cuda", "fill"):
                if backend in backends:
                    run = make_runner(backend, kind, kp, sc, limbs, device="cuda", **kw)
                    add(backend, "cuda", None, _time(run, self.repeats), False)
        return rows


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["layout"], r["kind"])

    for r in rows:
        same = [o for o in rows if key(o) == key(r)]
        numpy_ms = next((o["ms_per_batch"] for o in same if o["backend"] == "numpy"), None)
        torch_ms = next((o["ms_per_batch"] for o in same if o["backend"] == "torch"), None)
        fills = [o for o in same if o["backend"] == "fill" and o["device"] == r["device"]]
        fill_ms = next((o["ms_per_batch"] for o in fills if o["threads"] == r["threads"]), None)
        r["speedup_vs_numpy"] = numpy_ms / r["ms_per_batch"] if numpy_ms else None
        r["speedup_vs_torch"] = torch_ms / r["ms_per_batch"] if torch_ms else None
        r["x_fill"] = r["ms_per_batch"] / fill_ms if fill_ms and r["backend"] != "fill" else None


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Renders :func:`benchmark_heatmaps` rows as a fixed-width (Markdown-compatible) table."""
    header = ["case", "backend", "threads", "ms/batch", "ms/sample", "x numpy", "x torch", "/ fill"]
    lines = [header]
    for r in rows:
        case = (
            f"{r['kind']} V={r['V']} C={r['C']} N={r['N']} M={r['M']} T={r['T']} {r['H']}x{r['W']}"
        )
        backend = r["backend"] + (
            " (cuda)" if r["device"] == "cuda" and r["backend"] == "fill" else ""
        )
        backend += " *" if r.get("extrapolated") else ""

        def num(x: float | None, fmt: str) -> str:
            return "-" if x is None else format(x, fmt)

        lines.append([case, backend, "-" if r["threads"] is None else str(r["threads"]),
                      num(r["ms_per_batch"], ".2f"), num(r["ms_per_sample"], ".3f"),
                      num(r.get("speedup_vs_numpy"), ".1f"), num(r.get("speedup_vs_torch"), ".1f"),
                      num(r.get("x_fill"), ".2f")])  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for i, line in enumerate(lines):
        out.append(
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        )
        if i == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if any(r.get("extrapolated") for r in rows):
        out.append("* numpy timed on a few samples and scaled to the batch")
    return "\n".join(out)
