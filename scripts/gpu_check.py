"""The Python side of scripts/gpu_check.sh: facts, sanitizer workload, timings and the report.

Subcommands (each writes into ``--out DIR``; ``--cpu-only`` runs the dry run on the CPU):

* ``env``: machine, GPU and library facts -> env.json;
* ``workload``: every kernel (joint/limb heatmaps in float32/float16/bfloat16, frame gathering,
  alignment) on odd sizes, M > 1, N = 0 and M = 0, checked against the C++ CPU kernels; meant to
  run under compute-sanitizer (exits 1 on a mismatch);
* ``bench``: heatmap and gather timings (scripts/gpu_bench.py) -> bench.json;
* ``train``: PoseC3D training-step timing and the sync check -> train.json;
* ``report``: merges the step log and the JSON files -> results.json and results.md, and prints
  the markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gpu_bench  # scripts/ is sys.path[0] when this file runs as a script
import gpu_report
import torch


def _write(out: Path, name: str, data: Any) -> None:
    (out / name).write_text(json.dumps(data, indent=2, default=str) + "\n")


def cmd_env(out: Path, cpu_only: bool) -> int:
    """Facts of the machine and the installed pymg -> env.json."""
    import pymg
    from pymg import _native

    facts: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "pymg_file": pymg.__file__,
        "pymg_native": _native.info(),
        "cpu_only": cpu_only,
        "gpu": None,
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts["gpu"] = {
            "name": props.name,
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
            "count": torch.cuda.device_count(),
        }
        try:
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            smi = subprocess.run(query, capture_output=True, text=True, timeout=20)
            facts["gpu"]["driver"] = smi.stdout.strip().splitlines()[0] if smi.stdout else None
        except (OSError, subprocess.SubprocessError):
            facts["gpu"]["driver"] = None
    _write(out, "env.json", facts)
    print(json.dumps(facts, indent=2, default=str))
    if not cpu_only and facts["gpu"] is None:
        print("gpu_check: torch sees no CUDA device", file=sys.stderr)
        return 1
    return 0


#: Largest CUDA - CPU difference per output dtype: 1e-6 in float32, so at most one rounding step
#: (values <= 1.2) in float16 and bfloat16.
TOLERANCE = {torch.float32: 1e-6, torch.float16: 2**-10, torch.bfloat16: 2**-7}


def _workload_inputs(n: int, m: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints [N, M, 5, 17, 2] around a 13 x 11 image, some NaN/inf; scores [N, M, 5, 17]."""
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(n, m, 5, 17, 2, generator=g) * 19 - 4
    sc = torch.rand(n, m, 5, 17, generator=g) * 1.2
    if kp.numel():
        flat = kp.view(-1, 2)
        flat[::7, 0] = float("nan")
        flat[3::11, 1] = float("inf")
        sc.view(-1)[::5] = 0.0
    return kp, sc


def cmd_workload(cpu_only: bool) -> int:
    """Calls every kernel on ``cuda`` (``cpu`` in the dry run); compares with the C++ CPU kernels.

    Odd sizes (13 x 11 images, 5 frames, K = 3 clips), M = 1..3, N = 0, M = 0, fp32/fp16/bf16.
    """
    import pymg.ops as ops
    from pymg.topology import get_layout

    device = "cpu" if cpu_only else "cuda"
    limbs = get_layout("coco17").limbs
    failures = []
    calls = 0
    for n, m in ((3, 2), (1, 3), (2, 1), (0, 2), (2, 0)):
        kp, sc = _workload_inputs(n, m, seed=n * 10 + m)
        lengths = torch.randint(1, 6, (n,), generator=torch.Generator().manual_seed(m))
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            for sigma in (0.6, 2.3):
                kw: dict[str, Any] = {"size": (13, 11), "sigma": sigma, "dtype": dtype,
                                      "impl": "native"}  # fmt: skip
                kp_d, sc_d = kp.to(device), sc.to(device)
                got = [ops.joint_heatmaps(kp_d, sc_d, **kw),
                       ops.limb_heatmaps(kp_d, sc_d, limbs=limbs, **kw)]  # fmt: skip
                want = [ops.joint_heatmaps(kp, sc, **kw),
                        ops.limb_heatmaps(kp, sc, limbs=limbs, **kw)]  # fmt: skip
                calls += 2
                for name, a, b in zip(("joint", "limb"), got, want, strict=True):
                    diff = (a.cpu().float() - b.float()).abs().max() if a.numel() else 0.0
                    if a.shape != b.shape or float(diff) > TOLERANCE[dtype]:
                        failures.append(f"{name} n={n} m={m} {dtype} sigma={sigma}: {diff}")
        positions = torch.rand(n, 3, 7) * 7 - 1
        positions[..., 0] = float("nan") if n else 0.0
        for mode in ("linear", "nearest"):
            got_g = ops.gather_frames(kp.to(device), sc.to(device), lengths.to(device),
                                      positions.to(device), mode=mode, impl="native")  # fmt: skip
            want_g = ops.gather_frames(kp, sc, lengths, positions, mode=mode, impl="native")
            got_a = ops.align_frames(kp.to(device), sc.to(device), lengths, 9, num_clips=2,
                                     mode=mode, impl="native")  # fmt: skip
            calls += 2
            for a, b in zip(got_g, want_g, strict=True):
                if not torch.equal(a.cpu().nan_to_num(-9.0), b.nan_to_num(-9.0)):
                    failures.append(f"gather n={n} m={m} {mode}")
            if got_a[0].shape != (2 * n, m, 9, 17, 2):
                failures.append(f"align n={n} m={m} {mode}: shape {tuple(got_a[0].shape)}")
    if device == "cuda":
        torch.cuda.synchronize()
    print(f"workload: {calls} op calls on {device}, {len(failures)} mismatches")
    for line in failures:
        print("  MISMATCH", line)
    return 1 if failures else 0


def cmd_bench(out: Path, cpu_only: bool) -> int:
    data = {
        "heatmaps": gpu_bench.bench_heatmaps(cpu_only),
        "gather": gpu_bench.bench_gather(cpu_only),
    }
    _write(out, "bench.json", data)
    print(f"bench: {len(data['heatmaps'])} heatmap cases, {len(data['gather'])} gather cases")
    return 0


def cmd_train(out: Path, cpu_only: bool) -> int:
    rows = gpu_bench.bench_training_step(cpu_only)
    _write(out, "train.json", rows)
    for r in rows:
        print(f"train {r['stream']}: step {r['step_ms']:.2f} ms, inputs {r['inputs_ms']:.3f} ms "
              f"({100 * r['input_share']:.2f}%), sync_free={r['sync_free']}")  # fmt: skip
    return 0 if all(r["sync_free"] is not False for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("env", "workload", "bench", "train", "report"))
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder")
    parser.add_argument("--cpu-only", action="store_true", help="the dry run, without CUDA")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command == "env":
        return cmd_env(args.out, args.cpu_only)
    if args.command == "workload":
        return cmd_workload(args.cpu_only)
    if args.command == "bench":
        return cmd_bench(args.out, args.cpu_only)
    if args.command == "train":
        return cmd_train(args.out, args.cpu_only)
    return gpu_report.cmd_report(args.out)


if __name__ == "__main__":
    sys.exit(main())
