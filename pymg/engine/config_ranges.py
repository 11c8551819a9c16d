"""The range of every number in a :class:`~pymg.engine.config.Config`, checked when it is read.

A value outside its range is a :class:`~pymg.engine.config.ConfigError` naming the key, the value
and the range, so ``optim.grad_clip = nan``, ``runtime.threads = -4`` or a seed of ``2**70`` fail
when the config is loaded, not deep inside torch.
"""

from __future__ import annotations

import math
from typing import Any

from pymg.engine.config import ConfigError

__all__ = ["check_ranges"]

_MAX_SEED = 2**62
_INF = float("inf")
# (key, lowest, highest) of every number in the config; floats must also be finite.
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("data.num_persons", 1, 64), ("data.train_size", 1, 4096), ("data.test_size", 1, 4096),
    ("data.flip_prob", 0, 1), ("data.num_workers", 0, 1024), ("data.repeat", 1, 10**6),
    ("data.synthetic_classes", 1, 10**4), ("data.synthetic_clips", 1, 10**7),
    ("data.synthetic_seed", 0, _MAX_SEED),
    ("optim.lr", 0, _INF), ("optim.momentum", 0, _INF), ("optim.weight_decay", 0, _INF),
    ("optim.batch_size", 1, 10**6), ("optim.grad_clip", -_INF, _INF),
    ("optim.lr_batch_size", 0, 10**9),
    ("schedule.epochs", 1, 10**6), ("schedule.warmup_epochs", 0, 10**6),
    ("schedule.warmup_factor", 0, _INF), ("schedule.min_lr", 0, _INF),
    ("loss.weight", 0, _INF), ("loss.label_smoothing", 0, 1),
    ("test.num_clips", 1, 1000), ("test.batch_size", 1, 10**6), ("test.val_interval", 0, 10**6),
    ("test.val_num_clips", 1, 1000),
    ("runtime.seed", 0, _MAX_SEED), ("runtime.threads", 0, 4096),
    ("runtime.log_interval", 1, 10**9), ("runtime.dist_timeout", 1e-3, 7 * 86400),
)  # fmt: skip


def check_ranges(cfg: Any) -> None:
    """Check every number of ``cfg`` (a Config) against its range (``_RANGES``; floats finite).

    Raises:
        ConfigError: naming the key, the value and the range (e.g. ``optim.grad_clip = nan``,
            ``runtime.threads = -4``, ``runtime.seed = 2**70``).
    """
    for key, low, high in _RANGES:
        section, _, name = key.partition(".")
        value = getattr(getattr(cfg, section), name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        if not low <= value <= high:
            bounds = f">= {low:g}" if high == _INF else f"in [{low:g}, {int(high)}]"
            if high == _MAX_SEED:
                bounds = "in [0, 2**62]"
            raise ConfigError(f"{key} must be {bounds}, got {value!r}")
