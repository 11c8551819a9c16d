"""Thin helpers over torch.distributed for ``torchrun --nproc-per-node N -m pymg train ...``.

pymg does no process management of its own: torchrun (or any launcher that sets the ``env://``
variables RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) starts the processes; this
module joins the group (nccl on CUDA, gloo on CPU), picks the device and gathers results.

A stopped, hung or dead peer cannot hang the job: every collective waits at most
``runtime.dist_timeout`` seconds, and :func:`peer_failures` turns the backend's timeout into a
:class:`PeerTimeoutError` naming the ranks that stopped answering. To name them, each process
bumps a heartbeat counter in the launcher's key-value store from a background thread
(:class:`Heartbeat`); a rank whose counter stands still has stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistContext",
    "Heartbeat",
    "PeerTimeoutError",
    "all_gather_objects",
    "all_reduce_mean",
    "barrier",
    "broadcast_buffers",
    "init_distributed",
    "peer_failures",
    "shutdown",
]

DEFAULT_TIMEOUT = 1800.0
"""Seconds a collective waits for the other ranks (``runtime.dist_timeout``'s default)."""

_HEARTBEAT_KEY = "pymg/heartbeat/"


class PeerTimeoutError(TimeoutError):
    """A collective timed out: another rank stopped answering (stopped, hung or dead)."""


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size``, its ``device``; rank 0 writes files."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the only process that writes files and prints)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def _pick_device(device: str, local_rank: int) -> torch.device:
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("runtime.device = 'cuda' but no CUDA device is available")
    if device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    index = local_rank % torch.cuda.device_count()
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def check_timeout(timeout: Any) -> float:
    """``timeout`` as positive finite seconds, else a ValueError naming ``runtime.dist_timeout``."""
    ok = isinstance(timeout, int | float) and not isinstance(timeout, bool)
    if not ok or not math.isfinite(timeout) or timeout <= 0 or timeout > 7 * 86400:
        raise ValueError(
            f"runtime.dist_timeout must be a number of seconds in (0, 604800], got {timeout!r}"
        )
    return float(timeout)


def init_distributed(device: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> DistContext:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else run alone.

    Args:
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        timeout: seconds each collective waits for the other ranks (``runtime.dist_timeout``).

    Returns:
        The :class:`DistContext` of this process. Backend: nccl for CUDA, gloo for CPU.
    """
    seconds = check_timeout(timeout)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = _pick_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend, init_method="env://", timeout=timedelta(seconds=seconds)
        )
        Heartbeat.start(rank, seconds)
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def _bounded(fn: Any, seconds: float) -> tuple[bool, Any]:
    """``(True, fn())`` if ``fn`` returns within ``seconds``, else ``(False, None)``.

    ``fn`` runs in a daemon thread: a call into a stopped peer's store or group cannot hold
    this process (an exception in ``fn`` counts as not returning).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        with contextlib.suppress(Exception):
            box["value"] = fn()

    thread = threading.Thread(target=target, name="pymg-bounded", daemon=True)
    thread.start()
    thread.join(seconds)
    return ("value" in box), box.get("value")


def shutdown() -> None:
    """Leave the process group if one was joined (and stop this process's heartbeat).

    Leaving waits at most 30 s: with a stopped peer the backend may never answer, and the
    process is ending anyway.
    """
    Heartbeat.stop()
    if dist.is_initialized():
        _bounded(dist.destroy_process_group, 30.0)


class Heartbeat:
    """A daemon thread that bumps ``pymg/heartbeat/<rank>`` in the launcher's store.

    Uses its own client of the ``MASTER_ADDR:MASTER_PORT`` store, so the training thread's
    connection is never shared. One per process (class-level state).
    """

    _thread: threading.Thread | None = None
    _stop = threading.Event()
    interval = 1.0

    @classmethod
    def start(cls, rank: int, timeout: float) -> None:
        """Start beating every ``min(max(timeout / 10, 0.1), 5)`` seconds (no-op without a
        ``MASTER_ADDR``/``MASTER_PORT`` store, or when already running)."""
        if cls._thread is not None:
            return
        store = _store_client()
        if store is None:
            return
        cls.interval = min(max(timeout / 10, 0.1), 5.0)
        cls._stop = threading.Event()
        cls._thread = threading.Thread(
            target=cls._beat, args=(store, rank, cls._stop), name="pymg-heartbeat", daemon=True
        )
        cls._thread.start()

    @classmethod
    def stop(cls) -> None:
        """Stop the thread (if any)."""
        if cls._thread is not None:
            cls._stop.set()
            cls._thread.join(timeout=2)  # a daemon: a store that hangs cannot hold us
            cls._thread = None

    @classmethod
    def _beat(cls, store: Any, rank: int, stop: threading.Event) -> None:
        who = f"{os.getpid()} {socket.gethostname()}"
        count = 0
        while not stop.is_set():
            count += 1
            try:
                store.set(f"{_HEARTBEAT_KEY}{rank}", f"{count} {who}")
            except Exception:  # the store went away (job ending): stop beating
                return
            stop.wait(cls.interval)


def _store_client(seconds: float = 10.0) -> Any:
    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not addr or not port:
        return None
    try:
        return dist.TCPStore(addr, int(port), is_master=False, timeout=timedelta(seconds=seconds))
    except Exception:
        return None


def _read_beats(store: Any, world_size: int) -> dict[int, tuple[str, str]]:
    """``{rank: (count, "pid host")}`` of the ranks that have a heartbeat."""
    out = {}
    for r in range(world_size):
        key = f"{_HEARTBEAT_KEY}{r}"
        if store.check([key]):
            count, _, who = store.get(key).decode().partition(" ")
            out[r] = (count, who)
    return out


def silent_ranks(ctx: DistContext) -> tuple[list[int], dict[int, str]] | None:
    """Ranks (not this one) whose heartbeat stands still over three beats, and ``{rank: "pid
    PID on host HOST"}`` as last reported; None when the store does not answer within 10 s."""

    def read() -> dict[int, tuple[str, str]]:
        return _read_beats(_store_client(), ctx.world_size)

    answered, before = _bounded(read, 10.0)
    if not answered:
        return None
    time.sleep(3 * Heartbeat.interval + 0.2)
    answered, after = _bounded(read, 10.0)
    if not answered:
        return None
    others = [r for r in range(ctx.world_size) if r != ctx.rank]
    silent = [r for r in others if r not in after or before.get(r) == after[r]]
    who = {}
    for r, (_, text) in after.items():
        pid, _, host = text.partition(" ")
        who[r] = f"pid {pid} on host {host}"
    return silent, who


def _peer_cause(ctx: DistContext) -> str:
    """Which peers stopped answering, for the timeout message."""
    found = silent_ranks(ctx)
    if found is None:
        where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
        return (
            f"the launcher's store at {where} does not answer either, so the silent rank is "
            "unknown (the process hosting the store, rank 0 without torchrun, may be stopped)"
        )
    silent, who = found
    if not silent:
        return "the other ranks are alive but did not join the collective (hung?)"
    names = ", ".join(f"rank {r} ({who.get(r, 'never reported')})" for r in silent)
    return f"{names} stopped answering (stopped, hung or dead)"


def _is_timeout(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("timed out" in text or "timeout" in text)


@contextlib.contextmanager
def peer_failures(ctx: DistContext, timeout: float, note: str = "") -> Iterator[None]:
    """Turn a collective's timeout inside the block into a :class:`PeerTimeoutError`.

    The message names this rank, the ranks whose heartbeat stopped (with pid and host), the
    timeout and ``note`` (e.g. where the last checkpoint is). No-op when running alone.
    """
    try:
        yield
    except Exception as exc:
        if not ctx.distributed or not _is_timeout(exc):
            raise
        cause = _peer_cause(ctx)
        raise PeerTimeoutError(
            f"rank {ctx.rank}: a collective waited runtime.dist_timeout={timeout:g} s for its "
            f"peers: {cause}{'; ' + note if note else ''}"
        ) from exc


def barrier() -> None:
    """Wait for every process (no-op when running alone)."""
    if dist.is_initialized():
        dist.barrier()


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` when running alone."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(value: float, device: torch.device) -> float:
    """Mean of a scalar over all ranks (the value itself when running alone)."""
    if not dist.is_initialized():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP keeps parameters in sync, but each rank's last training forward updates its own
    running statistics; evaluating (sharded) after this makes every rank score with the same
    model as the checkpoint rank 0 writes. No-op when running alone.
    """
    if not dist.is_initialized():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)
