"""``pymg ablate``: the paper's ablation grid on any dataset, several seeds, one table.

The grid is the paper's one-factor-at-a-time ablation around its full recipe (PoseC3D, 41 joints,
structure-preserving temporal alignment, semantic embedding loss, joint + limb fused 1:1):

=================  ==========================================================================
cell               what changes from the recipe
=================  ==========================================================================
``recipe``         nothing (imigue41, ``uniform`` alignment, semantic loss on)
``22 joints``      layout ``imigue22`` (no face-70 points)
``crop+pad``       ``model.strategy = "crop_pad"``: random crop of long clips, zero-pad short
``pyskl``          ``model.strategy = "pyskl"``: PYSKL's ``UniformSampleFrames``
``no semantic``    ``loss.semantic = false`` (cross-entropy only)
``stgcn 22``       ST-GCN on ``imigue22`` (joint stream; alignment and loss as in the recipe)
``stgcn 41``       ST-GCN on ``imigue41``
=================  ==========================================================================

The long-tail cells (:data:`LONGTAIL_CELLS`, joint stream only) change one imbalance strategy
from ``baseline`` (the recipe's joint stream: instance sampling, plain cross-entropy + semantic
loss): class-balanced / square-root / progressive sampling, inverse / square-root inverse /
effective-number class weights, logit adjustment as a loss and post hoc (tau = 1), and cRT
(the baseline, then ``sizes["crt_epochs"]`` epochs of head-only re-training with class-balanced
sampling). Their records carry many / medium / few-shot accuracy as well.

Every PoseC3D cell of the paper's grid trains a joint and a limb model and also scores their 1:1
fusion (softmax probabilities averaged), so each such cell has three rows: ``joint``, ``limb``,
``fused``.

Files written to ``out``: ``ablations.json`` (one record per run, rewritten after every run:
settings, seed, top1, top5, mean class accuracy, seconds), ``ablations.md`` (mean and spread
over seeds per cell and stream, plus a plot ``ablations.png`` when matplotlib is installed) and
``runs/<cell>_<stream>_s<seed>/`` (the work dirs).
"""

from __future__ import annotations

import json
import logging
import math
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pymg.checks import check_int
from pymg.engine import ablate_report
from pymg.engine.ablate_report import plot_rows, summarize_records
from pymg.engine.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
)

__all__ = [
    "ALL_CELLS",
    "CELLS",
    "FULL",
    "LONGTAIL_CELLS",
    "QUICK",
    "Cell",
    "ablation_config",
    "plot_rows",
    "run_ablations",
    "summarize_records",
    "write_markdown",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One column of the grid: a name, what it changes, and the config values it sets."""

    name: str
    change: str
    arch: str = "posec3d"
    layout: str = "imigue41"
    strategy: str = "uniform"
    semantic: bool = True
    overrides: tuple[str, ...] = ()
    finetune_head: bool = False
    fuse: bool = True

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams trained (``joint``, ``limb``) and scored (``fused``) for this cell."""
        return ("joint", "limb", "fused") if self.arch == "posec3d" and self.fuse else ("joint",)

    def settings(self, stream: str) -> dict[str, Any]:
        """The record's ``settings``: the values that define a run of this cell."""
        return {
            "cell": self.name,
            "arch": self.arch,
            "layout": self.layout,
            "strategy": self.strategy,
            "semantic": self.semantic,
            "stream": stream,
            "overrides": list(self.overrides),
            "finetune_head": self.finetune_head,
        }


CELLS: tuple[Cell, ...] = (
    Cell("recipe", "the paper's recipe: 41 joints, uniform alignment, semantic loss"),
    Cell("22 joints", "layout imigue22 (no face points)", layout="imigue22"),
    Cell("crop+pad", "alignment: random crop + zero-pad", strategy="crop_pad"),
    Cell("pyskl", "alignment: PYSKL UniformSampleFrames", strategy="pyskl"),
    Cell("no semantic", "cross-entropy only", semantic=False),
    Cell("stgcn 22", "ST-GCN on imigue22", arch="stgcn", layout="imigue22"),
    Cell("stgcn 41", "ST-GCN on imigue41", arch="stgcn", layout="imigue41"),
)
"""The paper's grid, in table order."""


def _longtail(name: str, change: str, *overrides: str, crt: bool = False) -> Cell:
    return Cell(name, change, overrides=overrides, finetune_head=crt, fuse=False)


LONGTAIL_CELLS: tuple[Cell, ...] = (
    _longtail("baseline", "recipe, joint stream: instance sampling, plain cross-entropy"),
    _longtail("class-balanced", "class-balanced sampling", "data.sampler=class_balanced"),
    _longtail("sqrt sampling", "square-root sampling", "data.sampler=sqrt"),
    _longtail("progressive", "sampling power 1 -> 0 over the epochs", "data.sampler=progressive"),
    _longtail("inverse weights", "class weights 1/n", "loss.class_weights=inverse"),
    _longtail("sqrt weights", "class weights 1/sqrt(n)", "loss.class_weights=sqrt_inverse"),
    _longtail(
        "effective number",
        "class weights by effective number, beta 0.999",
        "loss.class_weights=effective",
    ),
    _longtail("logit-adj loss", "logit-adjusted loss, tau 1", "loss.logit_adjust_tau=1.0"),
    _longtail("logit-adj post hoc", "post-hoc logit adjustment, tau 1", "test.logit_adjust=1.0"),
    _longtail("cRT", "baseline, then head-only class-balanced re-training", crt=True),
)
"""The long-tail strategies, one at a time from ``baseline`` (joint stream)."""

ALL_CELLS: tuple[Cell, ...] = CELLS + LONGTAIL_CELLS
"""Every cell ``--cells`` may name."""

QUICK: dict[str, Any] = {
    "seeds": 2,
    "clips": 480,
    "epochs": 5,
    "clip_len": 8,
    "train_size": 32,
    "test_size": 32,
    "base_channels": 8,
    "stage_blocks": [1, 1, 1],
    "batch_size": 16,
    "lr": 0.1,
    "lr_batch_size": 0,
    "num_clips": 1,
    "flip": False,
    "flip_prob": 0.0,
    "stgcn_clip_len": 16,
    "gcn_channels": 16,
    "crt_epochs": 2,
}
"""``--quick``: small enough for 2 CPU cores (see docs/ablations.md for the measured time)."""

FULL: dict[str, Any] = {
    "seeds": 3,
    "clips": 4000,
    "epochs": 24,
    "clip_len": 48,
    "train_size": 56,
    "test_size": 64,
    "base_channels": 32,
    "stage_blocks": [4, 6, 3],
    "batch_size": 24,
    "lr": 0.1 / 3,
    "lr_batch_size": 24,
    "num_clips": 10,
    "flip": True,
    "flip_prob": 0.5,
    "stgcn_clip_len": 100,
    "gcn_channels": 64,
    "crt_epochs": 10,
}
"""The default (a GPU setting): the shipped configs' model, frames and test, 4000 clips."""


def ablation_config(
    cell: Cell,
    stream: str,
    seed: int,
    work_dir: str | Path,
    *,
    sizes: dict[str, Any],
    data: str | None = None,
    num_classes: int = 32,
    embeddings: str = "imigue",
    overrides: Iterable[str] = (),
) -> Config:
    """The :class:`Config` of one run of the grid (``stream`` is ``"joint"`` or ``"limb"``).

    ``data`` is a dataset file, or ``None`` for the iMiGUE-like synthetic set
    (``data.source = "synthetic_imigue"``, ``sizes["clips"]`` clips, data seed = ``seed``).
    ``overrides`` (``"section.key=value"``) are applied last, to every run.
    """
    posec3d = cell.arch == "posec3d"
    values: dict[str, Any] = {
        "name": f"ablate {cell.name} {stream}",
        "data": {
            "source": data or "synthetic_imigue",
            "layout": cell.layout,
            "train_size": sizes["train_size"] if posec3d else sizes["test_size"],
            "test_size": sizes["test_size"],
            "random_crop": False,
            "flip_prob": sizes["flip_prob"],
            "num_workers": 0,
            "synthetic_clips": sizes["clips"],
            "synthetic_seed": seed,
        },
        "model": _model_table(cell, stream, num_classes, sizes),
        "optim": {
            "lr": sizes["lr"],
            "batch_size": sizes["batch_size"],
            "lr_batch_size": sizes["lr_batch_size"],
        },
        "schedule": {"epochs": sizes["epochs"], "policy": "cosine"},
        "loss": {"semantic": cell.semantic, "embeddings": embeddings},
        "test": {
            "num_clips": sizes["num_clips"],
            "flip": sizes["flip"],
            "batch_size": 16,
            "val_interval": 0,
        },
        "runtime": {"work_dir": str(work_dir), "seed": seed, "progress": False},
    }
    return apply_overrides(config_from_dict(values), [*cell.overrides, *overrides])


def _model_table(cell: Cell, stream: str, num_classes: int, sizes: dict[str, Any]) -> dict:
    """The ``[model]`` table of one run: the cell's family and its options."""
    table: dict[str, Any] = {
        "arch": cell.arch,
        "num_classes": num_classes,
        "dropout": 0.0,
        "strategy": cell.strategy,
    }
    if cell.arch == "posec3d":
        table.update(
            stream=stream,
            clip_len=sizes["clip_len"],
            base_channels=sizes["base_channels"],
            stage_blocks=list(sizes["stage_blocks"]),
        )
    else:
        table.update(clip_len=sizes["stgcn_clip_len"], base_channels=sizes["gcn_channels"])
    return table


def _dataset_classes(data: str) -> tuple[int, list[str]]:
    """K and class names of a dataset file (from its test split's clips or stored names)."""
    from pymg.data import PoseDataset

    path = Path(data).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--data: no such dataset file {path}")
    ds = PoseDataset(str(path), split=None, layout="imigue22")
    from pymg.engine.builders import class_names_for

    names = class_names_for(int(ds.num_classes), ds.class_names)
    return len(names), names


def _metrics(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: float(result[k]) for k in ("top1", "top5", "mean_class_accuracy")}
    for group, value in (result.get("shots") or {}).items():
        out[group] = value
    return out


def _training_key(cfg: Config) -> str:
    """What defines a training run: the config without its name, ``test`` section and work dir."""
    values = config_to_dict(cfg)
    values.pop("test")
    values.pop("name")
    values["runtime"].pop("work_dir")
    return json.dumps(values, sort_keys=True)


def _train_once(cfg: Config, trained: dict[str, Path], final_test: bool = True) -> dict[str, Any]:
    """Train ``cfg``, or, when a run of this out dir already trained the same model (another
    test setting, e.g. post-hoc logit adjustment; cRT's first stage), test its checkpoint."""
    from pymg.engine.checkpoint_eval import (
        checkpoint_class_counts,
        checkpoint_config,
        evaluate_checkpoint,
    )
    from pymg.engine.evaluate import write_outputs
    from pymg.engine.trainer import train

    key = _training_key(cfg)
    if key not in trained:
        result = train(cfg, final_test=final_test)
        trained[key] = Path(cfg.runtime.work_dir)
        return result
    if not final_test:
        return {"test": None}
    checkpoint = trained[key] / "latest.pt"
    tests = [f"test.{k}={_toml(v)}" for k, v in config_to_dict(cfg)["test"].items()]
    scores = evaluate_checkpoint(checkpoint, checkpoint_config(checkpoint, overrides=tests))
    written = write_outputs(
        scores,
        cfg.runtime.work_dir,
        prefix=f"{cfg.data.test_split}_",
        train_counts=checkpoint_class_counts(checkpoint),
        shots=(cfg.test.many_shot, cfg.test.few_shot),
    )
    return {"test": written["metrics"]}


def _toml(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, bool) else str(value).lower()


def _train_cell(
    cell: Cell, cfg: Config, sizes: dict[str, Any], trained: dict[str, Path]
) -> dict[str, Any]:
    """One run of ``cell``; cRT first trains the baseline (or reuses it), then its head."""
    from pymg.engine.trainer import train

    if not cell.finetune_head:
        return _train_once(cfg, trained)
    stage1 = replace(cfg, runtime=replace(cfg.runtime, work_dir=cfg.runtime.work_dir + "_stage1"))
    _train_once(stage1, trained, final_test=False)
    schedule = replace(cfg.schedule, epochs=int(sizes["crt_epochs"]))
    checkpoint = trained[_training_key(stage1)] / "latest.pt"
    return train(replace(cfg, schedule=schedule), finetune_head=checkpoint)


def _chosen(cells: Sequence[str] | None) -> list[Cell]:
    """The cells named (all of :data:`CELLS` for None), in the order given; ``"longtail"``
    stands for every cell of :data:`LONGTAIL_CELLS`."""
    if cells is None:
        return list(CELLS)
    known = {c.name: c for c in ALL_CELLS}
    names = [
        n for c in cells for n in ([x.name for x in LONGTAIL_CELLS] if c == "longtail" else [c])
    ]
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"unknown cells {unknown}; known: {', '.join(known)}")
    return [known[c] for c in names]


@dataclass
class _Grid:
    """What the runs of one grid share: sizes, data, output folder, records, progress."""

    out: Path
    sizes: dict[str, Any]
    data: str | None
    num_classes: int
    names: list[str] | None
    embeddings: str
    overrides: list[str]
    total: int
    done: int = 0
    start: float = field(default_factory=time.perf_counter)
    records: list[dict[str, Any]] = field(default_factory=list)
    majority: dict[int, float] = field(default_factory=dict)
    trained: dict[str, Path] = field(default_factory=dict)


def _run_cell(grid: _Grid, cell: Cell, seed: int) -> None:
    """Train and test every stream of ``cell`` with ``seed`` (+ their fusion); adds records."""
    from pymg.engine.evaluate import fuse_score_files
    from pymg.engine.metrics import summarize

    score_files = {}
    for stream in [s for s in cell.streams if s != "fused"]:
        work = grid.out / "runs" / f"{cell.name.replace(' ', '_')}_{stream}_s{seed}"
        cfg = ablation_config(
            cell, stream, seed, work, sizes=grid.sizes, data=grid.data,
            num_classes=grid.num_classes, embeddings=grid.embeddings, overrides=grid.overrides,
        )  # fmt: skip
        tic = time.perf_counter()
        result = _train_cell(cell, cfg, grid.sizes, grid.trained)
        seconds = time.perf_counter() - tic
        grid.done += 1
        if result["test"] is None:
            raise ConfigError(f"the test split of {cfg.data.source!r} has no labels")
        m = _metrics(result["test"])
        grid.records.append(_record(cell, stream, seed, m, seconds, cfg))
        score_files[stream] = work / f"{cfg.data.test_split}_scores.npz"
        grid.majority.setdefault(seed, _majority_top1(score_files[stream]))
        log.info(
            f"[{grid.done}/{grid.total}] {cell.name:12s} {stream:5s} seed {seed}: top1 "
            f"{100 * m['top1']:.1f}%  mean class acc {100 * m['mean_class_accuracy']:.1f}%"
            f"  ({seconds:.0f} s, {time.perf_counter() - grid.start:.0f} s in all)"
        )
    if "fused" in cell.streams:
        fused = fuse_score_files([score_files["joint"], score_files["limb"]])
        metrics = _metrics(summarize(fused.scores, fused.labels, grid.names or fused.class_names))
        grid.records.append(_record(cell, "fused", seed, metrics, 0.0, cfg))


def run_ablations(
    out_dir: str | Path,
    *,
    data: str | None = None,
    quick: bool = False,
    seeds: int | None = None,
    cells: Sequence[str] | None = None,
    embeddings: str = "imigue",
    overrides: Iterable[str] = (),
    command: str | None = None,
) -> list[dict[str, Any]]:
    """Run the grid (:data:`CELLS`) for ``seeds`` seeds and write the files (module docstring).

    Progress (one line per run) goes to the ``pymg`` logger.

    Args:
        out_dir: output folder (created).
        data: a dataset file (PYSKL ``.pkl`` or pymg ``.npz``); ``None`` = the iMiGUE-like
            synthetic set :class:`pymg.data.SyntheticIMiGUE`.
        quick: the :data:`QUICK` sizes (2 CPU cores) instead of :data:`FULL` (a GPU).
        seeds: number of seeds (0, 1, ...); default 2 with ``quick``, else 3.
        cells: names of the cells to run (default: all of :data:`CELLS`).
        embeddings: label-embedding table of the semantic cells (name or ``.npy`` path).
        overrides: ``"section.key=value"`` applied to every run (e.g. tiny sizes in tests).
        command: the command line, recorded in the outputs.

    Returns:
        the records (as written to ``ablations.json``).
    """
    sizes = dict(QUICK if quick else FULL)
    n_seeds = sizes["seeds"] if seeds is None else seeds
    check_int(n_seeds, "seeds", minimum=1)
    chosen = _chosen(cells)
    num_classes, names = (32, None) if data is None else _dataset_classes(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = sum(len([s for s in c.streams if s != "fused"]) for c in chosen) * n_seeds
    grid = _Grid(out, sizes, data, num_classes, names, embeddings, list(overrides), runs)
    for seed in range(n_seeds):
        for cell in chosen:
            _run_cell(grid, cell, seed)
            _write_json(out / "ablations.json", grid.records)
    wall = time.perf_counter() - grid.start
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command or "pymg.engine.ablate.run_ablations",
        "machine": _machine(),
        "wall_seconds": wall,
        "quick": quick,
        "data": data or "synthetic_imigue",
        "sizes": sizes,
        "overrides": grid.overrides,
        "majority_top1": statistics.fmean(grid.majority.values()) if grid.majority else math.nan,
        "num_classes": num_classes,
    }
    _write_json(out / "ablations.json", grid.records, meta)
    write_markdown(grid.records, out / "ablations.md", meta)
    log.info(f"wrote {out / 'ablations.json'} and {out / 'ablations.md'} ({wall:.0f} s)")
    return grid.records


def _record(
    cell: Cell, stream: str, seed: int, metrics: dict[str, float], seconds: float, cfg: Config
) -> dict[str, Any]:
    settings = cell.settings(stream)
    settings.update(clips=cfg.data.synthetic_clips if cfg.data.source.startswith("synthetic")
                    else cfg.data.source, epochs=cfg.schedule.epochs)  # fmt: skip
    return {"settings": settings, "seed": seed, **metrics, "seconds": round(seconds, 2)}


def _majority_top1(scores_path: Path) -> float:
    """Top-1 of always predicting the test split's most frequent class."""
    from pymg.engine.evaluate import load_scores

    labels = np.asarray(load_scores(scores_path).labels)
    return float(np.bincount(labels).max() / max(len(labels), 1))


def _machine() -> str:
    import os

    import torch

    return (
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
        + (", CUDA " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else ", no GPU")
    )


def _write_json(path: Path, records: list[dict[str, Any]], meta: dict[str, Any] | None = None):
    payload: dict[str, Any] = {"records": records}
    if meta is not None:
        payload["meta"] = meta
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_markdown(
    records: Sequence[dict[str, Any]], path: str | Path, meta: dict[str, Any] | None = None
) -> Path:
    """The Markdown table (and plot) of ``records``, each cell's change from :data:`ALL_CELLS`
    (:func:`pymg.engine.ablate_report.write_markdown`)."""
    changes = {c.name: c.change for c in ALL_CELLS}
    return ablate_report.write_markdown(records, path, meta, changes)
