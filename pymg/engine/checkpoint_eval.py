"""Evaluating a saved checkpoint on a dataset split (what ``pymg test`` runs).

:func:`evaluate_checkpoint` rebuilds the run's config from the checkpoint (with the caller's
changes), scores every clip of the split with the configured test views and returns the scores;
:func:`pymg.engine.evaluate.write_outputs` writes them. Works under torchrun: every process
scores its shard, every process receives all scores.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pymg.engine.builders import build_datasets
from pymg.engine.checkpointing import load_checkpoint
from pymg.engine.config import Config, ConfigError, apply_overrides, config_from_dict
from pymg.engine.distributed import init_distributed, shutdown
from pymg.engine.evaluate import ScoreSet, adjust_scores, predict_dataset
from pymg.engine.inference import Recognizer
from pymg.engine.runtime import resolve_amp

__all__ = ["checkpoint_class_counts", "checkpoint_config", "evaluate_checkpoint"]


def checkpoint_config(
    checkpoint: str | Path,
    *,
    data: str | None = None,
    split: str | None = None,
    num_clips: int | None = None,
    flip: bool | None = None,
    overrides: list[str] | None = None,
    device: str | None = None,
) -> Config:
    """The config saved in ``checkpoint`` with ``overrides`` (``"section.key=value"``) applied,
    then the keyword arguments that are not None (``data`` = ``data.source``, ``split`` =
    ``data.test_split``, ``num_clips`` / ``flip`` = ``test.*``, ``device`` = ``runtime.device``).

    Raises:
        ConfigError: an override of a ``model.*`` option (the checkpoint fixes the model).
    """
    model_sets = [o for o in overrides or [] if o.strip().startswith("model.")]
    if model_sets:
        raise ConfigError(
            f"--set {model_sets[0]}: the model options come from the checkpoint {checkpoint} and "
            "cannot be changed at test time (set data.*, test.* or runtime.* instead)"
        )
    ck = load_checkpoint(Path(checkpoint))
    cfg = apply_overrides(config_from_dict(ck["config"]), overrides or [])
    data_cfg, test_cfg, runtime = cfg.data, cfg.test, cfg.runtime
    if data is not None:
        data_cfg = replace(data_cfg, source=str(data))
    if split is not None:
        data_cfg = replace(data_cfg, test_split=split)
    if num_clips is not None:
        test_cfg = replace(test_cfg, num_clips=num_clips)
    if flip is not None:
        test_cfg = replace(test_cfg, flip=flip)
    if device is not None:
        runtime = replace(runtime, device=device)
    return replace(cfg, data=data_cfg, test=test_cfg, runtime=runtime)


def checkpoint_class_counts(checkpoint: str | Path) -> np.ndarray | None:
    """The training clips per class [K] the checkpoint stores (None: written before pymg
    recorded them, or by ``pymg import``)."""
    counts = load_checkpoint(Path(checkpoint)).get("class_counts")
    return None if counts is None else np.asarray(counts, np.int64)


def evaluate_checkpoint(checkpoint: str | Path, cfg: Config) -> ScoreSet:
    """Scores [N, K] of every clip of ``cfg.data.test_split`` (``cfg.test`` views per clip).

    ``cfg.test.logit_adjust > 0`` adjusts the scores post hoc by the training class counts the
    checkpoint stores (Menon et al. 2021; :func:`pymg.engine.evaluate.adjust_scores`).

    Args:
        checkpoint: a pymg checkpoint (``best.pt``, ``latest.pt`` or one ``pymg import`` wrote).
        cfg: usually :func:`checkpoint_config` of the same checkpoint.

    Returns:
        the :class:`~pymg.engine.evaluate.ScoreSet` (labels -1 where the split has none).

    Raises:
        ValueError: ``test.logit_adjust > 0`` with a checkpoint that stores no training counts.
    """
    counts = checkpoint_class_counts(checkpoint)
    if cfg.test.logit_adjust > 0 and counts is None:
        raise ValueError(
            f"test.logit_adjust needs the training class counts, which {checkpoint} does not "
            "store (written before pymg recorded them); retrain or set test.logit_adjust=0"
        )
    result = _score_split(checkpoint, cfg)
    return result if counts is None else adjust_scores(result, counts, cfg.test.logit_adjust)


def _score_split(checkpoint: str | Path, cfg: Config) -> ScoreSet:
    owns_group = not torch.distributed.is_initialized()
    ctx = init_distributed(cfg.runtime.device, cfg.runtime.dist_timeout)
    try:
        recognizer = Recognizer.from_checkpoint(Path(checkpoint), device=ctx.device)
        _, test_set, _ = build_datasets(cfg, train=False)
        return predict_dataset(
            recognizer.model,
            test_set,
            recognizer.class_names,
            ctx,
            num_clips=cfg.test.num_clips,
            flip=cfg.test.flip,
            batch_size=cfg.test.batch_size,
            num_workers=cfg.data.num_workers,
            size=cfg.data.test_size,
            amp=resolve_amp(cfg.runtime.amp, ctx.device),
        )
    finally:
        if owns_group:
            shutdown()
