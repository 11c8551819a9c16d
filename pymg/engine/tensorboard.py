"""TensorBoard event files of a training run (``log.tensorboard = true``; rank 0 only).

Tags written (``step`` = optimizer steps so far):

* every ``runtime.log_interval`` steps: ``train/loss``, ``train/<term>`` for each term of the
  loss (``ce``, ``semantic``, ``weighted_semantic``), ``train/lr``;
* every epoch: ``epoch/loss``, ``epoch/clips_per_s``;
* every evaluation (``val`` during training, ``test`` for the final test): ``<e>/top1``,
  ``<e>/top5``, ``<e>/mean_class_accuracy``, ``<e>/many_shot`` / ``medium_shot`` / ``few_shot``,
  ``<e>_class_accuracy/<class>`` and the row-normalised confusion matrix as the image
  ``<e>/confusion`` (white = 0, dark blue = 1; rows true classes, columns predictions).

TensorBoard is optional: ``pip install 'pymg-microgesture[tensorboard]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TensorBoardLog", "confusion_image"]


def _writer_class() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch's writer imports the tensorboard package
        raise ImportError(
            "log.tensorboard = true (or --tensorboard) needs the tensorboard package: "
            "pip install 'pymg-microgesture[tensorboard]' (or pip install tensorboard), "
            "or turn it off"
        ) from exc
    return SummaryWriter


def confusion_image(cm: Any, cell: int = 8) -> np.ndarray:
    """The row-normalised confusion matrix as an RGB image, ``cell`` pixels per entry.

    Shape:
        - cm: ``[K, K]`` counts
        - output: uint8 ``[K * cell, K * cell, 3]`` (H, W, C); white = 0, dark blue = 1
    """
    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square matrix [K, K], got shape {m.shape}")
    totals = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    white, blue = np.array([255.0, 255.0, 255.0]), np.array([8.0, 48.0, 107.0])
    rgb = white + frac[..., None] * (blue - white)
    return np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1).round().astype(np.uint8)


def _tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "class"


class TensorBoardLog:
    """Writes a run's curves to ``folder`` (see the module docstring for the tags).

    ``purge_step`` (a resumed run: the checkpoint's step) hides what an interrupted run wrote
    from that step on, so the curves do not overlap.

    Raises:
        ImportError: tensorboard is not installed (the message says how to install it).
    """

    def __init__(
        self, folder: str | Path, class_names: Sequence[str], purge_step: int | None = None
    ) -> None:
        self.folder = Path(folder)
        self.class_names = [str(n) for n in class_names]
        self.writer = _writer_class()(log_dir=str(self.folder), purge_step=purge_step)

    def train_step(self, step: int, loss: float, lr: float, parts: Mapping[str, float]) -> None:
        """The loss, each of its terms and the learning rate at optimizer step ``step``."""
        self.writer.add_scalar("train/loss", loss, step)
        for name, value in parts.items():
            if name != "loss":
                self.writer.add_scalar(f"train/{name}", value, step)
        self.writer.add_scalar("train/lr", lr, step)

    def epoch(self, step: int, loss: float, clips_per_s: float) -> None:
        """The epoch's mean loss and speed."""
        self.writer.add_scalar("epoch/loss", loss, step)
        self.writer.add_scalar("epoch/clips_per_s", clips_per_s, step)

    def evaluation(self, step: int, metrics: Mapping[str, Any], event: str = "val") -> None:
        """Accuracies, many / medium / few-shot, per-class accuracy and the confusion image of
        one evaluation (``metrics`` from :func:`pymg.engine.metrics.summarize`)."""
        for key in ("top1", "top5", "mean_class_accuracy"):
            self.writer.add_scalar(f"{event}/{key}", metrics[key], step)
        for group, value in (metrics.get("shots") or {}).items():
            if value is not None:
                self.writer.add_scalar(f"{event}/{group}_shot", value, step)
        for name, value in metrics["per_class"].items():
            if value is not None:
                self.writer.add_scalar(f"{event}_class_accuracy/{_tag(name)}", value, step)
        image = confusion_image(metrics["confusion"])
        self.writer.add_image(f"{event}/confusion", image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
