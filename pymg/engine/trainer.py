"""The training loop: one function, :func:`train`, driven by a :class:`~pymg.engine.config.Config`.

What it does, in order: join the process group when launched by torchrun; build datasets, model,
loss and SGD; optionally resume; then per epoch: shuffle with a DistributedSampler seeded by
``(seed, epoch)``, move keypoint batches to the device (heatmaps are drawn there by the model),
forward under autocast, clip gradients, step, set the per-iteration learning rate; evaluate
every ``test.val_interval`` epochs; write ``latest.pt`` (and ``best.pt``) atomically. At the end
it runs the full test (multi-clip + flip) and writes the score file, metrics and confusion matrix.

Work-dir files (rank 0 only): ``config.toml`` (the resolved config), ``metrics.jsonl`` (one JSON
object per line: ``event`` = ``"train"`` | ``"epoch"`` | ``"val"`` | ``"test"``), ``latest.pt``,
``best.pt``, ``test_scores.npz``, ``test_metrics.json``, ``test_confusion.png``,
``test_predictions.csv``.

Exact resume: every random draw of an epoch is a function of ``(seed, epoch)`` (sampler order,
DataLoader worker seeds) or of the RNG states saved in the checkpoint (dropout, random temporal
offsets), so ``N`` epochs in one go and ``k`` epochs + ``--resume`` + ``N - k`` epochs give the
same weights on the CPU.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from pymg.engine.builders import (
    build_criterion,
    build_datasets,
    build_model,
    label_embeddings_for,
    resolve_layout,
    skeleton_to_dict,
)
from pymg.engine.checkpointing import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from pymg.engine.config import Config, ConfigError, config_to_dict, config_to_toml
from pymg.engine.distributed import (
    DistContext,
    all_gather_objects,
    all_reduce_mean,
    barrier,
    broadcast_buffers,
    init_distributed,
    shutdown,
)
from pymg.engine.evaluate import (
    autocast,
    predict_dataset,
    save_scores,
    write_report,
    write_submission,
)

__all__ = ["LRSchedule", "seed_everything", "train"]


class LRSchedule:
    """Learning rate per iteration: linear warmup, then cosine (or constant) to ``min_lr``.

    ``lr(i) = base * (f + (1 - f) * i / W)`` for ``i < W`` (warmup iterations, ``f`` the warmup
    factor), then cosine: ``min_lr + (base - min_lr) * (1 + cos(pi * (i - W) / (I - W))) / 2``
    where ``I`` is the total number of iterations (so the last step uses almost ``min_lr``).
    """

    def __init__(
        self,
        base_lr: float,
        total_iters: int,
        *,
        policy: str = "cosine",
        warmup_iters: int = 0,
        warmup_factor: float = 0.1,
        min_lr: float = 0.0,
    ) -> None:
        if total_iters < 1:
            raise ValueError(f"total_iters must be >= 1, got {total_iters}")
        if policy not in ("cosine", "constant"):
            raise ValueError(f"policy must be 'cosine' or 'constant', got {policy!r}")
        if not 0 <= warmup_iters <= total_iters:
            raise ValueError(f"warmup_iters must lie in [0, {total_iters}], got {warmup_iters}")
        self.base_lr = float(base_lr)
        self.total_iters = int(total_iters)
        self.policy = policy
        self.warmup_iters = int(warmup_iters)
        self.warmup_factor = float(warmup_factor)
        self.min_lr = float(min_lr)

    def __call__(self, iteration: int) -> float:
        """The learning rate of 0-based ``iteration``."""
        if iteration < self.warmup_iters:
            f = self.warmup_factor
            return self.base_lr * (f + (1.0 - f) * iteration / self.warmup_iters)
        if self.policy == "constant":
            return self.base_lr
        span = max(self.total_iters - self.warmup_iters, 1)
        progress = min((iteration - self.warmup_iters) / span, 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr + (self.base_lr - self.min_lr) * cosine


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG is what we seed
    torch.manual_seed(seed)


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + 17) % 2**63


class _JsonLog:
    """Append-only JSON-lines file (rank 0); other ranks get a no-op."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, **record: Any) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) if torch.is_tensor(v) else v for k, v in batch.items()}


def _resolve_resume(resume: str | Path | bool | None, work_dir: Path) -> Path | None:
    if resume is None or resume is False:
        return None
    if resume is True or resume == "auto":
        path = work_dir / "latest.pt"
        if not path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint to resume at {path}")
        return path
    return Path(resume)


def _progress(iterable: Any, enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def _log(ctx: DistContext, message: str) -> None:
    if ctx.is_main:
        print(message, flush=True)


def train(
    cfg: Config,
    *,
    resume: str | Path | bool | None = None,
    final_test: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (and test) as configured; see the module docstring for the files written.

    Args:
        cfg: the experiment.
        resume: ``True``/``"auto"`` = ``<work_dir>/latest.pt``, a checkpoint path, or None.
        final_test: run the full test (``cfg.test``) after the last epoch.
        stop_after: train at most this many epochs in this call (e.g. for time-limited jobs),
            then return; ``resume=True`` continues. The final test runs only once the
            schedule is complete.

    Returns:
        ``{"work_dir", "epochs", "epochs_run", "best": {...}, "test": metrics dict | None,
        "last_loss"}``.
    """
    if stop_after is not None and (isinstance(stop_after, bool) or stop_after < 1):
        raise ValueError(f"stop_after must be None or a positive int, got {stop_after!r}")
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a pymg.engine.Config, got {type(cfg).__name__}")
    owns_group = not torch.distributed.is_initialized()
    ctx = init_distributed(cfg.runtime.device)
    try:
        return _train(cfg, ctx, resume, final_test, stop_after)
    finally:
        if owns_group:
            shutdown()


def _train(
    cfg: Config,
    ctx: DistContext,
    resume: str | Path | bool | None,
    final_test: bool,
    stop_after: int | None,
) -> dict[str, Any]:
    from pymg.data import collate

    rt = cfg.runtime
    if rt.threads > 0:
        torch.set_num_threads(rt.threads)
    if rt.deterministic:
        torch.use_deterministic_algorithms(True)
    work_dir = Path(rt.work_dir)
    resume_path = _resolve_resume(resume, work_dir)
    seed_everything(rt.seed)  # identical initial weights on every rank
    train_set, test_set, class_names = build_datasets(cfg)
    unlabelled = int((train_set.labels < 0).sum())
    if unlabelled:
        raise ConfigError(
            f"split {cfg.data.train_split!r} of {cfg.data.source!r} holds {unlabelled} unlabelled "
            "clip(s) (label -1): train on a labelled split (data.train_split)"
        )
    layout = resolve_layout(cfg.data.layout)
    embeddings = label_embeddings_for(cfg)
    embed_dim = None if embeddings is None else int(embeddings.shape[1])
    model = build_model(cfg, layout, embed_dim).to(ctx.device)
    if rt.channels_last and cfg.model.arch == "posec3d":  # 3D convolutions only
        model = model.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    criterion = build_criterion(cfg, embeddings).to(ctx.device)
    base_lr = cfg.optim.lr
    if cfg.optim.lr_batch_size > 0:  # linear scaling rule: lr is given for lr_batch_size
        base_lr *= cfg.optim.batch_size * ctx.world_size / cfg.optim.lr_batch_size
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=base_lr,
        momentum=cfg.optim.momentum,
        weight_decay=cfg.optim.weight_decay,
        nesterov=cfg.optim.nesterov,
    )
    amp = rt.amp if rt.amp != "auto" else ("bf16" if ctx.device.type == "cuda" else "off")
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=amp == "fp16")

    sampler: DistributedSampler[Any] = DistributedSampler(
        train_set, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=rt.seed
    )
    loader_generator = torch.Generator()
    per_rank = len(sampler)
    loader = DataLoader(
        train_set,
        batch_size=cfg.optim.batch_size,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        collate_fn=collate,
        drop_last=per_rank > cfg.optim.batch_size,
        generator=loader_generator,
        pin_memory=ctx.device.type == "cuda",
    )
    steps = len(loader)
    if steps == 0 or len(test_set) == 0:
        empty = cfg.data.train_split if steps == 0 else cfg.data.test_split
        raise ConfigError(f"split {empty!r} of {cfg.data.source!r} holds no clips")
    schedule = LRSchedule(
        base_lr,
        steps * cfg.schedule.epochs,
        policy=cfg.schedule.policy,
        warmup_iters=min(round(cfg.schedule.warmup_epochs * steps), steps * cfg.schedule.epochs),
        warmup_factor=cfg.schedule.warmup_factor,
        min_lr=cfg.schedule.min_lr,
    )

    start_epoch, iteration = 0, 0
    best: dict[str, Any] = {"metric": "top1", "value": None, "epoch": None}
    rng_states: list[Any] | None = None
    if resume_path is not None:
        ck = load_checkpoint(resume_path, map_location="cpu")
        try:
            model.load_state_dict(ck["model"])
            optimizer.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0]
            raise ValueError(
                f"{resume_path} does not fit the configured model/optimizer ({reason})"
            ) from exc
        if "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        start_epoch, iteration, best = int(ck["epoch"]), int(ck["iteration"]), dict(ck["best"])
        rng_states = list(ck["rng"])
        _log(ctx, f"resumed from {resume_path} after epoch {start_epoch}")
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=ids)
    net = model.module if isinstance(model, DistributedDataParallel) else model

    log = _JsonLog(work_dir / "metrics.jsonl" if ctx.is_main else None)
    if ctx.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "config.toml").write_text(config_to_toml(cfg), encoding="utf-8")
        _reset_outputs(work_dir, start_epoch)
    if rng_states is not None:  # restore last: building the model above consumed random draws
        same_world = len(rng_states) == ctx.world_size
        restore_rng_state(rng_states[ctx.rank] if same_world else rng_states[0])
    else:
        seed_everything(rt.seed + 1 + ctx.rank)  # distinct dropout/augmentation per rank
    show_bar = rt.progress and ctx.is_main and sys.stderr.isatty()
    semantic = embeddings is not None
    last_loss = float("nan")

    def evaluate(num_clips: int, flip: bool) -> Any:
        broadcast_buffers(net)
        return predict_dataset(
            model,
            test_set,
            class_names,
            ctx,
            num_clips=num_clips,
            flip=flip,
            batch_size=cfg.test.batch_size,
            num_workers=cfg.data.num_workers,
            size=cfg.data.test_size,
            amp=amp,
        )

    end_epoch = cfg.schedule.epochs
    if stop_after is not None:
        end_epoch = min(end_epoch, start_epoch + stop_after)
    for epoch in range(start_epoch, end_epoch):
        model.train()
        sampler.set_epoch(epoch)
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)  # per-sample augmentation RNG = f(seed, epoch, index)
        loader_generator.manual_seed(_epoch_seed(rt.seed, epoch))
        total = torch.zeros((), dtype=torch.float64, device=ctx.device)
        seen, tic = 0, time.perf_counter()
        bar = _progress(loader, show_bar, steps, f"epoch {epoch + 1}/{cfg.schedule.epochs}")
        for batch in bar:
            lr = schedule(iteration)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = _to_device(batch, ctx.device)
            labels = batch["label"]
            with autocast(ctx.device, amp):
                out = model(batch, return_embedding=True) if semantic else model(batch)
                logits, embedding = out if semantic else (out, None)
            loss = criterion(
                logits.float(), labels, None if embedding is None else embedding.float()
            )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.optim.grad_clip > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            iteration += 1
            total += loss.detach().double()
            seen += int(labels.shape[0])
            if iteration % max(rt.log_interval, 1) == 0 or (show_bar and iteration % 5 == 0):
                value = float(loss.detach())
                rate = seen * ctx.world_size / max(time.perf_counter() - tic, 1e-9)
                if show_bar:
                    bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr:.2e}", clips_s=f"{rate:.0f}")
                if iteration % max(rt.log_interval, 1) == 0:
                    parts = {k: float(v) for k, v in getattr(criterion, "last", {}).items()}
                    log.write(
                        event="train",
                        epoch=epoch + 1,
                        iter=iteration,
                        lr=lr,
                        loss=value,
                        parts=parts,
                        clips_per_s=rate,
                    )
        elapsed = time.perf_counter() - tic
        last_loss = all_reduce_mean(float(total) / max(steps, 1), ctx.device)
        if not math.isfinite(last_loss):
            raise FloatingPointError(
                f"training diverged: the mean loss of epoch {epoch + 1} is {last_loss}; "
                "lower optim.lr or check the data"
            )
        rate = seen * ctx.world_size / max(elapsed, 1e-9)
        log.write(
            event="epoch",
            epoch=epoch + 1,
            iter=iteration,
            loss=last_loss,
            lr=lr,
            seconds=elapsed,
            clips_per_s=rate,
        )
        message = (
            f"epoch {epoch + 1}/{cfg.schedule.epochs}  loss {last_loss:.4f}  lr {lr:.3g}  "
            f"{rate:.1f} clips/s"
        )
        improved = False
        interval = cfg.test.val_interval
        val = None
        if interval > 0 and ((epoch + 1) % interval == 0 or epoch + 1 == cfg.schedule.epochs):
            val = evaluate(cfg.test.val_num_clips, cfg.test.val_flip)
        if val is not None and not val.has_labels:
            message += f"  ({cfg.data.test_split!r} is unlabelled: no validation metrics)"
        elif val is not None:
            from pymg.engine.metrics import summarize

            metrics = summarize(val.scores, val.labels, class_names)
            top1 = metrics["top1"]
            log.write(
                event="val",
                epoch=epoch + 1,
                top1=top1,
                top5=metrics["top5"],
                mean_class_accuracy=metrics["mean_class_accuracy"],
            )
            message += f"  val top1 {100 * top1:.2f}%  top5 {100 * metrics['top5']:.2f}%"
            if best["value"] is None or top1 > best["value"]:
                best = {"metric": "top1", "value": top1, "epoch": epoch + 1}
                improved = True
        _log(ctx, message)
        rng = all_gather_objects(capture_rng_state())
        if ctx.is_main:
            payload = {
                "config": config_to_dict(cfg),
                "layout": skeleton_to_dict(layout),
                "class_names": list(class_names),
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch + 1,
                "iteration": iteration,
                "best": best,
                "rng": rng,
            }
            save_checkpoint(payload, work_dir / "latest.pt")
            if improved:
                save_checkpoint(payload, work_dir / "best.pt")
        barrier()

    test_metrics = None
    if final_test and end_epoch == cfg.schedule.epochs:
        result = evaluate(cfg.test.num_clips, cfg.test.flip)
        if ctx.is_main:
            save_scores(result, work_dir / "test_scores.npz")
            write_submission(result, work_dir / "test_predictions.csv")
            if result.has_labels:
                test_metrics = write_report(result, work_dir, prefix="test_", png=_has_matplotlib())
                summary = {k: test_metrics[k] for k in ("top1", "top5", "mean_class_accuracy")}
                log.write(event="test", epoch=cfg.schedule.epochs, **summary)
                _log(
                    ctx,
                    f"test  top1 {100 * summary['top1']:.2f}%  "
                    f"top5 {100 * summary['top5']:.2f}%  "
                    f"mean class acc {100 * summary['mean_class_accuracy']:.2f}%",
                )
        barrier()
    return {
        "work_dir": str(work_dir),
        "epochs": cfg.schedule.epochs,
        "epochs_run": end_epoch - start_epoch,
        "best": best,
        "test": test_metrics,
        "last_loss": last_loss,
    }


def _reset_outputs(work_dir: Path, start_epoch: int) -> None:
    """A fresh run replaces a previous run's log and best checkpoint; a resumed run keeps the
    log records up to the checkpoint's epoch (dropping those of the interrupted epoch)."""
    log = work_dir / "metrics.jsonl"
    if start_epoch == 0:
        log.unlink(missing_ok=True)
        (work_dir / "best.pt").unlink(missing_ok=True)
    elif log.is_file():
        kept = []
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the interruption
            if int(record.get("epoch", 0)) <= start_epoch and record.get("event") != "test":
                kept.append(line + "\n")
        log.write_text("".join(kept), encoding="utf-8")


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
