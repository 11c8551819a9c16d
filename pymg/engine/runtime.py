"""What the training step and the evaluation share: the AMP rule, autocast and batch transfer."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["AMP_MODES", "autocast", "resolve_amp", "to_device"]

AMP_MODES = ("auto", "bf16", "fp16", "off")
"""Values of ``runtime.amp``; ``"auto"`` is bf16 on CUDA and off elsewhere."""

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

CPU_KEYS = frozenset({"length"})
"""Batch entries :func:`to_device` leaves on the CPU: the temporal alignment builds its frame
positions from CPU lengths, so a device copy would only cost a host sync to read them back."""


def resolve_amp(amp: str, device: torch.device) -> str:
    """The concrete mode (``"off"``, ``"bf16"`` or ``"fp16"``) of ``amp`` on ``device``.

    Raises:
        ValueError: ``amp`` is not one of :data:`AMP_MODES`.
    """
    if amp not in AMP_MODES:
        raise ValueError(f"amp must be one of {AMP_MODES}, got {amp!r}")
    if amp == "auto":
        return "bf16" if device.type == "cuda" else "off"
    return amp


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[Any]:
    """Mixed-precision context for ``amp`` (see :func:`resolve_amp`) on ``device``."""
    mode = resolve_amp(amp, device)
    if mode == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_AMP_DTYPES[mode])


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch with its tensors on ``device`` (non-blocking on CUDA), but ``length`` kept on
    the CPU (:data:`CPU_KEYS`).

    Shape:
        - batch / output: the keys of :func:`pymg.data.collate`, shapes unchanged
    """
    non_blocking = device.type == "cuda"
    return {
        k: v.to(device, non_blocking=non_blocking)
        if isinstance(v, Tensor) and k not in CPU_KEYS
        else v
        for k, v in batch.items()
    }
