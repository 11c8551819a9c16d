"""Evaluation: multi-clip + flip test, score files, two-stream fusion, submission CSV, reports.

Test-time views: each clip is aligned to ``num_clips`` temporal views (and, with ``flip``, their
horizontal mirrors); the model's softmax is taken per view and the views are averaged.

Files (all written by rank 0):

* score file ``*.npz``: ``scores`` float32 [N, K] (class probabilities), ``labels`` int64 [N]
  (-1 when unknown), ``clip_ids`` str [N], ``class_names`` str [K]. Read with :func:`load_scores`.
* submission ``*.csv`` (the MiGA challenge's layout): no header, one ``clip_id,pred`` row per
  clip, ``pred`` the predicted 0-based class (iMiGUE's ``C1`` -> 0 ... ``C32`` -> 31), e.g.
  ``0054_0,30``. Clip ids are the dataset's ``frame_dir`` values.
* report: ``<prefix>metrics.json`` (:func:`pymg.engine.metrics.summarize` + ``class_names``),
  ``<prefix>per_class.csv`` (header ``class,name,accuracy,precision,recall,support`` plus
  ``train_count,group`` when the training counts are known; empty cells where a ratio is
  undefined) and ``<prefix>confusion.png``.

:func:`write_outputs` writes all three with one prefix; training, ``pymg test`` and ``pymg fuse``
use it, so their files are named alike (``<split>_scores.npz``, ``<split>_predictions.csv``,
``<split>_metrics.json``, ``<split>_per_class.csv``, ``<split>_confusion.png``).
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Subset

from pymg.engine.distributed import DistContext, all_gather_objects
from pymg.engine.loader import QuietWorkersLoader
from pymg.engine.metrics import plot_confusion, summarize
from pymg.engine.runtime import autocast, to_device
from pymg.models.fusion import fuse_scores
from pymg.models.interface import RecognizerModel

__all__ = [
    "ScoreSet",
    "adjust_scores",
    "fuse_score_files",
    "load_scores",
    "predict_batch",
    "predict_dataset",
    "save_scores",
    "write_outputs",
    "write_report",
    "write_submission",
]


@dataclass
class ScoreSet:
    """Scores of one evaluation: ``scores`` [N, K], ``labels`` [N] (-1 = unknown), ids, names."""

    scores: np.ndarray
    labels: np.ndarray
    clip_ids: list[str]
    class_names: list[str]

    def __post_init__(self) -> None:
        n = self.scores.shape[0]
        if self.scores.ndim != 2 or self.labels.shape != (n,) or len(self.clip_ids) != n:
            raise ValueError(
                "ScoreSet needs scores [N, K], labels [N] and N clip ids; got "
                f"{self.scores.shape}, {self.labels.shape} and {len(self.clip_ids)}"
            )
        if len(self.class_names) != self.scores.shape[1]:
            raise ValueError(
                f"ScoreSet has K={self.scores.shape[1]} scores but {len(self.class_names)} names"
            )

    @property
    def has_labels(self) -> bool:
        """True when every clip has a known label (so metrics can be computed)."""
        return bool(self.labels.size) and bool((self.labels >= 0).all())


def _unwrap(model: nn.Module) -> RecognizerModel:
    net = model.module if isinstance(model, DistributedDataParallel) else model
    if not isinstance(net, RecognizerModel):
        raise TypeError(
            f"model must be a pymg RecognizerModel (PoseC3D, STGCN, TwoStream...), got "
            f"{type(net).__name__}"
        )
    return net


@torch.no_grad()
def predict_batch(
    model: nn.Module,
    batch: Mapping[str, Any],
    *,
    num_clips: int = 1,
    flip: bool = False,
    size: int | None = None,
    amp: str = "off",
) -> Tensor:
    """Class probabilities of a collated batch, averaged over temporal views and flips.

    Args:
        model: a :class:`pymg.models.interface.RecognizerModel` (DDP-wrapped is fine).
        batch: a keypoint batch (:func:`pymg.data.collate`; keypoints in [0, size) output
            coordinates), on any device: the model builds its input on its own device.
        num_clips: temporal views per clip.
        flip: also average the horizontally mirrored views (done by the model's ``make_input``).
        size: heatmap side for this evaluation (heatmap models; default: the model's size).
        amp: autocast mode, see :func:`pymg.engine.runtime.autocast`.

    Returns:
        float32 Tensor [N, K]: mean over the views of softmax(logits).
    """
    net = _unwrap(model)
    n = int(batch["keypoint"].shape[0])
    device = next(net.parameters()).device
    with autocast(device, amp):
        x = net.make_input(batch, num_clips=num_clips, flip=flip, size=size)
        logits = net(x).logits
    # rows are grouped per sample (clip-major, then flip), so view(N, views, K) keeps samples apart
    return logits.float().softmax(-1).view(n, -1, logits.shape[-1]).mean(dim=1)


def _iter_batches(
    dataset: Any, batch_size: int, num_workers: int, ctx: DistContext
) -> Iterator[tuple[list[int], dict[str, Any]]]:
    from pymg.data import collate

    indices = list(range(ctx.rank, len(dataset), ctx.world_size))
    loader = QuietWorkersLoader(
        Subset(dataset, indices),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=ctx.device.type == "cuda",
    )
    start = 0
    for batch in loader:
        count = int(batch["label"].shape[0])
        yield indices[start : start + count], batch
        start += count


def predict_dataset(
    model: nn.Module,
    dataset: Any,
    class_names: Sequence[str],
    ctx: DistContext,
    *,
    num_clips: int = 1,
    flip: bool = False,
    batch_size: int = 4,
    num_workers: int = 0,
    size: int | None = None,
    amp: str = "off",
) -> ScoreSet:
    """Scores of every clip of ``dataset`` (each rank scores a shard; all ranks get the result).

    Returns:
        A :class:`ScoreSet` in dataset order; clip ids are the items' ``frame_dir``.
    """
    was_training = model.training
    model.eval()
    shard: list[tuple[int, np.ndarray, int, str]] = []
    try:
        for idx, batch in _iter_batches(dataset, batch_size, num_workers, ctx):
            probs = predict_batch(
                model,
                to_device(batch, ctx.device),
                num_clips=num_clips,
                flip=flip,
                size=size,
                amp=amp,
            )
            probs_np = probs.cpu().numpy()
            for j, i in enumerate(idx):
                frame_dir = batch["frame_dir"][j]
                clip_id = str(i if frame_dir is None else frame_dir)
                shard.append((i, probs_np[j], int(batch["label"][j]), clip_id))
    finally:
        model.train(was_training)
    rows = sorted((r for part in all_gather_objects(shard) for r in part), key=lambda r: r[0])
    k = len(class_names)
    scores = np.stack([r[1] for r in rows]) if rows else np.zeros((0, k), np.float32)
    return ScoreSet(
        scores=scores.astype(np.float32),
        labels=np.asarray([r[2] for r in rows], dtype=np.int64),
        clip_ids=[r[3] for r in rows],
        class_names=list(class_names),
    )


def save_scores(result: ScoreSet, path: str | Path) -> Path:
    """Write a score file (``.npz``; layout in the module docstring). Returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        np.savez(
            handle,
            scores=result.scores.astype(np.float32),
            labels=result.labels.astype(np.int64),
            clip_ids=np.asarray(result.clip_ids, dtype=str),
            class_names=np.asarray(result.class_names, dtype=str),
        )
    return out


SCORE_FILE_MAX_BYTES = 1 << 30
"""Cap on the uncompressed size of a score file's members (1 GiB: 8 million clips of 32
classes), checked from the zip directory before anything is read or decompressed."""

_SCORE_MEMBERS = ("scores", "labels", "clip_ids", "class_names")


def load_scores(path: str | Path, max_bytes: int = SCORE_FILE_MAX_BYTES) -> ScoreSet:
    """Read a score file written by :func:`save_scores` (or ``pymg test``).

    The file must be a ``.npz`` archive whose four members (see the module docstring) hold at
    most ``max_bytes`` uncompressed; each member's ``.npy`` header is checked against its size
    before it is read, and object arrays are refused.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a pymg score file (another format, missing members, Python objects) or
            members larger than ``max_bytes`` (the message names the file, the size and the
            limit).
    """
    from pymg.data.formats.checks import FileBudget
    from pymg.data.formats.native import _read_member

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"score file not found: {p}")
    with p.open("rb") as handle:
        head = handle.read(4)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(
            f"{p} is not a pymg score file: expected a .npz archive written by `pymg test` "
            f"(the file starts with {head!r})"
        )
    try:
        with zipfile.ZipFile(p) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            missing = [m for m in _SCORE_MEMBERS if f"{m}.npy" not in infos]
            if missing:
                raise ValueError(f"{p} is not a pymg score file (missing {missing})")
            total = sum(infos[f"{m}.npy"].file_size for m in _SCORE_MEMBERS)
            if total > max_bytes:
                raise ValueError(
                    f"{p}: the score file's members hold {total} bytes uncompressed "
                    f"({total / 2**30:.3g} GiB), over the limit of {max_bytes} bytes for a "
                    "score file (pass max_bytes=... to load_scores if the file is trusted)"
                )
            budget = FileBudget(str(p), max_bytes)
            data = {m: _read_member(str(p), zf, m, False, budget) for m in _SCORE_MEMBERS}
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read score file {p}: {exc}") from exc
    except ValueError as exc:
        if str(exc).startswith(str(p)):
            raise
        raise ValueError(f"{p} is not a pymg score file: {exc}") from None
    return ScoreSet(
        scores=np.asarray(data["scores"], dtype=np.float32),
        labels=np.asarray(data["labels"]).astype(np.int64),
        clip_ids=[str(c) for c in data["clip_ids"]],
        class_names=[str(c) for c in data["class_names"]],
    )


def fuse_score_files(
    paths: Sequence[str | Path], weights: Sequence[float] | None = None
) -> ScoreSet:
    """Weighted fusion (default 1:1) of score files of the same clips (e.g. joint + limb).

    Clips are matched by id (the order may differ between files); every file must hold the same
    clip ids and class names. Returns a ScoreSet in the first file's order.

    Raises:
        ValueError: fewer than two files, other clips or classes, labels that disagree for a
            clip (named), or a file whose scores hold NaN or inf (named, with its first such
            clip); see :func:`load_scores` for the checks on each file.
    """
    if len(paths) < 2:
        raise ValueError(f"fusion needs at least two score files, got {len(paths)}")
    sets = [load_scores(p) for p in paths]
    for path, one in zip(paths, sets, strict=True):
        finite = np.isfinite(one.scores).all(axis=1)
        if not finite.all():
            bad = one.clip_ids[int(np.flatnonzero(~finite)[0])]
            raise ValueError(
                f"{path}: scores hold NaN or inf ({int((~finite).sum())} clip(s), first "
                f"{bad!r}); refusing to fuse them (re-run `pymg test` for that model)"
            )
    first = sets[0]
    aligned = [first.scores]
    for path, other in zip(paths[1:], sets[1:], strict=True):
        if other.class_names != first.class_names:
            raise ValueError(f"{path} has other class names than {paths[0]}")
        if sorted(other.clip_ids) != sorted(first.clip_ids) or len(set(first.clip_ids)) != len(
            first.clip_ids
        ):
            raise ValueError(f"{path} does not hold the same (unique) clip ids as {paths[0]}")
        position = {c: i for i, c in enumerate(other.clip_ids)}
        order = np.asarray([position[c] for c in first.clip_ids], dtype=np.int64)
        differ = np.flatnonzero(other.labels[order] != first.labels)
        if differ.size:
            i = int(differ[0])
            raise ValueError(
                f"{path} labels clip {first.clip_ids[i]!r} {int(other.labels[order][i])} but "
                f"{paths[0]} labels it {int(first.labels[i])} ({differ.size} clip(s) disagree): "
                "the files do not score the same test set"
            )
        aligned.append(other.scores[order])
    fused = np.asarray(fuse_scores(aligned, weights, softmax=False)).astype(np.float32)
    return ScoreSet(fused, first.labels.copy(), list(first.clip_ids), list(first.class_names))


def write_submission(result: ScoreSet, path: str | Path) -> Path:
    """Write the challenge's submission file: one ``clip_id,pred`` row per clip, no header.

    ``pred`` is the predicted 0-based class (0..K-1; iMiGUE's class ``C(i+1)`` is ``i``), clip
    ids are the dataset's ``frame_dir`` values (``<video>_<k>`` for releases made by
    ``pymg prepare``), e.g. ``0054_0,30``.

    Args:
        result: scores [N, K] and N clip ids.
        path: the ``.csv`` to write (folders are created).

    Raises:
        ValueError: the scores hold NaN or inf (a broken model or score file).
    """
    if not np.isfinite(result.scores).all():
        bad = int(np.flatnonzero(~np.isfinite(result.scores).all(axis=1))[0])
        raise ValueError(
            f"scores hold NaN or inf (first at clip {result.clip_ids[bad]!r}): "
            "refusing to write a submission from them"
        )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    predictions = result.scores.argmax(axis=1)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for clip_id, label in zip(result.clip_ids, predictions, strict=True):
            writer.writerow([clip_id, int(label)])
    return out


def write_report(
    result: ScoreSet,
    out_dir: str | Path,
    prefix: str = "",
    png: bool | None = None,
    train_counts: Sequence[int] | np.ndarray | None = None,
    shots: tuple[int, int] = (100, 20),
) -> dict[str, Any]:
    """Metrics of a labelled ScoreSet to ``<prefix>metrics.json`` and ``<prefix>per_class.csv``
    (+ ``<prefix>confusion.png``).

    Args:
        result: the scores [N, K] with labels.
        out_dir: the folder written to.
        prefix: file-name prefix.
        png: also draw the confusion matrix (needs matplotlib).
        train_counts: optional [K] training clips per class: adds the many / medium / few-shot
            accuracies with the thresholds ``shots = (many, few)``.

    ``png``: draw the confusion matrix (None: when matplotlib is installed).
    Returns the metrics dict (:func:`pymg.engine.metrics.summarize` plus ``class_names``).
    """
    if png is None:
        from pymg.viz import matplotlib_available

        png = matplotlib_available()
    if not result.has_labels:
        raise ValueError("the scores carry no labels (-1): metrics need labelled clips")
    many, few = shots
    metrics = summarize(
        result.scores, result.labels, result.class_names, train_counts, many=many, few=few
    )
    metrics["class_names"] = list(result.class_names)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    _write_per_class(metrics["classes"], folder / f"{prefix}per_class.csv")
    if png:
        plot_confusion(metrics["confusion"], folder / f"{prefix}confusion.png", result.class_names)
    return metrics


def write_outputs(
    result: ScoreSet,
    out_dir: str | Path,
    prefix: str,
    png: bool | None = None,
    train_counts: Sequence[int] | np.ndarray | None = None,
    shots: tuple[int, int] = (100, 20),
) -> dict[str, Any]:
    """Write the score file, the submission and (labelled clips only) the report of ``result``.

    Files: ``<out_dir>/<prefix>scores.npz``, ``<prefix>predictions.csv`` and, when the clips
    carry labels, ``<prefix>metrics.json``, ``<prefix>per_class.csv`` and
    ``<prefix>confusion.png`` (see :func:`write_report` for ``png``, ``train_counts`` and
    ``shots``).

    Returns:
        ``{"scores": Path, "submission": Path, "metrics_file": Path | None, "metrics": dict |
        None}``.
    """
    folder = Path(out_dir)
    paths: dict[str, Any] = {
        "scores": save_scores(result, folder / f"{prefix}scores.npz"),
        "submission": write_submission(result, folder / f"{prefix}predictions.csv"),
        "metrics_file": None,
        "metrics": None,
    }
    if result.has_labels:
        paths["metrics"] = write_report(
            result, folder, prefix=prefix, png=png, train_counts=train_counts, shots=shots
        )
        paths["metrics_file"] = folder / f"{prefix}metrics.json"
    return paths


def _write_per_class(rows: list[dict[str, Any]], path: Path) -> None:
    """The per-class table as CSV (one row per class, in class order)."""
    columns = ["class", "name", "accuracy", "precision", "recall", "support"]
    if rows and "train_count" in rows[0]:
        columns += ["train_count", "group"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for index, row in enumerate(rows):
            values = {"class": index, **row}
            writer.writerow(["" if values[c] is None else values[c] for c in columns])


def adjust_scores(
    result: ScoreSet, train_counts: Sequence[int] | np.ndarray, tau: float
) -> ScoreSet:
    """``result`` with post-hoc logit-adjusted probabilities (``tau <= 0``: unchanged).

    See :func:`pymg.losses_longtail.adjust_probabilities`.

    Shape:
        - result.scores: ``[N, K]``; train_counts: ``[K]``
    """
    if tau <= 0:
        return result
    from pymg.losses_longtail import adjust_probabilities

    scores = adjust_probabilities(result.scores, train_counts, tau)
    return ScoreSet(scores, result.labels, result.clip_ids, result.class_names)
