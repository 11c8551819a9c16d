"""Timings of scripts/gpu_check.sh: heatmap and gather kernels, and a PoseC3D training step.

Imported by scripts/gpu_check.py (``bench`` and ``train`` subcommands). On a CUDA device every time
is a median of CUDA-event times of back-to-back runs after warm-up (no host sync between runs); on
the CPU (the ``--cpu-only`` dry run, and the C++ CPU kernels beside the GPU) a median of
``time.perf_counter`` times. Shapes: keypoints [N, M, T, V, 2], heatmaps [N, C, T, H, W].
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from pymg.ops import GATHER_MODES, custom_ops
from pymg.ops.backend_native import NATIVE
from pymg.ops.backend_torch import TORCH
from pymg.ops.timing import synthetic_keypoints
from pymg.topology import get_layout

LAYOUTS = {17: "coco17", 41: "imigue41"}


def median_ms(fn: Callable[[], Any], device: str, warmup: int, runs: int) -> float:
    """Median time of ``fn()`` in ms over ``runs`` runs after ``warmup`` runs.

    CUDA: one pair of events per run on the current stream, read after a single synchronisation at
    the end, so the runs queue back to back as in a training loop.
    """
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
        pairs = []
        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            pairs.append((start, end))
        torch.cuda.synchronize()
        return statistics.median(s.elapsed_time(e) for s, e in pairs)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def _heatmap_runner(
    backend: str, kind: str, kp: torch.Tensor, sc: torch.Tensor, flat: list[int], out: torch.Tensor
) -> Callable[[], Any]:
    """A zero-argument call writing the heatmaps of (kp, sc) into ``out`` [N, C, T, H, W]."""
    impl: Any = TORCH if backend == "torch" else NATIVE
    if backend == "fill":
        return lambda: out.fill_(0.0)
    if kind == "joint":
        return lambda: impl.joint_heatmaps_into(kp, sc, out, 0.6, 1e-3)
    pinned = kp.device.type == "cuda" and backend != "torch"
    table = custom_ops.limb_table(flat, pinned=pinned)
    return lambda: impl.limb_heatmaps_into(kp, sc, table, out, 0.6, 1e-3)


def heatmap_cases(cpu_only: bool) -> list[dict[str, Any]]:
    """The (kind, V, M, size, dtype) grid: the issue's N = 32, T = 48 grid, or a tiny CPU one."""
    if cpu_only:
        grid = [(k, 17, m, 20, d) for k in ("joint", "limb") for m in (1, 2)
                for d in (torch.float32, torch.bfloat16)]  # fmt: skip
        n, t = 2, 6
    else:
        grid = [(k, v, m, s, d) for k in ("joint", "limb") for v in (17, 41) for m in (1, 2)
                for s in (56, 64) for d in (torch.float32, torch.bfloat16)]  # fmt: skip
        n, t = 32, 48
    return [{"kind": k, "V": v, "N": n, "M": m, "T": t, "H": s, "W": s, "dtype": d}
            for k, v, m, s, d in grid]  # fmt: skip


def bench_heatmaps(cpu_only: bool, runs: int = 30) -> list[dict[str, Any]]:
    """Times every heatmap case on cuda / fill (cuda) / torch (cuda) / cpp-cpu / fill-cpu.

    Returns one row per case: ms per backend (``None`` where not run), ``x_fill`` (cuda / fill of
    the same output), and ``max_abs_diff`` between the CUDA and C++ CPU outputs.
    """
    rows = []
    for case in heatmap_cases(cpu_only):
        layout = get_layout(LAYOUTS[case["V"]])
        flat = [int(i) for pair in layout.limbs for i in pair]
        c = case["V"] if case["kind"] == "joint" else len(layout.limbs)
        kp, sc = synthetic_keypoints(layout.name, case["N"], case["M"], case["T"],
                                     (case["H"], case["W"]))  # fmt: skip
        shape = (case["N"], c, case["T"], case["H"], case["W"])
        row: dict[str, Any] = {**case, "C": c, "dtype": str(case["dtype"]).replace("torch.", "")}
        outs: dict[str, torch.Tensor] = {}
        # (backend, device, runs); the slow torch reference runs once per (kind, V, M, size), fp32
        plan = [("cpp", "cpu", 3), ("fill", "cpu", 3)]
        if cpu_only:
            plan.append(("torch", "cpu", 3))
        else:
            plan = [("cuda", "cuda", runs), ("fill", "cuda", runs), *plan]
            if case["dtype"] == torch.float32:
                plan.insert(2, ("torch", "cuda", 3))
        for backend, device, n_runs in plan:
            out = torch.empty(shape, dtype=case["dtype"], device=device)
            k_d, s_d = kp.to(device), sc.to(device)
            name = "native" if backend in ("cuda", "cpp") else backend
            fn = _heatmap_runner(name, case["kind"], k_d, s_d, flat, out)
            key = backend if backend in ("cuda", "cpp") else f"{backend}_{device}"
            warmup = 1 if backend == "torch" else 2
            row[f"{key}_ms"] = median_ms(fn, device, warmup=warmup, runs=n_runs)
            outs[key] = out
            if device == "cuda":
                torch.cuda.synchronize()
        fill_key = "fill_cuda" if "cuda" in outs else "fill_cpu"
        main = "cuda" if "cuda" in outs else "cpp"
        row["x_fill"] = row[f"{main}_ms"] / row[f"{fill_key}_ms"]
        other = outs["cuda"].cpu() if "cuda" in outs else outs["torch_cpu"]
        row["max_abs_diff"] = float((other.float() - outs["cpp"].float()).abs().max())
        row["diff_against"] = "cuda vs cpp" if "cuda" in outs else "torch vs cpp"
        rows.append(row)
        del outs
    _bf16_ratios(rows)
    return rows


def _bf16_ratios(rows: list[dict[str, Any]]) -> None:
    """Adds ``bf16_over_fp32``: a bf16 row's main time over its fp32 twin's."""
    main = "cuda_ms" if rows and "cuda_ms" in rows[0] else "cpp_ms"
    key = ("kind", "V", "M", "H")
    fp32 = {tuple(r[k] for k in key): r[main] for r in rows if r["dtype"] == "float32"}
    for r in rows:
        twin = fp32.get(tuple(r[k] for k in key))
        r["bf16_over_fp32"] = r[main] / twin if r["dtype"] == "bfloat16" and twin else None


def _gather_runner(
    backend: str, args: list[torch.Tensor], outs: tuple[torch.Tensor, torch.Tensor], mode: str
) -> Callable[[], Any]:
    """A zero-argument call gathering frames of args (kp, sc, lengths, positions) into outs."""
    if backend == "fill":
        return lambda: (outs[0].fill_(0.0), outs[1].fill_(0.0))
    impl: Any = TORCH if backend == "torch" else NATIVE
    return lambda: impl.gather_frames_into(*args, *outs, mode, 1e-3)


def bench_gather(cpu_only: bool, runs: int = 30) -> list[dict[str, Any]]:
    """Times frame gathering: N clips of T/8..T frames, M = 2, V = 41, to T' frames, K = 1 or 10.

    The GPU grid is N = 32, T = 300, T' = 48 (the dry run: N = 2, T = 12, T' = 6). Returns one row
    per (K, mode) with ms per backend and ``max_abs_diff`` of the scores (CUDA or torch vs C++).
    """
    n, t, j = (2, 12, 6) if cpu_only else (32, 300, 48)
    g = torch.Generator().manual_seed(0)
    kp = torch.rand(n, 2, t, 41, 2, generator=g) * 56
    sc = torch.rand(n, 2, t, 41, generator=g)
    lengths = torch.randint(max(1, t // 8), t + 1, (n,), generator=g)
    plan = [("cpp", "cpu", 5)]
    if cpu_only:
        plan.append(("torch", "cpu", 3))
    else:
        plan = [("cuda", "cuda", runs), ("torch", "cuda", 10), ("fill", "cuda", runs), *plan]
    rows = []
    for k in (1, 10):
        positions = torch.rand(n, k, j, generator=g) * lengths[:, None, None].float()
        for mode in GATHER_MODES:
            row: dict[str, Any] = {"N": n, "M": 2, "T": t, "V": 41, "K": k, "T2": j,
                                   "mode": mode}  # fmt: skip
            scores = {}
            for backend, device, n_runs in plan:
                outs = (torch.empty((n * k, 2, j, 41, 2), device=device),
                        torch.empty((n * k, 2, j, 41), device=device))  # fmt: skip
                args = [x.to(device) for x in (kp, sc, lengths, positions)]
                key = backend if backend in ("cuda", "cpp") else f"{backend}_{device}"
                fn = _gather_runner(backend, args, outs, mode)
                row[f"{key}_ms"] = median_ms(fn, device, warmup=2, runs=n_runs)
                scores[key] = outs[1]
            other = scores["cuda"] if "cuda" in scores else scores["torch_cpu"]
            row["max_abs_diff"] = float((other.cpu() - scores["cpp"]).abs().max())
            rows.append(row)
    return rows


def _train_batch(n: int, t_in: int, size: int, device: str) -> dict[str, torch.Tensor]:
    """A batch as a data loader gives it: keypoints/scores on the device, lengths on the CPU."""
    kp, sc = synthetic_keypoints("imigue41", n, 1, t_in, (size, size))
    lengths = torch.randint(t_in // 3, t_in + 1, (n,), generator=torch.Generator().manual_seed(1))
    return {"keypoint": kp.to(device), "keypoint_score": sc.to(device), "length": lengths}


def bench_training_step(cpu_only: bool, runs: int = 10) -> list[dict[str, Any]]:
    """Times PoseC3D training steps (imigue41, joint and limb streams) with heatmaps made in them.

    GPU: batch 24, 48 x 56 x 56 heatmaps in bf16, bf16 autocast, SGD; CPU dry run: a tiny model
    (batch 2, 6 x 20 x 20, float32). Each step records events around making the inputs
    (:meth:`PoseC3D.make_heatmaps`) and around the whole step; reported as medians and as the input
    share of the step, with the host (Python + CPU) time of making the inputs, ``inputs_host_ms``,
    which the GPU time hides as long as it is shorter than the rest of the step. The steps are then
    rerun under ``torch.cuda.set_sync_debug_mode("error")``
    (``sync_free``: no host synchronisation anywhere in the step).
    """
    if cpu_only:
        cfg: dict[str, Any] = {"clip_len": 6, "size": 20, "base_channels": 8,
                               "stage_blocks": (1, 1, 1),
                               "heatmap_dtype": torch.float32}  # fmt: skip
        batch_size, t_in, warmup, runs = 2, 15, 1, 1
    else:
        cfg = {"clip_len": 48, "size": 56, "heatmap_dtype": torch.bfloat16}
        batch_size, t_in, warmup = 24, 150, 5
        torch.backends.cudnn.benchmark = True
    rows = []
    for stream in ("joint", "limb"):
        row = {"stream": stream, "batch": batch_size, "clip_len": cfg["clip_len"],
               "size": cfg["size"], "heatmap_dtype": str(cfg["heatmap_dtype"]).split(".")[-1],
               "autocast": None if cpu_only else "bfloat16",
               "device": "cpu" if cpu_only else "cuda"}  # fmt: skip
        row.update(_time_stream(stream, cfg, batch_size, t_in, warmup, runs, cpu_only))
        rows.append(row)
    return rows


def _time_stream(
    stream: str,
    cfg: dict[str, Any],
    batch_size: int,
    t_in: int,
    warmup: int,
    runs: int,
    cpu_only: bool,
) -> dict[str, Any]:
    """inputs_ms, step_ms, input_share and the sync check of one PoseC3D stream."""
    from pymg.models import PoseC3D

    device = "cpu" if cpu_only else "cuda"
    torch.manual_seed(0)
    model = PoseC3D("imigue41", stream=stream, num_classes=32, **cfg).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = _train_batch(batch_size, t_in, cfg["size"], device)
    labels = torch.randint(0, 32, (batch_size,), device=device)
    timer = _StepTimer(device)
    host_ms: list[float] = []

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=not cpu_only):
            timer.mark()
            t0 = time.perf_counter()
            heat = model.make_heatmaps(batch, training=True)
            host_ms.append((time.perf_counter() - t0) * 1e3)
            timer.mark()
            logits = model(heat).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        timer.mark()

    for _ in range(warmup):
        step()
    timer.reset()
    host_ms.clear()
    for _ in range(runs):
        step()
    inputs_ms, step_ms = timer.medians()
    out = {"inputs_ms": inputs_ms, "step_ms": step_ms, "input_share": inputs_ms / step_ms,
           "inputs_host_ms": statistics.median(host_ms)}  # fmt: skip
    out.update(_sync_free(step, device))
    return out


class _StepTimer:
    """Marks (events on CUDA, perf_counter on CPU) in groups of three per step."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.marks: list[Any] = []

    def reset(self) -> None:
        self.marks = []

    def mark(self) -> None:
        if self.device == "cuda":
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append(event)
        else:
            self.marks.append(time.perf_counter())

    def _ms(self, a: Any, b: Any) -> float:
        return float(a.elapsed_time(b)) if self.device == "cuda" else (b - a) * 1e3

    def medians(self) -> tuple[float, float]:
        """(median input-making ms, median step ms) over the recorded steps."""
        if self.device == "cuda":
            torch.cuda.synchronize()
        steps = [self.marks[i : i + 3] for i in range(0, len(self.marks), 3)]
        inputs = statistics.median(self._ms(s[0], s[1]) for s in steps)
        total = statistics.median(self._ms(s[0], s[2]) for s in steps)
        return inputs, total


def _sync_free(step: Callable[[], None], device: str) -> dict[str, Any]:
    """Runs two steps under ``set_sync_debug_mode("error")``; reports whether one synchronised."""
    if device != "cuda":
        return {"sync_free": None, "sync_error": "not checked on the CPU"}
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            step()
    except RuntimeError as exc:
        return {"sync_free": False, "sync_error": str(exc).splitlines()[0][:300]}
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return {"sync_free": True, "sync_error": None}
