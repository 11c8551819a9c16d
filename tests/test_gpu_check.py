"""scripts/gpu_check.sh: syntax, shellcheck, the CPU-only dry run end to end, the report's goals.

The dry run (``--cpu-only``) runs the same Python code as the GPU run (workload, timings, training
step, report) on the CPU with small sizes, and only collects the tests; about a minute on 2 cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SCRIPT = SCRIPTS / "gpu_check.sh"

pytestmark = pytest.mark.skipif(
    not SCRIPT.is_file() or shutil.which("bash") is None,
    reason="needs bash and scripts/gpu_check.sh (tests copied away from the repository)",
)


def test_script_syntax_and_shellcheck() -> None:
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--gpu", str(tmp_path)], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 2 and "unknown option '--gpu'" in done.stderr


def test_cpu_only_dry_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(["bash", str(SCRIPT), "--cpu-only", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    steps = {s["step"]: s["status"] for s in results["steps"]}
    assert steps == {"build": "skipped (not asked)", "env": "ok", "info": "ok",
                     "cuda-tests": "skipped (--cpu-only)", "ops-tests": "ok", "bench": "ok",
                     "train": "ok", "workload": "ok", "memcheck": "skipped (--cpu-only)",
                     "racecheck": "skipped (--cpu-only)"}  # fmt: skip
    assert results["env"]["cpu_only"] is True
    heat = results["bench"]["heatmaps"]
    assert len(heat) == 8 and {r["kind"] for r in heat} == {"joint", "limb"}
    for row in heat:
        assert row["cpp_ms"] > 0 and row["torch_cpu_ms"] > 0 and row["fill_cpu_ms"] > 0
        assert row["max_abs_diff"] <= 1e-5 and row["diff_against"] == "torch vs cpp"
    assert all(r["max_abs_diff"] == 0.0 for r in results["bench"]["gather"])
    assert [r["stream"] for r in results["train"]] == ["joint", "limb"]
    assert all(0 < r["input_share"] < 1 for r in results["train"])
    assert "0 mismatches" in (out / "workload.out").read_text()
    assert "collected" in (out / "ops-tests.out").read_text()
    # the markdown table is printed last and saved
    markdown = (out / "results.md").read_text()
    assert done.stdout.rstrip().endswith(markdown.rstrip().splitlines()[-1])
    assert "## PoseC3D training step" in markdown and "## Frame gathering" in markdown


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_pymg_scripts_gpu_report", SCRIPTS / "gpu_report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_goals_on_gpu_figures(report: ModuleType, tmp_path: Path) -> None:
    base = {"kind": "joint", "V": 17, "C": 17, "N": 32, "M": 1, "T": 48, "H": 56, "W": 56,
            "cuda_ms": 1.0, "fill_cuda_ms": 0.8, "x_fill": 1.25, "max_abs_diff": 2e-7,
            "dtype": "float32", "bf16_over_fp32": None}  # fmt: skip
    slow_bf16 = {**base, "dtype": "bfloat16", "x_fill": 1.9, "bf16_over_fp32": 0.95}
    (tmp_path / "bench.json").write_text(json.dumps({"heatmaps": [base, slow_bf16], "gather": []}))
    train = {"stream": "joint", "device": "cuda", "batch": 24, "clip_len": 48, "size": 56,
             "heatmap_dtype": "bfloat16", "autocast": "bfloat16", "step_ms": 100.0,
             "inputs_ms": 2.0, "input_share": 0.02, "sync_free": True}  # fmt: skip
    (tmp_path / "train.json").write_text(json.dumps([train]))
    (tmp_path / "memcheck.log").write_text("========= ERROR SUMMARY: 0 errors\n")
    (tmp_path / "racecheck.log").write_text("========= ERROR SUMMARY: 2 errors\n")
    (tmp_path / "steps.tsv").write_text("build\tok\t80\nmemcheck\tok\t40\n")
    assert report.cmd_report(tmp_path) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    goals = {g["goal"]: (g["worst"], g["met"]) for g in results["goals"]}
    assert goals == {"x_fill": (1.9, False), "bf16_over_fp32": (0.95, False),
                     "input_share": (0.02, True), "max_abs_diff": (2e-7, True),
                     "sanitizer_errors": (2, False)}  # fmt: skip
    assert results["steps"] == [{"step": "build", "status": "ok", "seconds": "80"},
                                {"step": "memcheck", "status": "ok", "seconds": "40"}]  # fmt: skip
    assert "| x_fill | 1.5 | 1.9 | **no** |" in (tmp_path / "results.md").read_text()
