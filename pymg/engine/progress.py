"""What a training run tells its user while it runs, through the ``pymg`` logger.

* :func:`startup_lines`: the block logged before the first step (device, threads, layout, clips
  per split, classes, epochs, steps per epoch, AMP, work dir);
* :class:`EpochProgress`: per epoch, a tqdm bar with an ETA on an interactive stderr, else a plain
  log line every ``runtime.log_interval`` steps (and every :data:`PLAIN_EVERY_SECONDS`) with the
  same numbers;
* after the first :data:`SPEED_PROBE_STEPS` steps (fewer after :data:`SPEED_PROBE_SECONDS`),
  the measured speed and how long the run will take, logged as a warning (with a quicker set-up)
  when it runs on a CPU for longer than :data:`CPU_WARN_SECONDS`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import torch

__all__ = [
    "CPU_WARN_SECONDS",
    "PLAIN_EVERY_SECONDS",
    "QUICK_RUN_HINT",
    "SPEED_PROBE_SECONDS",
    "SPEED_PROBE_STEPS",
    "EpochProgress",
    "format_duration",
    "startup_lines",
]

log = logging.getLogger(__name__)

CPU_WARN_SECONDS = 30 * 60.0
"""A CPU run whose training is estimated to take longer than this gets a warning."""
SPEED_PROBE_STEPS = 5
"""Steps of the first epoch timed for the estimate ..."""
SPEED_PROBE_SECONDS = 20.0
"""... or fewer (at least one) when they take longer than this."""
PLAIN_EVERY_SECONDS = 60.0
"""Without a terminal, a progress line every ``runtime.log_interval`` steps, and at least this
often when steps are slow."""
QUICK_RUN_HINT = (
    "for a quick run, shrink it, e.g. --set schedule.epochs=1 --set model.clip_len=16 "
    "--set data.train_size=32 --set data.test_size=32 --set test.num_clips=1, "
    "or try `pymg demo --quick`"
)


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"12 min"``, ``"3 h 20 min"``, ``"2 d 4 h"``."""
    s = max(float(seconds), 0.0)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    hours, minutes = divmod(round(s / 60), 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _count(dataset: Any) -> str:
    return f"{len(dataset):,}" if dataset is not None else "-"


def startup_lines(run: Any) -> list[str]:
    """The start-up block of a :class:`~pymg.engine.training_run.Run`, one string per line."""
    cfg, ctx = run.cfg, run.ctx
    d = cfg.data
    threads = torch.get_num_threads()
    if ctx.device.type == "cuda":
        where = f"{ctx.device} ({torch.cuda.get_device_name(ctx.device)})"
    else:
        where = f"{ctx.device} ({_plural(threads, 'thread')})"
    if ctx.world_size > 1:
        where += f" x {ctx.world_size} processes"
    layout = run.layout
    steps = len(run.loader)
    epochs = cfg.schedule.epochs
    resumed = f", resuming after epoch {run.start_epoch}" if run.start_epoch else ""
    return [
        f"pymg train: {cfg.name}",
        f"  device     {where}, AMP {run.amp}",
        f"  data       {d.source}, layout {layout.name} ({len(layout.joints)} joints)",
        f"  clips      {d.train_split} {_count(run.train_set)}, {d.test_split} "
        f"{_count(run.test_set)}",
        f"  classes    {len(run.class_names)}",
        f"  model      {cfg.model.arch} ({type(run.net).__name__})",
        f"  schedule   {_plural(epochs, 'epoch')} x {_plural(steps, 'step')} "
        f"(batch {cfg.optim.batch_size}{' per process' if ctx.world_size > 1 else ''}){resumed}",
        f"  work dir   {run.work_dir}",
    ]


class EpochProgress:
    """Progress of one training epoch: iterate over it for the batches, call :meth:`step` after
    each optimizer step and :meth:`close` at the end.

    On rank 0 with ``runtime.progress`` on: a tqdm bar on an interactive stderr (it shows an ETA
    after the first steps), else a plain log line every ``runtime.log_interval`` steps.
    In the first epoch a run trains, the first :data:`SPEED_PROBE_STEPS` steps are timed and the
    estimate of the whole run is logged (see the module docstring).
    """

    def __init__(self, run: Any, epoch: int) -> None:
        self.run, self.epoch = run, epoch
        self.total = len(run.loader)
        self.desc = f"epoch {epoch + 1}/{run.cfg.schedule.epochs}"
        speak = run.cfg.runtime.progress and run.ctx.is_main
        self.bar: Any = None
        if speak and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, leave=False, dynamic_ncols=True)
        self.plain = speak and self.bar is None
        self.probe = run.ctx.is_main and epoch == run.start_epoch
        self.steps, self.seen, self.tic = 0, 0, time.perf_counter()
        self.said = self.tic  # when the last plain line was logged

    def __iter__(self) -> Iterator[Any]:
        return iter(self.run.loader)

    def rate(self) -> float:
        """Clips per second so far, all processes together."""
        return self.seen * self.run.ctx.world_size / max(time.perf_counter() - self.tic, 1e-9)

    def step(self, clips: int, loss: torch.Tensor, lr: float) -> None:
        """Account for one step of ``clips`` clips (this process) with ``loss`` at ``lr``."""
        self.steps += 1
        self.seen += clips
        if self.bar is not None:
            self.bar.update(1)
            if self.steps % 5 == 0:
                self.bar.set_postfix(
                    loss=f"{float(loss.detach()):.3f}", lr=f"{lr:.2e}", clips_s=f"{self.rate():.0f}"
                )
        interval = max(self.run.cfg.runtime.log_interval, 1)
        due = self.steps % interval == 0 or time.perf_counter() - self.said > PLAIN_EVERY_SECONDS
        if self.plain and due and self.steps < self.total:
            self.said = time.perf_counter()
            left = (self.total - self.steps) * (time.perf_counter() - self.tic) / self.steps
            log.info(
                f"{self.desc}  step {self.steps}/{self.total}  loss {float(loss.detach()):.4f}  "
                f"{self.rate():.1f} clips/s  epoch ETA {format_duration(left)}"
            )
        slow = time.perf_counter() - self.tic > SPEED_PROBE_SECONDS
        if self.probe and (self.steps == min(SPEED_PROBE_STEPS, self.total) or slow):
            self.probe = False
            self._estimate()

    def _estimate(self) -> None:
        """Log the measured speed and the time the remaining epochs will take."""
        run = self.run
        per_step = (time.perf_counter() - self.tic) / self.steps
        epochs = run.cfg.schedule.epochs - self.epoch
        seconds = per_step * self.total * epochs
        text = (
            f"{self.rate():.1f} clips/s on {run.ctx.device.type}: {_plural(epochs, 'epoch')} of "
            f"{_plural(self.total, 'step')} take about "
            f"{format_duration(seconds)} (plus validation and the final test)"
        )
        if self.bar is not None:
            self.bar.clear()
        if run.ctx.device.type == "cpu" and seconds > CPU_WARN_SECONDS:
            log.warning(f"this run is sized for a GPU: at {text}; {QUICK_RUN_HINT}")
        else:
            log.info(f"speed: {text}")
        if self.bar is not None:
            self.bar.refresh()

    def close(self) -> float:
        """Close the bar; returns the epoch's seconds."""
        if self.bar is not None:
            self.bar.close()
        return time.perf_counter() - self.tic
