"""Checkpoint files: atomic writes, safe loading, and capture/restore of every RNG state.

A pymg checkpoint is a ``torch.save`` dict of plain values and tensors (loadable with
``torch.load(weights_only=True)``)::

    {"format": "pymg-checkpoint", "version": 1,
     "config": {...}            # pymg.engine.config_to_dict(cfg)
     "layout": {...}            # the Skeleton's fields (so custom layouts round-trip)
     "class_names": [str]*K,
     "model": state_dict,        # un-wrapped (no "module." prefix)
     "optimizer": ..., "schedule": {...}, "epoch": int (epochs completed),
     "iteration": int, "best": {"metric": str, "value": float, "epoch": int},
     "rng": {...},               # see capture_rng_state
     "model_spec": {"arch": str, "options": {...}},  # the resolved model (model_options)
     "sha256": str}              # digest of every tensor above (tensor_digest)

Only the model and metadata are needed for inference (:class:`pymg.engine.Recognizer`).
Loading verifies the digest (flipped bits are an error naming the file) and refuses weights that
are not finite (naming the tensor); checkpoints written before the digest existed load unverified.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "capture_rng_state",
    "load_checkpoint",
    "load_model_state",
    "restore_rng_state",
    "save_checkpoint",
    "tensor_digest",
]

CHECKPOINT_FORMAT = "pymg-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder + os.replace).

    A crash mid-write leaves the previous file intact. Adds the ``format``/``version`` keys and
    ``sha256``, the :func:`tensor_digest` of the payload.
    Returns the path written.

    Raises:
        OSError: the write failed (e.g. no space left on device); the message names the path
            and says the previous file is unchanged (torch's own message for a short write,
            ``unexpected pos``, is replaced by the system error behind it).
    """
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    data["sha256"] = tensor_digest(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        system = _system_error(exc)
        if system is None:
            raise
        kept = "is unchanged" if out.is_file() else "was not written"
        error = OSError(
            f"{system.strerror or system} while writing checkpoint {out} "
            f"(in {out.parent}; {out.name} {kept})"
        )
        error.errno = system.errno
        raise error from exc
    return out


def _system_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc``: itself, or the one torch's writer hit (``__context__``)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if isinstance(seen, OSError):
            return seen
        if seen is None:
            return None
        seen = seen.__cause__ or seen.__context__
    return None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a pymg checkpoint written by :func:`save_checkpoint` (``weights_only`` loading).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a pymg checkpoint (e.g. a raw PYSKL state dict: use
            ``pymg.models.load_pyskl_checkpoint`` for those).
    """
    p = Path(path)
    if p.is_dir():
        found = [str(p / n) for n in ("best.pt", "latest.pt") if (p / n).is_file()]
        hint = f"found {', '.join(found)}" if found else "none is there yet"
        raise IsADirectoryError(
            f"checkpoint path {p} is a directory; expected a checkpoint file such as "
            f"{p / 'best.pt'} or {p / 'latest.pt'} ({hint})"
        )
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(f"cannot read checkpoint {p}: {_load_reason(exc, p)}") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{p} is not a pymg checkpoint (for PYSKL/mmaction2 weights set model.pretrained)"
        )
    if int(data.get("version", 0)) > CHECKPOINT_VERSION:
        raise ValueError(f"{p} was written by a newer pymg (format version {data['version']})")
    _verify(data, p)
    return data


def tensor_digest(payload: dict[str, Any]) -> str:
    """SHA-256 over every tensor of ``payload`` (but the ``sha256`` key), in a fixed order.

    Nested dicts are walked in sorted key order and lists in order; each tensor adds its path,
    dtype, shape and raw bytes, so a flipped bit, a swapped tensor or a changed shape all change
    the digest. Returns the hex digest.
    """
    digest = hashlib.sha256()

    def walk(value: Any, path: str) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{path}|{flat.dtype}|{tuple(value.shape)}|".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                if not (path == "" and key == "sha256"):
                    walk(value[key], f"{path}/{key}")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(payload, "")
    return digest.hexdigest()


def _verify(data: dict[str, Any], path: Path) -> None:
    """Check the stored digest (when there is one) and that the model weights are finite."""
    stored = data.get("sha256")
    if stored is not None and stored != tensor_digest(data):
        raise ValueError(
            f"checkpoint {path} is corrupted: its tensors do not match the SHA-256 digest stored "
            "when it was saved (flipped bits or an altered file); use another copy"
        )
    state = data.get("model")
    for key, tensor in state.items() if isinstance(state, dict) else ():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            if not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise ValueError(
                    f"checkpoint {path} holds non-finite weights: tensor {key!r} has {bad} "
                    f"NaN/inf value(s) of {tensor.numel()}; it cannot be used"
                )


def _load_reason(exc: Exception, path: Path) -> str:
    """Why ``torch.load`` failed, without torch's advice to turn off safe loading."""
    text = str(exc)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        return (
            f"the file is truncated or damaged ({path.stat().st_size:,} bytes, its zip directory "
            "is missing): it was cut short, e.g. by a full disk or an interrupted copy"
        )
    if "Unsupported global" in text:
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" ({found.group(1)})" if found else ""
        return (
            f"it holds Python objects{what} besides tensors and plain values, which pymg does "
            "not unpickle (a pymg checkpoint loads safely; for PYSKL/mmaction2 weights set "
            "model.pretrained or use pymg.models.load_pyskl_checkpoint)"
        )
    if "weights_only" in text or not text.strip():
        return "not a torch checkpoint (unreadable data)"
    return f"not a torch checkpoint ({text.strip().splitlines()[0]})"


def load_model_state(model: torch.nn.Module, state: dict[str, Any], source: str) -> None:
    """``model.load_state_dict(state)`` with an error that names the keys and shapes at fault.

    Args:
        model: the model to fill.
        state: its state dict (as saved under ``"model"`` in a checkpoint).
        source: where ``state`` comes from, for the message (e.g. the checkpoint path).

    Raises:
        ValueError: missing or unexpected keys, or tensors of another shape; the message names
            the first of each kind (and how many there are) with the shapes.
    """
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise ValueError(
            f"{source} does not fit the model: {_state_mismatch(model, state)}"
        ) from None


def _state_mismatch(model: torch.nn.Module, state: dict[str, Any]) -> str:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k!r} is {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
        for k, v in own.items()
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, items in (
        ("missing key", [repr(k) for k in missing]),
        ("unexpected key", [repr(k) for k in unexpected]),
        ("shape mismatch", shapes),
    ):
        if items:
            more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
            parts.append(f"{label} {items[0]}{more}")
    return "; ".join(parts) or "the state dict was refused"


def capture_rng_state() -> dict[str, Any]:
    """Snapshot the Python, NumPy (legacy global), torch CPU and CUDA RNG states.

    Everything is stored as tensors / lists of ints so the dict survives ``weights_only`` loading.
    """
    version, mt_state, gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)  # noqa: NPY002
    if not isinstance(np_state, tuple):  # pragma: no cover - legacy=True always gives a tuple
        raise RuntimeError("unexpected numpy RNG state")
    state: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [
            np_state[0],
            torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            int(np_state[2]),
            int(np_state[3]),
            float(np_state[4]),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by :func:`capture_rng_state` (CUDA only when available)."""
    if not isinstance(state, dict) or not {"python", "numpy", "torch"} <= state.keys():
        raise ValueError("state must be a dict from capture_rng_state()")
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np_keys = keys.numpy().astype(np.uint32)
    np.random.set_state((name, np_keys, pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in states])
