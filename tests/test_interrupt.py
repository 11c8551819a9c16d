"""Ctrl-C to the process group of a training with loader workers always ends cleanly:
``pymg: interrupted``, exit 130, no traceback from the main process or a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pymg.engine.loader import QuietWorkersLoader


class _Handlers(torch.utils.data.Dataset[int]):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        return int(ignored) + 2 * int(blocked)


def test_workers_ignore_sigint_and_the_main_process_keeps_it() -> None:
    seen = []
    loader = QuietWorkersLoader(
        _Handlers(), batch_size=1, num_workers=2, worker_init_fn=lambda i: seen.append(i)
    )
    assert [int(b) for b in loader] == [1, 1, 1, 1]  # ignored, not left blocked
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert [int(b) for b in QuietWorkersLoader(_Handlers(), num_workers=0)] == [0, 0, 0, 0]


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.2])
def test_ctrl_c_with_workers_ends_cleanly(
    tmp_path: Path, delay: float, tiny_training: list[str]
) -> None:
    work = tmp_path / "work"
    overrides = [
        *tiny_training,
        "data.num_workers=2",
        "schedule.epochs=100",
        "runtime.log_interval=1",
    ]
    args = [a for item in overrides for a in ("--set", item)]
    cmd = [sys.executable, "-m", "pymg", "train", "demo", "--work-dir", str(work), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (work / "metrics.jsonl").is_file():  # training has started
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "pymg: interrupted", err
    assert "Traceback" not in err and "Exception ignored" not in err, err
