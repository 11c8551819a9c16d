"""Learning rate per iteration: linear warmup, then cosine or constant."""

from __future__ import annotations

import math

__all__ = ["LRSchedule"]


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
