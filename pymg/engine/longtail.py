"""The engine's side of the long-tail strategies: training counts, the sampler, the loss options
and classifier re-training (cRT).

cRT (Kang et al., ICLR 2020, "Decoupling representation and classifier for long-tailed
recognition"): after normal training, re-initialise the classifier head and train it alone, with
class-balanced sampling, the backbone frozen. :func:`prepare_head_finetune` loads the trained
weights, re-initialises the head (``cls_head``: the classifier and the embedding branch, which
keeps the semantic loss working) and freezes every other parameter; the frozen part also stays
in evaluation mode (its BatchNorm statistics do not move).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DistributedSampler

from pymg.data.samplers import ClassAwareSampler
from pymg.engine.config import Config, ConfigError
from pymg.engine.distributed import DistContext
from pymg.losses_longtail import class_counts, class_weights, logit_adjustment

__all__ = [
    "criterion_options",
    "head_of",
    "prepare_head_finetune",
    "sampler_kind",
    "train_class_counts",
    "train_sampler",
]

logger = logging.getLogger("pymg.engine.longtail")


def train_class_counts(train_set: Any, num_classes: int) -> np.ndarray:
    """int64 [K]: the training clips per class (each clip once, whatever ``data.repeat``)."""
    return class_counts(np.asarray(train_set.labels), num_classes)


def sampler_kind(cfg: Config, finetune_head: bool) -> str:
    """``data.sampler``, except that cRT (``finetune_head``) turns ``"instance"`` into
    ``"class_balanced"`` as in Kang et al."""
    if finetune_head and cfg.data.sampler == "instance":
        return "class_balanced"
    return cfg.data.sampler


def train_sampler(
    cfg: Config, ctx: DistContext, train_set: Any, kind: str
) -> DistributedSampler[Any] | ClassAwareSampler:
    """The training sampler of this rank: a shuffling ``DistributedSampler`` for
    ``"instance"``, else a :class:`pymg.data.samplers.ClassAwareSampler` over the (repeated)
    training set."""
    if kind == "instance":
        return DistributedSampler(
            train_set,
            num_replicas=ctx.world_size,
            rank=ctx.rank,
            shuffle=True,
            seed=cfg.runtime.seed,
        )
    labels = np.asarray(train_set.labels)
    labels = np.tile(labels, len(train_set) // len(labels))  # data.repeat lists the set again
    return ClassAwareSampler(
        labels,
        kind,
        num_replicas=ctx.world_size,
        rank=ctx.rank,
        seed=cfg.runtime.seed,
        epochs=cfg.schedule.epochs,
    )


def criterion_options(cfg: Config, counts: np.ndarray) -> dict[str, torch.Tensor | None]:
    """``class_weights`` and ``logit_adjustment`` of :class:`pymg.losses.SemanticEmbeddingLoss`
    for ``loss.class_weights`` / ``loss.logit_adjust_tau`` (None when off)."""
    loss = cfg.loss
    weights = None
    if loss.class_weights != "none":
        weights = torch.as_tensor(
            class_weights(counts, loss.class_weights, loss.effective_beta), dtype=torch.float32
        )
    if loss.logit_adjust_tau < 0:
        raise ConfigError(f"loss.logit_adjust_tau must be >= 0, got {loss.logit_adjust_tau}")
    adjust = None
    if loss.logit_adjust_tau > 0:
        adjust = torch.as_tensor(
            logit_adjustment(counts, loss.logit_adjust_tau), dtype=torch.float32
        )
    return {"class_weights": weights, "logit_adjustment": adjust}


def head_of(net: nn.Module) -> nn.Module:
    """The classifier head (``cls_head``) of a recognizer.

    Raises:
        ValueError: the model has no ``cls_head`` (e.g. a two-stream fusion).
    """
    head = getattr(net, "cls_head", None)
    if not isinstance(head, nn.Module):
        raise ValueError(
            f"--finetune-head needs a model with a classifier head `cls_head` (PoseC3D, ST-GCN); "
            f"{type(net).__name__} has none"
        )
    return head


def _reinit_head(head: nn.Module) -> None:
    """The heads' own initialisation: every Linear ``normal(0, 0.01)``, bias 0."""
    for module in head.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def prepare_head_finetune(net: nn.Module, checkpoint: str | Path, work_dir: Path) -> nn.Module:
    """cRT set-up: load ``checkpoint``'s weights into ``net``, re-initialise its head, freeze the
    rest. Returns the frozen part (a module list, to be kept in eval mode while training).

    Raises:
        ConfigError: the checkpoint lies in ``work_dir`` (a fresh run there would replace it).
        FileNotFoundError / ValueError: a missing checkpoint or one that does not fit ``net``.
    """
    from pymg.engine.checkpointing import load_checkpoint, load_model_state

    path = Path(checkpoint)
    if path.resolve().parent == work_dir.resolve():
        raise ConfigError(
            f"--finetune-head {path} lies in the work dir {work_dir}: a new run there replaces "
            "latest.pt and best.pt; give the re-training its own runtime.work_dir"
        )
    ck = load_checkpoint(path, map_location="cpu")
    load_model_state(net, ck["model"], str(path))
    head = head_of(net)
    _reinit_head(head)
    head_ids = {id(p) for p in head.parameters()}
    frozen = [m for name, m in net.named_children() if m is not head]
    for p in net.parameters():
        p.requires_grad_(id(p) in head_ids)
    logger.info("cRT: re-initialised %s, froze %d module(s)", type(head).__name__, len(frozen))
    return nn.ModuleList(frozen)
