"""Class-aware sampling of the training set, sharded over DDP processes.

A sampler of power ``q`` draws class ``c`` with probability ``p_c = n_c^q / sum_j n_j^q``
(``n_c`` = training clips of class ``c``) and then one of its clips uniformly:

* ``"instance"``: ``q = 1``, every clip equally likely (plain shuffling; what training did before);
* ``"class_balanced"``: ``q = 0``, every class equally likely (Kang et al., ICLR 2020, the
  sampling of their classifier re-training, cRT);
* ``"sqrt"``: ``q = 1/2``, square-root sampling (Mahajan et al. 2018, as compared by Kang et al.);
* ``"progressive"``: ``q`` moves linearly from 1 at the first epoch to 0 at the last (a power
  schedule; Kang et al.'s "progressively-balanced" sampling instead mixes the instance and
  class-balanced distributions linearly, ``(1 - t/T) p^IB + t/T p^CB``).

:class:`ClassAwareSampler` draws one epoch's indices at once, with replacement, from a generator
seeded by ``(seed, epoch)``, identically on every rank; rank ``r`` of ``W`` takes draws
``r, r + W, r + 2W, ...``. The shards together are therefore exactly the one global draw, so the
class distribution holds over all processes, and an epoch's order depends only on
``(seed, epoch)`` (exact resume).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from pymg.losses_longtail import check_counts

__all__ = [
    "SAMPLERS",
    "ClassAwareSampler",
    "class_probabilities",
    "sampler_power",
]

SAMPLERS = ("instance", "class_balanced", "sqrt", "progressive")
"""The values of ``data.sampler``."""

_FIXED_POWER = {"instance": 1.0, "class_balanced": 0.0, "sqrt": 0.5}


def sampler_power(kind: str, epoch: int, epochs: int) -> float:
    """The power ``q`` of sampler ``kind`` at 0-based ``epoch`` of ``epochs``.

    ``"progressive"`` gives ``1 - epoch / (epochs - 1)`` (1 at the first epoch, 0 at the last;
    0 throughout a one-epoch run).
    """
    if kind in _FIXED_POWER:
        return _FIXED_POWER[kind]
    if kind != "progressive":
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {kind!r}")
    if epochs <= 1:
        return 0.0
    return 1.0 - min(max(epoch, 0), epochs - 1) / (epochs - 1)


def class_probabilities(counts: Any, power: float) -> np.ndarray:
    """Probability of drawing each class: ``n_c^q / sum_j n_j^q`` over classes with clips.

    Args:
        counts: [K] non-negative clip counts per class.
        power: ``q`` in [0, 1].

    Returns:
        float64 [K] summing to 1; classes without clips get 0.
    """
    n = check_counts(counts)
    if not 0.0 <= float(power) <= 1.0:
        raise ValueError(f"power must lie in [0, 1], got {power}")
    mass = np.where(n > 0, np.power(n, float(power), where=n > 0, out=np.zeros_like(n)), 0.0)
    return mass / mass.sum()


class ClassAwareSampler(Sampler[int]):
    """Draws training indices with class probabilities ``n_c^q / sum n^q`` (module docstring).

    Args:
        labels: [N] class of every index of the dataset (``>= 0``).
        kind: one of :data:`SAMPLERS` other than ``"instance"`` (use a shuffling
            ``DistributedSampler`` for that), or ``"instance"`` to draw with replacement.
        num_replicas: number of processes ``W`` (DDP world size).
        rank: this process's rank in ``[0, W)``.
        seed: the run's seed; epoch ``e`` draws from ``torch.Generator().manual_seed(f(seed, e))``.
        epochs: total training epochs (the progressive schedule's length).

    Every rank yields ``ceil(N / W)`` indices per epoch (``len(self)``); call
    :meth:`set_epoch` before each epoch.
    """

    def __init__(
        self,
        labels: Any,
        kind: str,
        *,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        epochs: int = 1,
    ) -> None:
        y = np.asarray(labels)
        if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError(f"labels must be a non-empty 1-D array of classes >= 0, got {y!r}")
        if kind not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {kind!r}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must lie in [0, {num_replicas}), got {rank}")
        self.labels = y.astype(np.int64)
        self.counts = np.bincount(self.labels)
        self.kind = kind
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.seed = int(seed)
        self.epochs = max(int(epochs), 1)
        self.epoch = 0
        self.num_samples = math.ceil(len(self.labels) / self.num_replicas)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch: its draw and, for ``"progressive"``, its power."""
        self.epoch = int(epoch)

    def sample_weights(self) -> np.ndarray:
        """float64 [N]: the probability of drawing each index this epoch (``p_y / n_y``)."""
        power = sampler_power(self.kind, self.epoch, self.epochs)
        per_class = class_probabilities(self.counts, power)
        return per_class[self.labels] / self.counts[self.labels]

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed((self.seed * 1_000_003 + self.epoch * 7919 + 29) % 2**63)
        weights = torch.from_numpy(self.sample_weights())
        total = self.num_samples * self.num_replicas
        drawn = torch.multinomial(weights, total, replacement=True, generator=generator)
        return iter(drawn[self.rank :: self.num_replicas].tolist())
