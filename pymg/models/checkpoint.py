"""Import and export PYSKL / mmaction2 checkpoints.

pymg's recognizers name their modules as PYSKL does (``backbone.*``, ``cls_head.fc_cls.*``), so the
mapping is mostly the identity. The differences handled here:

* a bare backbone (:class:`ResNet3dSlowOnly`, ``STGCNBackbone``) has no ``backbone.`` prefix; the
  checkpoint's ``cls_head.*`` keys are then skipped (a backbone's own unprefixed state dict loads
  as is);
* ST-GCN: pymg stores the fixed graph partition once (``backbone.A``); PYSKL keeps a copy per block
  (``backbone.gcn.{i}.gcn.A``). Import skips those copies (noting any that differ from the model's
  partition); export writes them;
* keys pymg has and PYSKL lacks (the head's ``embed`` branch) are exported unless
  ``include_extras=False`` and are reported missing when a PYSKL checkpoint lacks them;
* a ``module.`` prefix (DataParallel) is removed; BN ``num_batches_tracked`` may be absent.

Files are read with ``torch.load(weights_only=True)``: a pickle that carries code is refused.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from pymg.models.posec3d import PoseC3D
from pymg.models.resnet3d import ResNet3dSlowOnly

__all__ = [
    "CheckpointReport",
    "read_state_dict",
    "load_pyskl_checkpoint",
    "export_pyskl_state_dict",
]

_BLOCK_A = re.compile(r"^backbone\.gcn\.(\d+)\.gcn\.A$")


@dataclass
class CheckpointReport:
    """What :func:`load_pyskl_checkpoint` did.

    Attributes:
        mapped: number of model entries filled from the checkpoint.
        missing_keys: model keys the checkpoint did not provide (pymg names).
        unexpected_keys: checkpoint keys with no place in the model (checkpoint names).
        skipped_keys: checkpoint keys deliberately ignored (``exclude``, redundant copies, heads
            of a bare backbone).
        notes: human-readable remarks (e.g. a partition copy that differs from the model's).
    """

    mapped: int = 0
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    skipped_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _KeyMap:
    prefix: str  # what a pymg key lacks in front compared with PYSKL ("" or "backbone.")
    derived: frozenset[str]  # pymg keys rebuilt from the layout, absent from PYSKL
    stgcn_blocks: int  # >0: PYSKL stores one partition copy per block
    extras: tuple[str, ...]  # pymg key prefixes with no PYSKL counterpart


def _key_map(model: nn.Module) -> _KeyMap:
    if isinstance(model, PoseC3D):
        return _KeyMap("", frozenset(), 0, ("cls_head.embed.",))
    if isinstance(model, ResNet3dSlowOnly):
        return _KeyMap("backbone.", frozenset(), 0, ())
    try:
        from pymg.models.stgcn import STGCN, STGCNBackbone
    except ImportError:  # pragma: no cover - stgcn is part of the package
        STGCN = STGCNBackbone = None  # type: ignore[assignment,misc]
    if STGCN is not None and isinstance(model, STGCN):
        return _KeyMap("", frozenset({"backbone.A"}), len(model.backbone.gcn), ("cls_head.embed.",))
    if STGCNBackbone is not None and isinstance(model, STGCNBackbone):
        return _KeyMap("backbone.", frozenset({"backbone.A"}), len(model.gcn), ())
    raise NotImplementedError(
        f"no PYSKL key mapping for {type(model).__name__}; supported: PoseC3D, ResNet3dSlowOnly, "
        "STGCN, STGCNBackbone"
    )


def read_state_dict(
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
) -> dict[str, Tensor]:
    """Read a checkpoint into a flat ``{key: Tensor}`` dict (no model involved).

    Accepts a path (read with ``torch.load(weights_only=True)``, so code in the pickle is refused),
    a raw state dict, or the ``{"state_dict": ..., "meta": ...}`` wrapper PYSKL/mmcv write. A
    ``module.`` prefix on every key is removed.
    """
    obj: Any = path_or_state_dict
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"path_or_state_dict: no checkpoint file at {path!r}")
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ValueError(
                f"refusing to load {path!r}: it is not a plain tensor checkpoint (torch.load with "
                "weights_only=True rejected it). If you trust the file, load it yourself and pass "
                f"the state dict. Reason: {str(exc).splitlines()[0]}"
            ) from exc
    if not isinstance(obj, Mapping):
        raise TypeError(
            f"path_or_state_dict must be a path or a dict of tensors, got {type(obj).__name__}"
        )
    if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    state: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise TypeError(
                f"checkpoint entry {key!r} must map a str key to a Tensor, got "
                f"{type(value).__name__}"
            )
        state[key] = value
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _shorten(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def load_pyskl_checkpoint(
    model: nn.Module,
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    strict: bool = True,
    *,
    exclude: Sequence[str] = (),
) -> CheckpointReport:
    """Load a PYSKL / mmaction2 checkpoint into a pymg model, in place.

    Args:
        model: :class:`PoseC3D`, :class:`ResNet3dSlowOnly`, ``STGCN`` or ``STGCNBackbone``.
        path_or_state_dict: checkpoint path, raw state dict or ``{"state_dict": ...}`` wrapper.
        strict: raise when keys are missing or unexpected (shape mismatches always raise).
        exclude: checkpoint key prefixes to ignore, e.g. ``("cls_head.",)`` to keep a fresh
            classifier when fine-tuning on another class count.

    Returns:
        a :class:`CheckpointReport`.

    Raises:
        ValueError: a shape mismatch (naming the key and both shapes), missing/unexpected keys
            with ``strict``, or a file that is not a plain tensor checkpoint.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    kmap = _key_map(model)
    source = read_state_dict(path_or_state_dict)
    target = model.state_dict()
    report = CheckpointReport()
    reference_a = target.get("A" if kmap.prefix else "backbone.A")
    if kmap.prefix and source and not any(k.startswith(kmap.prefix) for k in source):
        # a bare backbone's own state dict (no "backbone." prefix): names map as they are
        source = {kmap.prefix + k: v for k, v in source.items()}
    to_load: dict[str, Tensor] = {}
    for key, value in source.items():
        if any(key.startswith(p) for p in exclude):
            report.skipped_keys.append(key)
            continue
        if kmap.stgcn_blocks and (_BLOCK_A.match(key) or key == "backbone.A"):
            report.skipped_keys.append(key)
            if reference_a is not None and (
                value.shape != reference_a.shape
                or not torch.allclose(value.float(), reference_a.float().cpu(), atol=1e-6)
            ):
                report.notes.append(f"{key} differs from the model's partition (kept the model's)")
            continue
        if kmap.prefix:
            if not key.startswith(kmap.prefix):
                (
                    report.skipped_keys if key.startswith("cls_head.") else report.unexpected_keys
                ).append(key)
                continue
            name = key[len(kmap.prefix) :]
        else:
            name = key
        if name not in target:
            report.unexpected_keys.append(key)
            continue
        if tuple(value.shape) != tuple(target[name].shape):
            raise ValueError(
                f"checkpoint key {key!r} has shape {tuple(value.shape)} but the model expects "
                f"{tuple(target[name].shape)} for {name!r}"
            )
        to_load[name] = value
    derived = {k[len(kmap.prefix) :] if kmap.prefix else k for k in kmap.derived}
    report.missing_keys = [
        k
        for k in target
        if k not in to_load and k not in derived and not k.endswith("num_batches_tracked")
    ]
    if strict and (report.missing_keys or report.unexpected_keys):
        raise ValueError(
            f"checkpoint does not match {type(model).__name__}: missing keys "
            f"[{_shorten(report.missing_keys)}]; unexpected keys "
            f"[{_shorten(report.unexpected_keys)}]"
            " (pass strict=False to load the rest, or exclude=... to skip checkpoint keys)"
        )
    model.load_state_dict(to_load, strict=False)
    report.mapped = len(to_load)
    return report


def export_pyskl_state_dict(model: nn.Module, *, include_extras: bool = True) -> dict[str, Tensor]:
    """Export a pymg model's state in PYSKL's key layout (detached CPU copies).

    Args:
        model: as for :func:`load_pyskl_checkpoint`.
        include_extras: keep pymg-only entries (the head's ``embed`` branch). Pass False for a
            dict that PYSKL/mmaction2 loads with ``strict=True``.

    Returns:
        ``{pyskl_key: Tensor}``; :func:`load_pyskl_checkpoint` restores it exactly.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    kmap = _key_map(model)
    out: dict[str, Tensor] = {}
    for name, value in model.state_dict().items():
        key = kmap.prefix + name
        if key in kmap.derived:
            continue
        if not include_extras and any(key.startswith(p) for p in kmap.extras):
            continue
        out[key] = value.detach().cpu().clone()
    if kmap.stgcn_blocks:
        partition = model.state_dict()["A" if kmap.prefix else "backbone.A"].detach().cpu()
        for i in range(kmap.stgcn_blocks):
            out[f"backbone.gcn.{i}.gcn.A"] = partition.clone()
    return out
