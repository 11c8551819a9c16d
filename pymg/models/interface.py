"""The one interface every recognizer implements: keypoint batch -> network input -> ModelOutput.

The engine (training step, evaluation, :class:`pymg.engine.Recognizer`) calls only what is
declared here, so a new model family is one file: subclass :class:`RecognizerModel`, implement
:meth:`~RecognizerModel.make_input` and :meth:`~RecognizerModel.forward_input`.

>>> import torch
>>> from pymg.models import PoseC3D
>>> model = PoseC3D("coco17", num_classes=5, clip_len=8, size=16, base_channels=8,
...                 stage_blocks=(1, 1, 1)).eval()
>>> batch = {"keypoint": torch.rand(2, 1, 8, 17, 2) * 16}
>>> x = model.make_input(batch, num_clips=3, flip=True)        # [2 * 3 * 2, 17, 8, 16, 16]
>>> out = model(x)
>>> out.logits.shape, out.embedding
(torch.Size([12, 5]), None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from pymg.topology import Skeleton

__all__ = [
    "MAX_ACTIVATION_ELEMENTS",
    "ModelInput",
    "ModelOutput",
    "RecognizerModel",
    "check_activation_size",
]

MAX_ACTIVATION_ELEMENTS = 2**27
"""The most values one clip's largest activation may hold (2^27 = 512 MiB as float32): a size
that needs more (``clip_len = 100000``) is refused when the model is built, not when it runs."""

ModelInput = Tensor | tuple[Tensor, ...]
"""What :meth:`RecognizerModel.make_input` returns and :meth:`RecognizerModel.forward_input`
takes: one tensor (PoseC3D heatmaps, ST-GCN keypoints) or one per stream (two-stream)."""


class ModelOutput(NamedTuple):
    """What every recognizer's forward returns (a tuple: ``logits, embedding = model(x)``).

    Attributes:
        logits: class scores ``[N, K]`` (a softmax gives the class probabilities).
        embedding: the embedding branch ``[N, D]`` (semantic embedding loss), or None when the
            model has no such branch.
    """

    logits: Tensor
    embedding: Tensor | None


class RecognizerModel(nn.Module):
    """Base class of the recognizers (PoseC3D, ST-GCN / ST-GCN++, two-stream fusion).

    A subclass sets ``layout`` (its :class:`pymg.topology.Skeleton`) and ``num_classes`` (K) and
    implements :meth:`make_input` and :meth:`forward_input`; :meth:`forward` takes either a
    keypoint batch or a ready input.

    The keypoint batch is what :func:`pymg.data.collate` returns: ``keypoint [N, M, T, V, 2]``
    (pixels of the transformed frame), optional ``keypoint_score [N, M, T, V]`` (default 1),
    ``length [N]`` (default T; may stay on the CPU), ``img_shape [N, 2]`` (H, W).
    """

    layout: Skeleton
    num_classes: int
    channels_last_format: torch.memory_format | None = None
    """The channels-last memory format the model's weights may use (``runtime.channels_last``),
    or None when it has none (PoseC3D: ``torch.channels_last_3d``)."""
    engine_args: tuple[str, ...] = ("layout",)
    """Constructor arguments the engine supplies (not the config's ``[model]`` table):
    ``"layout"`` (the Skeleton of ``data.layout``), ``"size"`` (the heatmap side,
    ``data.train_size``), ``"embed_dim"`` (D of the label-embedding table when the semantic loss is
    on). Each family lists those it takes; see :mod:`pymg.models.registry`."""

    def make_input(
        self,
        batch: Mapping[str, Any],
        *,
        num_clips: int = 1,
        flip: bool = False,
        training: bool = False,
        size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> ModelInput:
        """Turn a keypoint batch into the network input, on the model's device.

        Args:
            batch: a keypoint batch (see the class docstring).
            num_clips: temporal views per sample (test-time multi-clip).
            flip: append the horizontally mirrored copy of every view (test-time flip).
            training: random temporal offsets where the alignment strategy has any.
            size: heatmap side for this call (heatmap models; None = the model's own size).
            generator: RNG of the random offsets.

        Shape:
            - output: ``N * num_clips * F`` rows (``F = 2`` with ``flip``, else 1), row
              ``(n * num_clips + k) * F + f`` = sample ``n``, clip ``k``, flip ``f``; so the
              logits of :meth:`forward_input` ``.view(N, -1, K)`` group one sample's views.
        """
        raise NotImplementedError

    def forward_input(self, x: ModelInput) -> ModelOutput:
        """Run the network on what :meth:`make_input` returned.

        Shape:
            - x: the model's input (rows R)
            - output: ``ModelOutput(logits [R, K], embedding [R, D] or None)``
        """
        raise NotImplementedError

    def forward(self, x: Mapping[str, Any] | ModelInput) -> ModelOutput:
        """Classify a keypoint batch (one clip per sample; random offsets only in training mode)
        or a ready input.

        Shape:
            - x: a keypoint batch dict (N samples) or :meth:`make_input`'s output (N rows)
            - output: ``ModelOutput(logits [N, K], embedding [N, D] or None)``
        """
        if isinstance(x, Mapping):
            x = self.make_input(x, training=self.training)
        return self.forward_input(x)


def check_views(num_clips: Any) -> int:
    """``num_clips`` after checking it is a positive int (the views of :meth:`make_input`)."""
    if isinstance(num_clips, bool) or not isinstance(num_clips, int) or num_clips < 1:
        raise ValueError(f"num_clips must be a positive int, got {num_clips!r}")
    return num_clips


def check_activation_size(
    sizes: Sequence[tuple[str, int]], limit: int = MAX_ACTIVATION_ELEMENTS
) -> None:
    """Refuse a model whose largest per-clip activation would exceed ``limit`` values.

    Args:
        sizes: the factors of that activation as ``(argument name, value)`` pairs, e.g.
            ``[("channels", 41), ("clip_len", 48), ("size", 56), ("size", 56)]``.
        limit: the most values allowed (default :data:`MAX_ACTIVATION_ELEMENTS`).

    Raises:
        ValueError: naming every factor, the product, its float32 size and the limit.
    """
    total = 1
    for _, value in sizes:
        total *= int(value)
    if total > limit:
        factors = " x ".join(f"{name} {int(v)}" for name, v in sizes)
        raise ValueError(
            f"{factors} = {total:,} values per clip ({total * 4 / 2**30:.1f} GiB as float32) is "
            f"above the limit of {limit:,} ({limit * 4 / 2**20:.0f} MiB); lower one of them"
        )
