"""Import and export PYSKL / mmaction2 checkpoints.

pymg's recognizers name their modules as PYSKL does (``backbone.*``, ``cls_head.fc_cls.*``), so the
mapping is mostly the identity. The differences handled here:

* two key conventions: PYSKL names every classifier ``cls_head.fc_cls``; mmaction2 1.x names the
  GCN head's ``cls_head.fc`` (its ``I3DHead`` keeps ``fc_cls``). Import reads both; export writes
  either (``convention="pyskl"`` or ``"mmaction2"``);
* a bare backbone (:class:`ResNet3dSlowOnly`, ``STGCNBackbone``) has no ``backbone.`` prefix; the
  checkpoint's ``cls_head.*`` keys are then skipped (a backbone's own unprefixed state dict loads
  as is);
* ST-GCN: every block holds its partition (``backbone.gcn.{i}.gcn.A``, a learned parameter with
  ST-GCN++'s ``gcn_adaptive='init'``) as in PYSKL. Import takes the checkpoint's after checking
  its shape; a checkpoint without them keeps the model's (noted in the report). An older pymg
  export with one shared ``backbone.A`` is spread over the blocks;
* mmaction2's ``data_preprocessor.*`` entries (input normalisation constants) are skipped;
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
    "CONVENTIONS",
    "CheckpointReport",
    "read_state_dict",
    "load_pyskl_checkpoint",
    "export_pyskl_state_dict",
]

CONVENTIONS = ("pyskl", "mmaction2")

_BLOCK_A = re.compile(r"^backbone\.gcn\.(\d+)\.gcn\.A$")
_MMACTION_GCN_FC = "cls_head.fc."
_PYSKL_FC = "cls_head.fc_cls."


@dataclass
class CheckpointReport:
    """What :func:`load_pyskl_checkpoint` did.

    Attributes:
        mapped: number of model entries filled from the checkpoint.
        missing_keys: model keys the checkpoint did not provide (pymg names).
        unexpected_keys: checkpoint keys with no place in the model (checkpoint names).
        skipped_keys: checkpoint keys deliberately ignored (``exclude``, redundant copies, heads
            of a bare backbone).
        notes: human-readable remarks (e.g. partitions kept from the model).
        convention: ``"pyskl"`` or ``"mmaction2"`` (the classifier's key name in the checkpoint).
    """

    mapped: int = 0
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    skipped_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    convention: str = "pyskl"


@dataclass(frozen=True)
class _KeyMap:
    prefix: str  # what a pymg key lacks in front compared with PYSKL ("" or "backbone.")
    gcn: bool  # a GCN: per-block partitions, mmaction2 names the classifier "fc"
    extras: tuple[str, ...]  # pymg key prefixes with no PYSKL counterpart


def _key_map(model: nn.Module) -> _KeyMap:
    from pymg.models.stgcn import STGCN, STGCNBackbone

    if isinstance(model, PoseC3D):
        return _KeyMap("", False, ("cls_head.embed.",))
    if isinstance(model, ResNet3dSlowOnly):
        return _KeyMap("backbone.", False, ())
    if isinstance(model, STGCN):
        return _KeyMap("", True, ("cls_head.embed.",))
    if isinstance(model, STGCNBackbone):
        return _KeyMap("backbone.", True, ())
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


def _normalise_source(source: dict[str, Tensor], report: CheckpointReport) -> dict[str, Tensor]:
    """Read mmaction2's GCN classifier ``cls_head.fc`` as ``cls_head.fc_cls`` (PYSKL's name).

    mmaction2's ``data_preprocessor.*`` entries are skipped (listed in ``report.skipped_keys``).
    """
    out: dict[str, Tensor] = {}
    if any(k.startswith(_MMACTION_GCN_FC) for k in source):
        report.convention = "mmaction2"
    for key, value in source.items():
        if key.startswith("data_preprocessor."):
            report.skipped_keys.append(key)
        elif key.startswith(_MMACTION_GCN_FC):
            out[_PYSKL_FC + key[len(_MMACTION_GCN_FC) :]] = value
        else:
            out[key] = value
    return out


def _match_keys(
    source: Mapping[str, Tensor],
    target: Mapping[str, Tensor],
    kmap: _KeyMap,
    exclude: Sequence[str],
    report: CheckpointReport,
) -> dict[str, Tensor]:
    """The checkpoint tensors under the model's names; skipped and unexpected keys go to
    ``report``.

    Raises:
        ValueError: a tensor whose shape differs from the model's (naming key and shapes).
    """
    to_load: dict[str, Tensor] = {}
    for key, value in source.items():
        if any(key.startswith(p) for p in exclude):
            report.skipped_keys.append(key)
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
            what = " (the graph partition)" if _BLOCK_A.match(kmap.prefix + name) else ""
            raise ValueError(
                f"checkpoint key {key!r}{what} has shape {tuple(value.shape)} but the model "
                f"expects {tuple(target[name].shape)} for {name!r}"
            )
        to_load[name] = value
    return to_load


def load_pyskl_checkpoint(
    model: nn.Module,
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    strict: bool = True,
    *,
    exclude: Sequence[str] = (),
) -> CheckpointReport:
    """Load a PYSKL / mmaction2 checkpoint into a pymg model, in place.

    Both key conventions are read (PYSKL's ``cls_head.fc_cls`` and mmaction2 1.x's GCN
    ``cls_head.fc``). ST-GCN partitions stored per block are loaded after a shape check.

    Args:
        model: :class:`PoseC3D`, :class:`ResNet3dSlowOnly`, ``STGCN`` or ``STGCNBackbone``.
        path_or_state_dict: checkpoint path, raw state dict or ``{"state_dict": ...}`` wrapper.
        strict: raise when keys are missing or unexpected (shape mismatches always raise).
        exclude: checkpoint key prefixes to ignore (PYSKL names), e.g. ``("cls_head.",)`` to keep
            a fresh classifier when fine-tuning on another class count.

    Returns:
        a :class:`CheckpointReport`.

    Raises:
        ValueError: a shape mismatch (naming the key and both shapes), missing/unexpected keys
            with ``strict``, or a file that is not a plain tensor checkpoint.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    kmap = _key_map(model)
    report = CheckpointReport()
    source = _normalise_source(read_state_dict(path_or_state_dict), report)
    target = model.state_dict()
    if kmap.prefix and source and not any(k.startswith(kmap.prefix) for k in source):
        # a bare backbone's own state dict (no "backbone." prefix): names map as they are
        source = {kmap.prefix + k: v for k, v in source.items()}
    if kmap.gcn and "backbone.A" in source:  # older pymg: one partition shared by all blocks
        shared = source.pop("backbone.A")
        blocks = {m.group(1) for k in target if (m := _BLOCK_A.match(kmap.prefix + k))}
        for i in sorted(blocks, key=int):
            source.setdefault(f"backbone.gcn.{i}.gcn.A", shared)
    to_load = _match_keys(source, target, kmap, exclude, report)
    kept_a = [k for k in target if _BLOCK_A.match(kmap.prefix + k) and k not in to_load]
    if kmap.gcn and kept_a and not any(any(k.startswith(p) for p in exclude) for k in kept_a):
        report.notes.append(
            f"the checkpoint has no partition for {len(kept_a)} block(s); kept the model's"
        )
    params = dict(model.named_parameters())
    report.missing_keys = [
        k
        for k in target
        if k not in to_load
        and not k.endswith("num_batches_tracked")
        and not (k in kept_a and k not in params)  # a fixed partition may be rebuilt
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


def export_pyskl_state_dict(
    model: nn.Module, *, include_extras: bool = True, convention: str = "pyskl"
) -> dict[str, Tensor]:
    """Export a pymg model's state with PYSKL's or mmaction2 1.x's key names (detached CPU copies).

    Args:
        model: as for :func:`load_pyskl_checkpoint`.
        include_extras: keep pymg-only entries (the head's ``embed`` branch). Pass False for a
            dict that PYSKL/mmaction2 loads with ``strict=True``.
        convention: ``"pyskl"`` (classifier ``cls_head.fc_cls``) or ``"mmaction2"`` (a GCN's
            classifier is ``cls_head.fc``; PoseC3D's stays ``cls_head.fc_cls`` as in mmaction2's
            ``I3DHead``).

    Returns:
        ``{key: Tensor}`` with every block's partition ``backbone.gcn.{i}.gcn.A`` for ST-GCN;
        :func:`load_pyskl_checkpoint` restores it exactly.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected one of {CONVENTIONS}, got {convention!r}")
    kmap = _key_map(model)
    out: dict[str, Tensor] = {}
    for name, value in model.state_dict().items():
        key = kmap.prefix + name
        if not include_extras and any(key.startswith(p) for p in kmap.extras):
            continue
        if kmap.gcn and convention == "mmaction2" and key.startswith(_PYSKL_FC):
            key = _MMACTION_GCN_FC + key[len(_PYSKL_FC) :]
        out[key] = value.detach().cpu().clone()
    return out
