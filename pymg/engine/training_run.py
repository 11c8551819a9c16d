"""A training run's state (:class:`Run`) and how it is built: seeding, datasets, model, optimizer,
loader, schedule, resume.

:func:`set_up` returns a :class:`Run`, which the parts of :mod:`pymg.engine.trainer`
(``train_one_epoch``, ``validate``, ``save_epoch``, ``final_test``) share.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from pymg.engine.builders import (
    build_criterion,
    build_datasets,
    build_model,
    config_layout,
    label_embeddings_for,
)
from pymg.engine.checkpointing import load_checkpoint, load_model_state, restore_rng_state
from pymg.engine.config import Config, ConfigError, config_to_toml
from pymg.engine.distributed import DistContext
from pymg.engine.loader import QuietWorkersLoader
from pymg.engine.longtail import (
    criterion_options,
    prepare_head_finetune,
    sampler_kind,
    train_class_counts,
    train_sampler,
)
from pymg.engine.model_options import model_spec
from pymg.engine.runtime import resolve_amp
from pymg.engine.schedule import LRSchedule
from pymg.models.interface import RecognizerModel

__all__ = ["JsonLog", "Run", "log_main", "seed_everything", "set_up"]

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global RNG is what we seed
    torch.manual_seed(seed)


class JsonLog:
    """Append-only JSON-lines file (rank 0); other ranks get a no-op."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, **record: Any) -> None:
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def log_main(ctx: DistContext, message: str) -> None:
    """Log ``message`` (info) on rank 0 only."""
    if ctx.is_main:
        log.info(message)


def _resolve_resume(resume: str | Path | bool | None, work_dir: Path) -> Path | None:
    if resume is None or resume is False:
        return None
    if resume is True or resume == "auto":
        path = work_dir / "latest.pt"
        if not path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint to resume at {path}")
        return path
    return Path(resume)


@dataclass
class Run:
    """Everything one training run holds between its parts (built by :func:`set_up`).

    ``model`` is what is called (DDP-wrapped when distributed), ``net`` the bare recognizer;
    ``iteration`` counts optimizer steps so far, ``best`` is the best validation value of
    ``schedule.select_by``; ``model_spec`` is the resolved model
    (:func:`pymg.engine.model_options.model_spec`) that the checkpoints store. ``train_counts``
    [K] are the training clips per class; ``frozen`` is the part of ``net`` that classifier
    re-training (``finetune_head``) keeps frozen, in eval mode; ``tensorboard`` a
    :class:`pymg.engine.tensorboard.TensorBoardLog` (rank 0, ``log.tensorboard``).
    """

    cfg: Config
    ctx: DistContext
    work_dir: Path
    model: nn.Module
    net: RecognizerModel
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    schedule: LRSchedule
    loader: DataLoader[Any]
    sampler: Any
    loader_generator: torch.Generator
    train_set: Any
    test_set: Any
    class_names: list[str]
    layout: Any
    amp: str
    semantic: bool
    log: JsonLog
    train_counts: np.ndarray
    model_spec: dict[str, Any] = field(default_factory=dict)
    frozen: nn.Module | None = None
    finetune_head: str | None = None
    tensorboard: Any = None
    start_epoch: int = 0
    iteration: int = 0
    best: dict[str, Any] = field(
        default_factory=lambda: {"metric": "top1", "value": None, "epoch": None}
    )


def set_up(
    cfg: Config,
    ctx: DistContext,
    resume: str | Path | bool | None,
    finetune_head: str | Path | None = None,
) -> Run:
    """Build the run: threads, datasets, model, loss, optimizer, loader, schedule, resume.

    With ``finetune_head`` (a checkpoint), the model starts from its weights and only the
    re-initialised head trains (cRT, :mod:`pymg.engine.longtail`).

    Raises:
        ConfigError: an unlabelled or empty split, a wrong layout or class count.
        FileNotFoundError / ValueError: a resume checkpoint that is missing or does not fit.
    """
    rt = cfg.runtime
    if rt.threads > 0:
        torch.set_num_threads(rt.threads)
    if rt.deterministic:
        torch.use_deterministic_algorithms(True)
    work_dir = Path(rt.work_dir)
    resume_path = _resolve_resume(resume, work_dir)
    seed_everything(rt.seed)  # identical initial weights on every rank
    train_set, test_set, class_names = build_datasets(cfg)
    _check_labelled(cfg, train_set)
    layout = config_layout(cfg)
    embeddings = label_embeddings_for(cfg)
    embed_dim = None if embeddings is None else int(embeddings.shape[1])
    net, frozen = _network(cfg, ctx, layout, embed_dim, finetune_head, work_dir)
    counts = train_class_counts(train_set, cfg.model.num_classes)
    amp = resolve_amp(rt.amp, ctx.device)
    base_lr, optimizer = _optimizer(cfg, ctx, net)
    kind = sampler_kind(cfg, finetune_head is not None)
    loader, sampler, generator = _train_loader(cfg, ctx, train_set, kind)
    if len(loader) == 0 or len(test_set) == 0:
        empty = cfg.data.train_split if len(loader) == 0 else cfg.data.test_split
        raise ConfigError(f"split {empty!r} of {cfg.data.source!r} holds no clips")
    run = Run(
        cfg=cfg,
        ctx=ctx,
        work_dir=work_dir,
        model=net,
        net=net,
        criterion=build_criterion(cfg, embeddings, **criterion_options(cfg, counts)).to(ctx.device),
        optimizer=optimizer,
        scaler=torch.amp.GradScaler(ctx.device.type, enabled=amp == "fp16"),
        schedule=_lr_schedule(cfg, base_lr, len(loader)),
        loader=loader,
        sampler=sampler,
        loader_generator=generator,
        train_set=train_set,
        test_set=test_set,
        class_names=class_names,
        layout=layout,
        amp=amp,
        semantic=embeddings is not None,
        log=JsonLog(work_dir / "metrics.jsonl" if ctx.is_main else None),
        model_spec=model_spec(cfg, embed_dim),
        train_counts=counts,
        frozen=frozen,
        finetune_head=None if finetune_head is None else str(finetune_head),
        best={"metric": cfg.schedule.select_by, "value": None, "epoch": None},
    )
    rng_states = _resume(run, resume_path) if resume_path is not None else None
    if ctx.distributed:
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        run.model = DistributedDataParallel(net, device_ids=ids)
    if ctx.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "config.toml").write_text(config_to_toml(cfg), encoding="utf-8")
        _reset_outputs(work_dir, run.start_epoch)
        if cfg.log.tensorboard:
            run.tensorboard = _tensorboard(run)
    if rng_states is not None:  # restore last: building the model above consumed random draws
        same_world = len(rng_states) == ctx.world_size
        restore_rng_state(rng_states[ctx.rank] if same_world else rng_states[0])
    else:
        seed_everything(rt.seed + 1 + ctx.rank)  # distinct dropout/augmentation per rank
    return run


def _tensorboard(run: Run) -> Any:
    """The run's TensorBoard log (``log.tensorboard``); a resumed run hides the interrupted
    run's events after its last checkpoint."""
    from pymg.engine.tensorboard import TensorBoardLog

    purge = run.iteration if run.start_epoch > 0 else None
    return TensorBoardLog(run.work_dir / "tensorboard", run.class_names, purge)


def _network(
    cfg: Config,
    ctx: DistContext,
    layout: Any,
    embed_dim: int | None,
    finetune_head: str | Path | None,
    work_dir: Path,
) -> tuple[RecognizerModel, nn.Module | None]:
    """The model on its device (in ``runtime.channels_last`` format), and, for classifier
    re-training from ``finetune_head``, its frozen part."""
    net = build_model(cfg, layout, embed_dim)
    frozen = None
    if finetune_head is not None:
        frozen = prepare_head_finetune(net, finetune_head, work_dir)
    net = net.to(ctx.device)
    if cfg.runtime.channels_last and net.channels_last_format is not None:
        net.to(memory_format=net.channels_last_format)  # type: ignore[call-overload]
    return net, frozen


def _check_labelled(cfg: Config, train_set: Any) -> None:
    """Refuse a training split with unlabelled clips, naming them (the first ten)."""
    unlabelled = np.flatnonzero(np.asarray(train_set.labels) < 0)
    if len(unlabelled):
        names = train_set.names
        shown = ", ".join(names[int(i)] for i in unlabelled[:10])
        more = f" and {len(unlabelled) - 10} more" if len(unlabelled) > 10 else ""
        raise ConfigError(
            f"split {cfg.data.train_split!r} of {cfg.data.source!r} holds {len(unlabelled)} "
            f"unlabelled clip(s) (label -1): {shown}{more}; train on a labelled split "
            "(data.train_split) or give those videos a _label.csv and prepare again"
        )


def _optimizer(
    cfg: Config, ctx: DistContext, net: nn.Module
) -> tuple[float, torch.optim.Optimizer]:
    """The base learning rate (linear scaling rule) and SGD over ``net``'s parameters."""
    base_lr = cfg.optim.lr
    if cfg.optim.lr_batch_size > 0:  # linear scaling rule: lr is given for lr_batch_size
        base_lr *= cfg.optim.batch_size * ctx.world_size / cfg.optim.lr_batch_size
    optimizer = torch.optim.SGD(
        [p for p in net.parameters() if p.requires_grad],
        lr=base_lr,
        momentum=cfg.optim.momentum,
        weight_decay=cfg.optim.weight_decay,
        nesterov=cfg.optim.nesterov,
    )
    return base_lr, optimizer


def _train_loader(
    cfg: Config, ctx: DistContext, train_set: Any, kind: str
) -> tuple[DataLoader[Any], Any, torch.Generator]:
    """The sharded training loader, its sampler (``kind``, see :mod:`pymg.data.samplers`) and
    its (re-seeded) generator."""
    from pymg.data import collate

    sampler = train_sampler(cfg, ctx, train_set, kind)
    generator = torch.Generator()
    loader = QuietWorkersLoader(
        train_set,
        batch_size=cfg.optim.batch_size,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        collate_fn=collate,
        drop_last=len(sampler) > cfg.optim.batch_size,
        generator=generator,
        pin_memory=ctx.device.type == "cuda",
    )
    return loader, sampler, generator


def _lr_schedule(cfg: Config, base_lr: float, steps: int) -> LRSchedule:
    total = steps * cfg.schedule.epochs
    return LRSchedule(
        base_lr,
        total,
        policy=cfg.schedule.policy,
        warmup_iters=min(round(cfg.schedule.warmup_epochs * steps), total),
        warmup_factor=cfg.schedule.warmup_factor,
        min_lr=cfg.schedule.min_lr,
    )


def _resume(run: Run, path: Path) -> list[Any]:
    """Load model, optimizer, scaler and counters from ``path``; returns the saved RNG states."""
    ck = load_checkpoint(path, map_location="cpu")
    if (ck.get("finetune_head") is None) != (run.finetune_head is None):
        raise ValueError(
            f"{path} was written by a run "
            + ("with" if ck.get("finetune_head") is not None else "without")
            + " --finetune-head; resume it the same way"
        )
    load_model_state(run.net, ck["model"], str(path))
    if "optimizer" not in ck:
        what = "written by `pymg import`" if "imported_from" in ck else "weights only"
        raise ValueError(
            f"cannot resume from {path}: it holds no optimizer state ({what}); resume from a "
            "training run's latest.pt, or start a new training"
        )
    try:
        run.optimizer.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ValueError(f"{path} does not fit the configured optimizer ({reason})") from exc
    if "scaler" in ck:
        run.scaler.load_state_dict(ck["scaler"])
    run.start_epoch, run.iteration = int(ck["epoch"]), int(ck["iteration"])
    run.best = dict(ck["best"])
    log_main(run.ctx, f"resumed from {path} after epoch {run.start_epoch}")
    return list(ck["rng"])


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
