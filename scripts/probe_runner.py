"""The probe's runner: a case (:class:`Case`), one subprocess under a memory and a time limit
(:func:`run`), and the strict classification of what it did (:func:`classify`); see
:mod:`probe_hostile` for the classes."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CLASSES", "TINY", "Case", "Result", "classify", "run", "sets"]

ROOT = Path(__file__).resolve().parents[1]

CLASSES = ("correct", "clear error", "unclear error", "silent wrong", "crash", "hang")
TINY = [
    "data.synthetic_classes=3", "data.synthetic_clips=30", "data.train_size=16",
    "data.test_size=16", "data.num_workers=0", "model.num_classes=3", "model.clip_len=4",
    "model.base_channels=4", "model.stage_blocks=[1, 1, 1]", "optim.batch_size=4",
    "schedule.epochs=1", "test.num_clips=1", "test.flip=false", "test.val_interval=0",
    "runtime.progress=false", "runtime.device=cpu",
]  # fmt: skip
_INTERNAL = (
    "KeyError", "IndexError", "RecursionError", "UnicodeDecodeError", "AttributeError",
    "ZeroDivisionError", "AssertionError", "OverflowError", "StopIteration", "NameError",
    "UnpicklingError", "BadZipFile", "struct.error", "_csv.Error", "JSONDecodeError",
)  # fmt: skip
_LIBRARY_TEXT = (
    "PytorchStreamReader", "miniz", "enforce fail", "inline_container", "alloc_cpu", "c10::",
)  # fmt: skip
_MEMORY = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "DefaultCPUAllocator")


@dataclass
class Result:
    """What one subprocess did."""

    rc: int | None
    out: str
    err: str
    seconds: float


@dataclass
class Case:
    """A hostile input: ``build(tmp)`` makes it and returns the command (``["pymg", ...]`` or
    ``["lib", code]``); ``names``: what a clear error must name (any one of them); ``ok``:
    when success is right, the check of the result (None: success is silent wrong)."""

    name: str
    issue: str
    build: Callable[[Path], list[str]]
    names: tuple[str, ...]
    ok: Callable[[Result, Path], bool] | None = None
    timeout: float = 120.0
    custom: Callable[[Path, float], tuple[str, str]] | None = field(default=None)


def sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def _limits(mem_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        os.setsid()

    return apply


LIB_PRELUDE = """
import sys
try:
    exec(compile(sys.argv[1], "<probe>", "exec"))
except BaseException as exc:
    text = str(exc).strip().splitlines()
    print("PROBE-ERROR", type(exc).__module__ + "." + type(exc).__name__,
          text[0] if text else "", sep="\\t", file=sys.stderr)
    sys.exit(3)
"""


def run(cmd: list[str], cwd: Path, timeout: float, mem_gib: float) -> Result:
    """Run ``cmd`` (pymg command or library code) under the limits; None rc = time ran out."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    if cmd[0] == "pymg":
        argv = [sys.executable, "-m", "pymg", *cmd[1:]]
    else:
        argv = [sys.executable, "-c", LIB_PRELUDE, cmd[1]]
    tic = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        errors="replace", preexec_fn=_limits(int(mem_gib * 2**30)),
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    return Result(rc, out, err, time.monotonic() - tic)


def classify(case: Case, res: Result, tmp: Path) -> tuple[str, str]:
    """``(class, detail)`` of a finished run."""
    if res.rc is None:
        return "hang", f"no end after {case.timeout:.0f} s"
    tail = (res.err.strip().splitlines() or [""])[-1][:300]
    if res.rc < 0:
        return "crash", f"killed by signal {-res.rc}: {tail}"
    if any(m in res.err for m in _MEMORY):
        return "crash", f"out of memory: {tail}"
    if res.rc == 0:
        if case.ok is not None and case.ok(res, tmp):
            return "correct", "ok"
        return "silent wrong", "exit 0" + (": wrong result" if case.ok else "")
    lib = re.search(r"^PROBE-ERROR\t(\S+)\t(.*)$", res.err, re.M)
    line = re.search(r"^pymg \S+: error: (.*)$", res.err, re.M)
    message = lib.group(2) if lib else line.group(1) if line else tail
    kind = lib.group(1) if lib else ""
    if "Traceback" in res.err and not lib:
        return "unclear error", f"traceback: {tail}"
    if "run with --debug" in message or any(k in kind or k in message for k in _INTERNAL):
        return "unclear error", message[:200]
    if any(k in message for k in _LIBRARY_TEXT):  # a library's internal message passed on
        return "unclear error", f"internal message: {message[:200]}"
    if not any(n in message for n in case.names):
        return "unclear error", f"names none of {list(case.names)}: {message[:200]}"
    return "clear error", message[:200]
