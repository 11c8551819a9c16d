"""A DataLoader whose worker processes leave Ctrl-C to the main process.

Ctrl-C in a terminal sends SIGINT to the whole process group, loader workers included. A worker
hit while it starts (Python's at-fork hooks, torch's worker set-up) prints a traceback and dies,
and the main process may then report a dead worker instead of the interruption. Here SIGINT is
blocked while the workers are forked (they inherit the blocked mask), each worker ignores it
before unblocking, and the main process receives it as usual: the run ends with
``KeyboardInterrupt`` and the workers are shut down by the loader. A worker's helper thread that
hands tensors to the main process (multiprocessing's resource sharer) loses its connection when
the main process stops mid-transfer; that expected ``ConnectionError`` is not printed.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from torch.utils.data import DataLoader

__all__ = ["QuietWorkersLoader"]


def _quiet_lost_connection(kind: type[BaseException], value: Any, tb: Any) -> None:
    """Workers' ``sys.excepthook`` (which multiprocessing's resource sharer thread reports
    through): drop a lost connection to the main process, report anything else."""
    if issubclass(kind, ConnectionError | EOFError):
        return
    sys.__excepthook__(kind, value, tb)


def _worker_init(user_init: Callable[[int], None] | None, worker_id: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    sys.excepthook = _quiet_lost_connection
    if user_init is not None:
        user_init(worker_id)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold SIGINT back (delivered on exit) in the main thread; no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class QuietWorkersLoader(DataLoader[Any]):
    """:class:`torch.utils.data.DataLoader` with SIGINT-proof workers (same arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["worker_init_fn"] = functools.partial(_worker_init, kwargs.get("worker_init_fn"))
        super().__init__(*args, **kwargs)

    def __iter__(self) -> Any:
        if self.num_workers == 0:
            return super().__iter__()
        with _sigint_blocked():  # the workers are forked here
            return super().__iter__()
