"""A stopped peer cannot hang a distributed run: ``runtime.dist_timeout`` bounds every collective
and the error names the rank that stopped answering (two gloo processes on loopback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_ddp import free_port

from pymg.engine import load_checkpoint
from pymg.engine.distributed import check_timeout, init_distributed

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


@pytest.mark.parametrize("bad", [0, -4, float("nan"), float("inf"), True, "10"])
def test_dist_timeout_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match=r"runtime\.dist_timeout must be a number of seconds"):
        check_timeout(bad)
    with pytest.raises(ValueError, match=r"runtime\.dist_timeout"):
        init_distributed("cpu", bad)  # type: ignore[arg-type]


def _launch(
    rank: int, port: int, work: Path, log: Path, tiny: list[str]
) -> subprocess.Popen[bytes]:
    overrides = [
        *tiny,
        "schedule.epochs=200",
        "test.val_interval=0",
        "runtime.dist_timeout=4",
    ]
    args = [a for item in overrides for a in ("--set", item)]
    env = dict(
        os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
        WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank),
    )  # fmt: skip
    cmd = [sys.executable, "-m", "pymg", "train", "demo", "--work-dir", str(work), *args]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("stopped", [1, 0])
def test_stopped_rank_ends_the_job_with_a_clear_error(
    tmp_path: Path, stopped: int, tiny_training: list[str]
) -> None:
    work, port = tmp_path / "work", free_port()
    procs = [_launch(r, port, work, tmp_path / f"rank{r}.log", tiny_training) for r in (0, 1)]
    waiter = 1 - stopped
    try:
        deadline = time.monotonic() + 120
        while not (work / "latest.pt").is_file():  # training runs: both ranks answer
            assert time.monotonic() < deadline, (tmp_path / "rank0.log").read_text()
            assert procs[0].poll() is None, (tmp_path / "rank0.log").read_text()
            time.sleep(0.05)
        os.kill(procs[stopped].pid, signal.SIGSTOP)
        tic = time.monotonic()
        code = procs[waiter].wait(timeout=90)
        waited = time.monotonic() - tic
    finally:
        for p in procs:
            p.kill()
            p.wait()
    out = (tmp_path / f"rank{waiter}.log").read_text()
    assert code == 2, out
    assert waited < 4 + 30, f"rank {waiter} needed {waited:.1f} s to give up"
    line = [x for x in out.splitlines() if x.startswith("pymg train: error:")]
    assert len(line) == 1, out
    assert line[0].startswith(f"pymg train: error: rank {waiter}: a collective waited ")
    assert "runtime.dist_timeout=4 s" in line[0] and "Traceback" not in out
    if stopped == 1:  # the store (torchrun's, or rank 0's here) answers: the rank is named
        assert f"rank 1 (pid {procs[1].pid} on host " in line[0]
        assert "stopped answering" in line[0]
    else:  # rank 0 hosts the store without torchrun: it is stopped too
        assert f"the launcher's store at 127.0.0.1:{port} does not answer either" in line[0]
    ck = load_checkpoint(work / "latest.pt")  # the last checkpoint is whole
    assert ck["epoch"] >= 1
