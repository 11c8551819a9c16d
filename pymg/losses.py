"""Cross-entropy + semantic embedding loss (Li et al., MiGA'23, arXiv 2307.10624).

``L = CE(logits, y) + weight * d(embedding, e_y)`` where ``e_y`` is row ``y`` of a fixed
label-embedding table ``[K, D]`` (text embeddings of the class names, :mod:`pymg.labels`) and
``embedding`` is the model's embedding branch (a linear map of the pooled feature before
dropout). ``d`` is

* ``"mse"`` (default, as published): ``torch.nn.functional.mse_loss`` with mean reduction, i.e.
  ``sum((embedding - e_y)**2) / (N * D)``: the mean over all ``N * D`` elements;
* ``"cosine"``: ``mean_n (1 - cos(embedding_n, e_{y_n}))``, invariant to the embedding scale.

By default the table is rescaled to the recipe's magnitude (``scale="recipe"``, see
:func:`pymg.labels.scale_label_embeddings`): mean square per element 0.077 as for the published
GloVe-300 table, so ``weight * MSE`` is about ``20 * 0.077 = 1.5`` at initialisation (embedding
branch initialised ``normal(0, 0.01)``) next to a cross-entropy of about 3.5 for 32 classes,
whatever text encoder made the table. ``scale="none"`` uses the table as given.
"""

from __future__ import annotations

import math
import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pymg.labels import load_label_embeddings, scale_label_embeddings, validate_label_embeddings

__all__ = ["SemanticEmbeddingLoss"]

_DISTANCES = ("mse", "cosine")


class SemanticEmbeddingLoss(nn.Module):
    """Cross-entropy plus a weighted distance between embeddings and label embeddings.

    Args:
        label_embeddings: the fixed table ``[K, D]`` (Tensor or array), a shipped table name or a
            ``.npy`` path (see :func:`pymg.labels.load_label_embeddings`), or ``None`` for plain
            cross-entropy. Stored as the buffer ``label_embeddings`` (float32, follows ``.to()``).
        weight: ``lambda`` of the semantic term (20, as published); ``>= 0``.
        distance: ``"mse"`` (mean over ``N * D`` elements) or ``"cosine"`` (``1 - cos``, mean
            over ``N``).
        label_smoothing: label smoothing of the cross-entropy, in ``[0, 1)``.
        scale: how the table is scaled before use: ``"recipe"`` (default: mean square per element
            0.077, the published table's magnitude), ``"none"`` (as given) or a positive factor;
            see :func:`pymg.labels.scale_label_embeddings`. The factor applied is ``.table_scale``.
        class_weights: optional ``[K]`` weights of the cross-entropy (PyTorch's weighted mean:
            ``sum_n w_{y_n} CE_n / sum_n w_{y_n}``); see :func:`pymg.losses_longtail.class_weights`.
        logit_adjustment: optional ``[K]`` offsets added to the logits inside the cross-entropy
            only (logit-adjusted loss, ``tau * log(pi)``; see
            :func:`pymg.losses_longtail.logit_adjustment`); the model's logits are unchanged.

    After every call, ``.last`` holds detached 0-d tensors ``loss``, ``ce``, ``semantic`` (the
    unweighted distance) and ``weighted_semantic`` for logging (``semantic`` is absent when no
    semantic term was computed).

    Shape:
        - logits: ``[N, K]`` (float)
        - labels: ``[N]`` (integer class indices in ``[0, K)``)
        - embedding: ``[N, D]`` (float) or ``None`` (cross-entropy only)
        - output: scalar (0-d) tensor
    """

    label_embeddings: Tensor | None
    class_weights: Tensor | None
    logit_adjustment: Tensor | None

    def __init__(
        self,
        label_embeddings: Tensor | Any | str | os.PathLike[str] | None,
        weight: float = 20.0,
        distance: str = "mse",
        label_smoothing: float = 0.0,
        scale: str | float = "recipe",
        class_weights: Tensor | None = None,
        logit_adjustment: Tensor | None = None,
    ):
        super().__init__()
        table: Tensor | None = None
        if isinstance(label_embeddings, (str, os.PathLike)):
            table = load_label_embeddings(label_embeddings)
        elif label_embeddings is not None:
            table = validate_label_embeddings(label_embeddings, name="label_embeddings")
        self.table_scale = 1.0
        if table is not None:
            scaled = scale_label_embeddings(table, scale)
            self.table_scale = float(scaled.norm() / table.norm()) if table.norm() > 0 else 1.0
            table = scaled
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TypeError(f"weight: expected a float, got {type(weight).__name__}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight: expected a finite value >= 0, got {weight}")
        if distance not in _DISTANCES:
            raise ValueError(f"distance: expected one of {_DISTANCES}, got {distance!r}")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing}")
        self.register_buffer("label_embeddings", table)
        self.register_buffer("class_weights", _per_class("class_weights", class_weights, table))
        self.register_buffer(
            "logit_adjustment", _per_class("logit_adjustment", logit_adjustment, table)
        )
        self.weight = float(weight)
        self.distance = distance
        self.label_smoothing = float(label_smoothing)
        self.last: dict[str, Tensor] = {}

    @property
    def num_classes(self) -> int | None:
        """``K`` of the table, or ``None`` without a table."""
        return None if self.label_embeddings is None else int(self.label_embeddings.shape[0])

    @property
    def embed_dim(self) -> int | None:
        """``D`` of the table, or ``None`` without a table."""
        return None if self.label_embeddings is None else int(self.label_embeddings.shape[1])

    def extra_repr(self) -> str:
        """Short description for ``repr``."""
        table = None if self.label_embeddings is None else tuple(self.label_embeddings.shape)
        return (
            f"table={table}, weight={self.weight}, distance={self.distance!r}, "
            f"label_smoothing={self.label_smoothing}, table_scale={self.table_scale:.4g}"
        )

    def _check_inputs(self, logits: Tensor, labels: Tensor) -> None:
        """Shapes and dtypes always; label values only on the CPU, where reading them is free
        (on a device that would be a host sync in every training step: the data entering the
        engine was checked once, by the dataset and :func:`pymg.data.collate`)."""
        if not isinstance(logits, Tensor) or logits.ndim != 2 or not logits.is_floating_point():
            raise ValueError(
                "logits: expected a float Tensor [N, K], got "
                + (
                    f"shape {tuple(logits.shape)}"
                    if isinstance(logits, Tensor)
                    else str(type(logits))
                )
            )
        n, k = logits.shape
        if not isinstance(labels, Tensor) or labels.ndim != 1 or labels.shape[0] != n:
            raise ValueError(
                f"labels: expected an integer Tensor [N] with N={n}, got "
                + (
                    f"shape {tuple(labels.shape)}"
                    if isinstance(labels, Tensor)
                    else str(type(labels))
                )
            )
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"labels: expected integer class indices, got dtype {labels.dtype}")
        if n == 0:
            raise ValueError("logits: expected at least one sample (N >= 1)")
        for name in ("label_embeddings", "class_weights", "logit_adjustment"):
            rows = getattr(self, name)
            if rows is not None and k != rows.shape[0]:
                raise ValueError(
                    f"logits: expected K={rows.shape[0]} classes (rows of {name}), got shape "
                    f"{tuple(logits.shape)}"
                )
        if labels.device.type != "cpu":
            return  # reading device values would sync with the host: the data boundary checks
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= k:
            raise ValueError(f"labels: expected values in [0, {k}), got min {low}, max {high}")

    def semantic_distance(self, embedding: Tensor, labels: Tensor) -> Tensor:
        """The unweighted semantic term ``d(embedding, e_y)``.

        Shape:
            - embedding: ``[N, D]``; labels: ``[N]``
            - output: scalar
        """
        table = self.label_embeddings
        if table is None:
            raise ValueError("semantic_distance needs a loss built with label_embeddings")
        if (
            not isinstance(embedding, Tensor)
            or embedding.ndim != 2
            or not embedding.is_floating_point()
        ):
            raise ValueError(
                "embedding: expected a float Tensor [N, D], got "
                + (
                    f"shape {tuple(embedding.shape)}"
                    if isinstance(embedding, Tensor)
                    else str(type(embedding))
                )
            )
        if embedding.shape[0] != labels.shape[0] or embedding.shape[1] != table.shape[1]:
            raise ValueError(
                f"embedding: expected shape [N, D] = [{labels.shape[0]}, {table.shape[1]}] "
                f"(D = columns of label_embeddings), got {tuple(embedding.shape)}"
            )
        target = table.to(device=embedding.device, dtype=embedding.dtype)[
            labels.to(embedding.device)
        ]
        if self.distance == "mse":
            return F.mse_loss(embedding, target, reduction="mean")
        cos = F.cosine_similarity(embedding, target, dim=1, eps=1e-8)
        return (1.0 - cos).mean()

    def forward(self, logits: Tensor, labels: Tensor, embedding: Tensor | None = None) -> Tensor:
        """``CE(logits, labels) + weight * d(embedding, label_embeddings[labels])``.

        With ``embedding=None`` or no table the semantic term is skipped (plain cross-entropy).

        Shape:
            - logits: ``[N, K]``; labels: ``[N]``; embedding: ``[N, D]`` or ``None``
            - output: scalar
        """
        self._check_inputs(logits, labels)
        labels = labels.to(device=logits.device, dtype=torch.int64)
        adjusted = logits
        if self.logit_adjustment is not None:
            adjusted = logits + self.logit_adjustment.to(logits.dtype)
        ce = F.cross_entropy(
            adjusted, labels, weight=self.class_weights, label_smoothing=self.label_smoothing
        )
        parts: dict[str, Tensor] = {"ce": ce.detach()}
        loss = ce
        if self.label_embeddings is not None and embedding is not None:
            semantic = self.semantic_distance(embedding, labels)
            weighted = self.weight * semantic
            loss = ce + weighted.to(ce.dtype)
            parts["semantic"] = semantic.detach()
            parts["weighted_semantic"] = weighted.detach()
        parts["loss"] = loss.detach()
        self.last = parts
        return loss


def _per_class(name: str, values: Tensor | None, table: Tensor | None) -> Tensor | None:
    """``values`` as a float32 [K] buffer (checked against the table's K), or None."""
    if values is None:
        return None
    out = torch.as_tensor(values, dtype=torch.float32)
    if out.ndim != 1 or not torch.isfinite(out).all():
        raise ValueError(f"{name}: expected a finite 1-D tensor [K], got shape {tuple(out.shape)}")
    if table is not None and out.shape[0] != table.shape[0]:
        raise ValueError(f"{name}: expected K={table.shape[0]} values, got {out.shape[0]}")
    return out
