"""The training loop in parts, driven by a :class:`~pymg.engine.config.Config`.

:func:`train` joins the process group when launched by torchrun and runs, in order:

* :func:`set_up`: datasets, model, loss, SGD, learning-rate schedule, optional resume;
* per epoch :func:`train_one_epoch` (shuffle with a DistributedSampler seeded by
  ``(seed, epoch)``, move keypoint batches to the device, where the model draws its input, forward
  under autocast, clip gradients, step, set the per-iteration learning rate), :func:`validate`
  every ``test.val_interval`` epochs and :func:`save_epoch` (``latest.pt`` and ``best.pt``,
  written atomically);
* :func:`final_test`: the full test (multi-clip + flip), score file, metrics and confusion matrix.

The run speaks through the ``pymg`` logger (rank 0): a start-up block, a progress bar or periodic
lines per epoch, the measured speed with the time the run will take, one line per epoch
(:mod:`pymg.engine.progress`).

Work-dir files (rank 0 only): ``config.toml`` (the resolved config), ``metrics.jsonl`` (one JSON
object per line: ``event`` = ``"train"`` | ``"epoch"`` | ``"val"`` | ``"test"``), ``latest.pt``,
``best.pt``, and the final test's ``<split>_scores.npz``, ``<split>_predictions.csv``,
``<split>_metrics.json``, ``<split>_confusion.png``, named after the split tested
(``data.test_split``: ``test_*`` by default, ``val_*`` with ``data.test_split = "val"``).
Rank 0 holds the work dir's lock for the run
(:func:`pymg.engine.workdir.hold_work_dir`): a second run there refuses.

Exact resume: every random draw of an epoch is a function of ``(seed, epoch)`` (sampler order,
DataLoader worker seeds) or of the RNG states saved in the checkpoint (dropout, random temporal
offsets), so ``N`` epochs in one go and ``k`` epochs + ``--resume`` + ``N - k`` epochs give the
same weights on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pymg.engine.builders import skeleton_to_dict
from pymg.engine.checkpointing import capture_rng_state, save_checkpoint
from pymg.engine.config import Config, config_to_dict
from pymg.engine.distributed import (
    DistContext,
    all_gather_objects,
    all_reduce_mean,
    barrier,
    broadcast_buffers,
    init_distributed,
    peer_failures,
    shutdown,
)
from pymg.engine.evaluate import ScoreSet, adjust_scores, predict_dataset, write_outputs
from pymg.engine.progress import EpochProgress, startup_lines
from pymg.engine.runtime import autocast, to_device
from pymg.engine.schedule import LRSchedule
from pymg.engine.training_run import Run, log_main, seed_everything, set_up
from pymg.engine.workdir import hold_work_dir

__all__ = [
    "LRSchedule",
    "Run",
    "final_test",
    "save_epoch",
    "seed_everything",
    "set_up",
    "train",
    "train_one_epoch",
    "validate",
]


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + 17) % 2**63


def train(
    cfg: Config,
    *,
    resume: str | Path | bool | None = None,
    final_test: bool = True,
    stop_after: int | None = None,
    finetune_head: str | Path | None = None,
) -> dict[str, Any]:
    """Train (and test) as configured; see the module docstring for the files written.

    Args:
        cfg: the experiment.
        resume: ``True``/``"auto"`` = ``<work_dir>/latest.pt``, a checkpoint path, or None.
        final_test: run the full test (``cfg.test``) after the last epoch.
        stop_after: train at most this many epochs in this call (e.g. for time-limited jobs),
            then return; ``resume=True`` continues. The final test runs only once the
            schedule is complete.
        finetune_head: classifier re-training (cRT, Kang et al. 2020): start from this
            checkpoint, re-initialise the head and train only it (backbone frozen), with
            class-balanced sampling unless ``data.sampler`` names another than ``"instance"``.
            Resume such a run with the same ``finetune_head``.

    Returns:
        ``{"work_dir", "epochs", "epochs_run", "best": {...}, "test": metrics dict | None,
        "last_loss"}``.
    """
    if stop_after is not None and (isinstance(stop_after, bool) or stop_after < 1):
        raise ValueError(f"stop_after must be None or a positive int, got {stop_after!r}")
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a pymg.engine.Config, got {type(cfg).__name__}")
    owns_group = not torch.distributed.is_initialized()
    timeout = cfg.runtime.dist_timeout
    ctx = init_distributed(cfg.runtime.device, timeout)
    note = f"{cfg.runtime.work_dir}/latest.pt (if any) holds the last completed epoch: --resume"
    try:
        with hold_work_dir(cfg.runtime.work_dir, active=ctx.is_main):  # one run per work dir
            with peer_failures(ctx, timeout, note):
                return _run(cfg, ctx, resume, final_test, stop_after, finetune_head)
    finally:
        if owns_group:
            shutdown()


def _run(
    cfg: Config,
    ctx: DistContext,
    resume: str | Path | bool | None,
    run_final_test: bool,
    stop_after: int | None,
    finetune_head: str | Path | None = None,
) -> dict[str, Any]:
    """Set up, the epochs (train, validate, checkpoint), then the final test."""
    run = set_up(cfg, ctx, resume, finetune_head)
    log_main(ctx, "\n".join(startup_lines(run)))
    end_epoch = cfg.schedule.epochs
    if stop_after is not None:
        end_epoch = min(end_epoch, run.start_epoch + stop_after)
    last_loss = float("nan")
    test_metrics = None
    try:
        for epoch in range(run.start_epoch, end_epoch):
            last_loss, message = train_one_epoch(run, epoch)
            improved, note = validate(run, epoch)
            log_main(ctx, message + note)
            save_epoch(run, epoch, improved)
        if run_final_test and end_epoch == cfg.schedule.epochs:
            test_metrics = final_test(run)
    finally:
        if run.tensorboard is not None:
            run.tensorboard.close()
    return {
        "work_dir": str(run.work_dir),
        "epochs": cfg.schedule.epochs,
        "epochs_run": end_epoch - run.start_epoch,
        "best": run.best,
        "test": test_metrics,
        "last_loss": last_loss,
    }


def train_one_epoch(run: Run, epoch: int) -> tuple[float, str]:
    """One pass over the training set; returns the mean loss (all ranks) and the epoch line.

    No host sync inside a step: the loss is summed on the device and read once per epoch (and at
    the log interval).

    Raises:
        FloatingPointError: the epoch's mean loss is NaN or inf.
    """
    cfg, ctx = run.cfg, run.ctx
    run.model.train()
    if run.frozen is not None:
        run.frozen.eval()  # cRT: the frozen backbone keeps its BatchNorm statistics
    run.sampler.set_epoch(epoch)
    if hasattr(run.train_set, "set_epoch"):
        run.train_set.set_epoch(epoch)  # per-sample augmentation RNG = f(seed, epoch, index)
    run.loader_generator.manual_seed(_epoch_seed(cfg.runtime.seed, epoch))
    total = torch.zeros((), dtype=torch.float64, device=ctx.device)
    progress = EpochProgress(run, epoch)
    lr = run.schedule(run.iteration)
    for batch in progress:
        lr = run.schedule(run.iteration)
        loss = train_step(run, batch, lr)
        total += loss.detach().double()
        progress.step(int(batch["label"].shape[0]), loss, lr)
        _log_step(run, epoch, loss, lr, progress.rate)
    elapsed = progress.close()
    seen = progress.seen
    mean = all_reduce_mean(float(total) / max(len(run.loader), 1), ctx.device)
    if not math.isfinite(mean):
        raise FloatingPointError(
            f"training diverged: the mean loss of epoch {epoch + 1} is {mean}; "
            "lower optim.lr or check the data"
        )
    rate = seen * ctx.world_size / max(elapsed, 1e-9)
    if run.tensorboard is not None:
        run.tensorboard.epoch(run.iteration, mean, rate)
    run.log.write(
        event="epoch",
        epoch=epoch + 1,
        iter=run.iteration,
        loss=mean,
        lr=lr,
        seconds=elapsed,
        clips_per_s=rate,
    )
    return mean, f"{progress.desc}  loss {mean:.4f}  lr {lr:.3g}  {rate:.1f} clips/s"


def train_step(run: Run, batch: dict[str, Any], lr: float) -> torch.Tensor:
    """One optimizer step on a collated batch at learning rate ``lr``; returns the 0-d loss.

    The model draws its input on its device (:meth:`RecognizerModel.make_input`, ``length`` stays
    on the CPU), then the (DDP-)wrapped model runs the network on it.
    """
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    batch = to_device(batch, run.ctx.device)
    with autocast(run.ctx.device, run.amp):
        out = run.model(run.net.make_input(batch, training=True))
    embedding = out.embedding.float() if run.semantic and out.embedding is not None else None
    loss = run.criterion(out.logits.float(), batch["label"], embedding)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    if run.cfg.optim.grad_clip > 0:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.model.parameters(), run.cfg.optim.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.iteration += 1
    return loss


def _log_step(
    run: Run, epoch: int, loss: torch.Tensor, lr: float, rate: Callable[[], float]
) -> None:
    """The ``train`` record of ``metrics.jsonl`` every ``runtime.log_interval`` steps."""
    if run.iteration % max(run.cfg.runtime.log_interval, 1):
        return
    parts = {k: float(v) for k, v in getattr(run.criterion, "last", {}).items()}
    value = float(loss.detach())
    run.log.write(
        event="train",
        epoch=epoch + 1,
        iter=run.iteration,
        lr=lr,
        loss=value,
        parts=parts,
        clips_per_s=rate(),
    )
    if run.tensorboard is not None:
        run.tensorboard.train_step(run.iteration, value, lr, parts)


def evaluate(run: Run, num_clips: int, flip: bool) -> ScoreSet:
    """Scores of the test set with ``num_clips`` views (and flips) per clip (all ranks), post-hoc
    logit-adjusted when ``test.logit_adjust > 0``."""
    broadcast_buffers(run.net)
    scores = predict_dataset(
        run.model,
        run.test_set,
        run.class_names,
        run.ctx,
        num_clips=num_clips,
        flip=flip,
        batch_size=run.cfg.test.batch_size,
        num_workers=run.cfg.data.num_workers,
        size=run.cfg.data.test_size,
        amp=run.amp,
    )
    return adjust_scores(scores, run.train_counts, run.cfg.test.logit_adjust)


def _summary(run: Run, scores: ScoreSet) -> dict[str, Any]:
    """:func:`pymg.engine.metrics.summarize` with the training counts and shot thresholds."""
    from pymg.engine.metrics import summarize

    t = run.cfg.test
    return summarize(
        scores.scores, scores.labels, run.class_names, run.train_counts, t.many_shot, t.few_shot
    )


def _record(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics.jsonl fields of an evaluation (no confusion matrix)."""
    keys = ("top1", "top5", "mean_class_accuracy", "shots", "per_class", "classes")
    return {k: metrics[k] for k in keys if k in metrics}


def validate(run: Run, epoch: int) -> tuple[bool, str]:
    """Validate after ``epoch`` when ``test.val_interval`` says so; updates ``run.best``.

    Returns:
        ``(improved, note)``: whether ``schedule.select_by`` beat the best so far, and the text
        for the epoch line.
    """
    cfg = run.cfg
    interval = cfg.test.val_interval
    if interval <= 0 or ((epoch + 1) % interval and epoch + 1 != cfg.schedule.epochs):
        return False, ""
    val = evaluate(run, cfg.test.val_num_clips, cfg.test.val_flip)
    if not val.has_labels:
        return False, f"  ({cfg.data.test_split!r} is unlabelled: no validation metrics)"
    metrics = _summary(run, val)
    run.log.write(event="val", epoch=epoch + 1, **_record(metrics))
    if run.tensorboard is not None:
        run.tensorboard.evaluation(run.iteration, metrics, "val")
    note = (
        f"  val top1 {100 * metrics['top1']:.2f}%  top5 {100 * metrics['top5']:.2f}%  "
        f"mean class acc {100 * metrics['mean_class_accuracy']:.2f}%"
    )
    select_by = cfg.schedule.select_by
    value = metrics[select_by]
    if run.best["value"] is not None and value <= run.best["value"]:
        return False, note
    run.best = {"metric": select_by, "value": value, "epoch": epoch + 1}
    return True, note


def save_epoch(run: Run, epoch: int, improved: bool) -> None:
    """Write ``latest.pt`` (and ``best.pt`` when ``improved``) after ``epoch`` (rank 0)."""
    rng = all_gather_objects(capture_rng_state())
    if run.ctx.is_main:
        payload = {
            "config": config_to_dict(run.cfg),
            "model_spec": run.model_spec,
            "layout": skeleton_to_dict(run.layout),
            "class_names": list(run.class_names),
            "model": run.net.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict(),
            "epoch": epoch + 1,
            "iteration": run.iteration,
            "best": run.best,
            "rng": rng,
            "class_counts": [int(c) for c in run.train_counts],
            "finetune_head": run.finetune_head,
        }
        save_checkpoint(payload, run.work_dir / "latest.pt")
        if improved:
            save_checkpoint(payload, run.work_dir / "best.pt")
    barrier()


def final_test(run: Run) -> dict[str, Any] | None:
    """The full test (``cfg.test`` views) of ``data.test_split``: scores, submission, metrics,
    written as ``<split>_*`` (:func:`~pymg.engine.evaluate.write_outputs`); returns the metrics."""
    cfg, ctx = run.cfg, run.ctx
    result = evaluate(run, cfg.test.num_clips, cfg.test.flip)
    metrics = None
    if ctx.is_main:
        split = cfg.data.test_split
        metrics = write_outputs(
            result,
            run.work_dir,
            prefix=f"{split}_",
            train_counts=run.train_counts,
            shots=(cfg.test.many_shot, cfg.test.few_shot),
        )["metrics"]
        if metrics is not None:
            summary = {k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy")}
            run.log.write(event="test", epoch=cfg.schedule.epochs, split=split, **_record(metrics))
            if run.tensorboard is not None:
                run.tensorboard.evaluation(run.iteration, metrics, "test")
            log_main(
                ctx,
                f"{split}  top1 {100 * summary['top1']:.2f}%  "
                f"top5 {100 * summary['top5']:.2f}%  "
                f"mean class acc {100 * summary['mean_class_accuracy']:.2f}%",
            )
    barrier()
    return metrics
