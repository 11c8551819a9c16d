"""One run per work dir: the lock (two processes), its take-over after a kill, the clean-up of
checkpoint temporaries, and the refusal of a second training in a busy work dir."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pymg.cli import main
from pymg.engine.workdir import LOCK_NAME, WorkDirLockedError, hold_work_dir

HOLD = """
import sys, time
from pymg.engine.workdir import hold_work_dir
with hold_work_dir(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(work: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(work)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def test_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    work = tmp_path / "work"
    proc = _holder(work)
    try:
        host = socket.gethostname()
        pattern = (
            rf"in use by another run \(pid {proc.pid} on host {host}, started .* UTC; "
            rf"lock file .*{LOCK_NAME}\)"
        )
        with pytest.raises(WorkDirLockedError, match=pattern):
            with hold_work_dir(work):
                pass
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_lock_of_a_killed_run_is_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = tmp_path / "work"
    proc = _holder(work)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()
    leftovers = [".latest.pt.ab12_x9z.tmp", ".best.pt.k2j4h5g6.tmp"]
    kept = [".latest.pt.tmp", "notes.tmp", ".latest.pt.abcdefghi.tmp", "latest.pt"]
    for name in leftovers + kept:
        (work / name).write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="pymg"):
        with hold_work_dir(work) as lock:
            assert lock is not None
            assert lock.read_text().split()[0] == str(os.getpid())
            assert sorted(p.name for p in work.iterdir()) == sorted([*kept, LOCK_NAME])
    text = caplog.text
    assert f"taking over the lock of a run that ended without releasing it (pid {proc.pid}" in text
    assert "removed 2 leftover temporary file(s)" in text
    assert (work / LOCK_NAME).read_text() == ""  # a clean exit empties the lock file
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pymg"), hold_work_dir(work):
        pass
    assert caplog.text == ""  # nothing to take over after a clean exit


def test_inactive_rank_takes_no_lock(tmp_path: Path) -> None:
    with hold_work_dir(tmp_path / "w", active=False) as lock:
        assert lock is None
    assert not (tmp_path / "w").exists()


def test_second_training_in_a_busy_work_dir_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tiny_sets: list[str]
) -> None:
    work = tmp_path / "work"
    args = [*tiny_sets, "--set", "schedule.epochs=100"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "pymg", "train", "demo", "--work-dir", str(work), *args]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (work / "latest.pt").is_file():
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        before = (work / "latest.pt").stat().st_mtime_ns
        code = main(["train", "demo", "--work-dir", str(work), *args])
        err = capsys.readouterr().err
        assert code == 2
        assert f"is in use by another run (pid {first.pid} on host" in err
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait()
        assert first.stderr is not None
        first.stderr.close()
    assert (work / "latest.pt").stat().st_mtime_ns >= before
    epochs = [json.loads(x)["epoch"] for x in (work / "metrics.jsonl").read_text().splitlines()
              if x.endswith("}") and json.loads(x)["event"] == "epoch"]  # fmt: skip
    assert epochs == list(range(1, len(epochs) + 1))  # one writer: no interleaved records
