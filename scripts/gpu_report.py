"""The report of scripts/gpu_check.sh: results.json and results.md from the files of one run.

Reads from the output folder: steps.tsv (one line per step: name, status, seconds), env.json,
bench.json, train.json, the pytest JUnit files ``*-tests.xml`` and the sanitizer logs
``memcheck.log`` / ``racecheck.log``. Missing files (skipped or failed steps) leave gaps, never
errors.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

#: Goals of the figures (issue 12): the measured value must be <= the bound.
GOALS = {
    "x_fill": 1.5,  # CUDA heatmaps within 1.5x of fill of the same output, N = 32
    "bf16_over_fp32": 0.6,  # bf16 about half the fp32 time
    "input_share": 0.05,  # making the inputs under 5% of a PoseC3D training step
    "max_abs_diff": 1e-6,  # CUDA equals the C++ CPU kernels (fp32)
    "sanitizer_errors": 0,
}


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _steps(out: Path) -> list[dict[str, str]]:
    try:
        lines = (out / "steps.tsv").read_text().splitlines()
    except OSError:
        return []
    return [dict(zip(("step", "status", "seconds"), line.split("\t"), strict=False))
            for line in lines if line.strip()]  # fmt: skip


def _junit(path: Path) -> dict[str, int] | None:
    """Counts of a pytest JUnit file: tests, failures, errors, skipped."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return None
    return {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}


def _sanitizer(path: Path) -> int | None:
    """Error count of a compute-sanitizer log (``ERROR SUMMARY: n errors``), None if absent."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"ERROR SUMMARY: (\d+) error", text)
    return sum(int(x) for x in found) if found else None


def _api_errors(path: Path) -> int | None:
    """Errors of CUDA API calls in a sanitizer log (``Program hit cudaError...``), not of kernels.

    They are part of the summary count; pymg's launchers raise on any failed call (so the workload
    would fail), hence such lines usually come from other libraries' probing calls.
    """
    try:
        return len(re.findall(r"Program hit cuda\w+", path.read_text(errors="replace")))
    except OSError:
        return None


def _fmt(x: Any, spec: str = ".3f") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _heatmap_case(r: dict[str, Any]) -> str:
    return f"{r['kind']} V={r['V']} C={r['C']} N={r['N']} M={r['M']} T={r['T']} {r['H']}x{r['W']}"


def _goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its worst measured value and whether it is met (None: not measured)."""
    heat = [r for r in (results.get("bench") or {}).get("heatmaps", []) if "cuda_ms" in r]
    n32 = [r for r in heat if r["N"] == 32]
    train = results.get("train") or []
    fp32 = [r["max_abs_diff"] for r in heat if r["dtype"] == "float32"]
    san = [v for v in (results["memcheck_errors"], results["racecheck_errors"]) if v is not None]
    gpu_train = [r["input_share"] for r in train if r.get("device") == "cuda"]
    worst = {
        "x_fill": max((r["x_fill"] for r in n32), default=None),
        "bf16_over_fp32": max(
            (r["bf16_over_fp32"] for r in heat if r["bf16_over_fp32"]), default=None
        ),  # fmt: skip
        "input_share": max(gpu_train, default=None),
        "max_abs_diff": max(fp32, default=None),
        "sanitizer_errors": sum(san) if san else None,
    }
    return [{"goal": k, "bound": GOALS[k], "worst": v, "met": None if v is None else v <= GOALS[k]}
            for k, v in worst.items()]  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown (GPU facts, steps, goals, heatmaps, gather, training step)."""
    env = results.get("env") or {}
    gpu = env.get("gpu") or {}
    lines = [f"# gpu_check results ({env.get('date_utc', '?')})", ""]
    lines.append(f"GPU: {gpu.get('name', 'none (CPU-only dry run)')}, capability "
                 f"{gpu.get('capability', '-')}, driver {gpu.get('driver', '-')}; torch "
                 f"{env.get('torch', '?')} (CUDA {env.get('torch_cuda', '-')}), Python "
                 f"{env.get('python', '?')}, {env.get('cpu_count', '?')} CPU cores.")  # fmt: skip
    lines += ["", "## Steps", ""]
    lines += _table(["step", "status", "seconds"],
                    [[s.get("step", ""), s.get("status", ""), s.get("seconds", "")]
                     for s in results["steps"]])  # fmt: skip
    for name, counts in results["tests"].items():
        if counts:
            lines.append(f"\n{name}: {counts['tests']} tests, {counts['failures']} failures, "
                         f"{counts['errors']} errors, {counts['skipped']} skipped")  # fmt: skip
    lines.append(f"\nmemcheck errors: {_fmt(results['memcheck_errors'])} (of which CUDA API "
                 f"call errors: {_fmt(results['memcheck_api_errors'])}), racecheck errors: "
                 f"{_fmt(results['racecheck_errors'])} (memcheck.log, racecheck.log)")  # fmt: skip
    lines += ["", "## Goals", ""]
    lines += _table(["goal", "bound", "worst measured", "met"],
                    [[g["goal"], _fmt(g["bound"], ".3g"), _fmt(g["worst"], ".3g"),
                      {True: "yes", False: "**no**", None: "-"}[g["met"]]]
                     for g in results["goals"]])  # fmt: skip
    bench = results.get("bench") or {}
    if bench.get("heatmaps"):
        lines += ["", "## Heatmaps (ms, median)", ""]
        lines += _table(
            ["case", "dtype", "cuda", "fill cuda", "/ fill", "torch cuda", "C++ cpu", "fill cpu",
             "torch cpu", "bf16/fp32", "max diff"],
            [[_heatmap_case(r), r["dtype"], _fmt(r.get("cuda_ms")), _fmt(r.get("fill_cuda_ms")),
              _fmt(r["x_fill"], ".2f"),
              _fmt(r.get("torch_cuda_ms")), _fmt(r.get("cpp_ms")), _fmt(r.get("fill_cpu_ms")),
              _fmt(r.get("torch_cpu_ms")), _fmt(r.get("bf16_over_fp32"), ".2f"),
              _fmt(r["max_abs_diff"], ".1e")] for r in bench["heatmaps"]],
        )  # fmt: skip
    if bench.get("gather"):
        lines += ["", "## Frame gathering (ms, median)", ""]
        lines += _table(
            ["case", "cuda", "fill cuda", "torch cuda", "C++ cpu", "torch cpu", "max diff"],
            [[f"{r['mode']} N={r['N']} K={r['K']} M={r['M']} T={r['T']} V={r['V']} -> {r['T2']}",
              _fmt(r.get("cuda_ms")), _fmt(r.get("fill_cuda_ms")), _fmt(r.get("torch_cuda_ms")),
              _fmt(r.get("cpp_ms")), _fmt(r.get("torch_cpu_ms")), _fmt(r["max_abs_diff"], ".1e")]
             for r in bench["gather"]],
        )  # fmt: skip
    if results.get("train"):
        lines += ["", "## PoseC3D training step (imigue41, ms, median)", ""]
        lines += _table(
            ["stream", "device", "batch", "heatmaps", "autocast", "step", "inputs", "share",
             "inputs (host)", "sync-free"],
            [[r["stream"], r["device"], str(r["batch"]),
              f"{r['clip_len']}x{r['size']}x{r['size']} {r['heatmap_dtype']}", _fmt(r["autocast"]),
              _fmt(r["step_ms"], ".2f"), _fmt(r["inputs_ms"], ".3f"),
              f"{100 * r['input_share']:.2f}%", _fmt(r.get("inputs_host_ms"), ".3f"),
              _fmt(r["sync_free"])] for r in results["train"]],
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def cmd_report(out: Path) -> int:
    """Writes results.json and results.md into ``out`` and prints the markdown."""
    results: dict[str, Any] = {
        "env": _load(out / "env.json"),
        "steps": _steps(out),
        "tests": {p.stem: _junit(p) for p in sorted(out.glob("*-tests.xml"))},
        "memcheck_errors": _sanitizer(out / "memcheck.log"),
        "racecheck_errors": _sanitizer(out / "racecheck.log"),
        "memcheck_api_errors": _api_errors(out / "memcheck.log"),
        "bench": _load(out / "bench.json"),
        "train": _load(out / "train.json"),
    }
    results["goals"] = _goals(results)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    text = markdown(results)
    (out / "results.md").write_text(text)
    print(text)
    return 0
