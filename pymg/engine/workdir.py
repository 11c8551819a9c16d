"""One run per work dir: an exclusive lock held for the whole run, and clean-up of leftovers.

:func:`hold_work_dir` takes an ``fcntl`` lock on ``<work_dir>/.pymg.lock`` (rank 0 only, the one
process that writes there) and keeps it until the run ends. A second run in the same work dir
refuses with :class:`WorkDirLockedError`, naming the pid and host that hold it. The kernel drops
the lock when its process dies, so a lock left by a killed run is taken over (with a log line
naming the dead run). The lock file holds ``pid host start-time`` of the current holder and is
emptied on a clean exit.

Under the lock, checkpoint temporaries left by a kill during a write
(``.latest.pt.<random>.tmp``, ``.best.pt.<random>.tmp``: the pattern of
:func:`pymg.engine.checkpointing.save_checkpoint`) are removed; nothing else is touched.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["LOCK_NAME", "WorkDirLockedError", "hold_work_dir", "remove_stale_temporaries"]

LOCK_NAME = ".pymg.lock"
"""Name of the lock file inside a work dir."""

_TEMP_PATTERN = re.compile(r"^\.(latest|best)\.pt\.[A-Za-z0-9_]{8}\.tmp$")
"""Names that :func:`tempfile.mkstemp` gives checkpoint temporaries (prefix ``.<name>.``)."""

logger = logging.getLogger("pymg.workdir")


class WorkDirLockedError(OSError):
    """Another live run holds the work dir's lock."""


def _holder(text: str) -> str:
    parts = text.split()
    if len(parts) >= 2 and parts[0].isdigit():
        when = ""
        if len(parts) >= 3:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                stamp = time.gmtime(float(parts[2]))
                when = f", started {time.strftime('%Y-%m-%d %H:%M:%S UTC', stamp)}"
        return f"pid {parts[0]} on host {parts[1]}{when}"
    return "an unknown process"


def _acquire(path: Path) -> IO[str]:
    """Open and lock ``path`` (non-blocking); the returned handle holds the lock."""
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.seek(0)
        holder = _holder(handle.read(200))
        handle.close()
        if exc.errno not in (errno.EAGAIN, errno.EACCES):
            reason = f"cannot lock the work dir ({exc.strerror})"
            raise OSError(exc.errno, reason, str(path)) from exc
        raise WorkDirLockedError(
            f"work dir {path.parent} is in use by another run ({holder}; lock file {path}); "
            "wait for it to end or choose another runtime.work_dir"
        ) from None
    handle.seek(0)
    previous = handle.read(200).strip()
    if previous:
        logger.warning(
            "work dir %s: taking over the lock of a run that ended without releasing it (%s)",
            path.parent,
            _holder(previous),
        )
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n")
    handle.flush()
    return handle


def remove_stale_temporaries(work_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete the checkpoint temporaries a killed run left in ``work_dir``; returns them.

    Call only while holding the work dir's lock (no live run is writing one then).
    """
    removed = []
    for entry in Path(work_dir).iterdir():
        if _TEMP_PATTERN.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    if removed:
        names = ", ".join(p.name for p in removed)
        logger.warning(
            "work dir %s: removed %d leftover temporary file(s): %s", work_dir, len(removed), names
        )
    return removed


@contextlib.contextmanager
def hold_work_dir(work_dir: str | os.PathLike[str], active: bool = True) -> Iterator[Path | None]:
    """Hold ``<work_dir>/.pymg.lock`` for the ``with`` block (creates ``work_dir``).

    Args:
        work_dir: the run's output folder.
        active: False for processes that write nothing (ranks other than 0): no lock is taken.

    Yields:
        The lock file's path (None when not ``active``).

    Raises:
        WorkDirLockedError: another live run holds the lock (names its pid and host).
    """
    if not active:
        yield None
        return
    folder = Path(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    handle = _acquire(path)
    try:
        remove_stale_temporaries(folder)
        yield path
    finally:
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()  # closing the descriptor releases the lock
