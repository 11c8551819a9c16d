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

Every PoseC3D cell trains a joint and a limb model and also scores their 1:1 fusion (softmax
probabilities averaged), so each cell has three rows: ``joint``, ``limb``, ``fused``.

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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pymg.checks import check_int
from pymg.engine.config import Config, ConfigError, apply_overrides, config_from_dict

__all__ = [
    "CELLS",
    "FULL",
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

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams trained (``joint``, ``limb``) and scored (``fused``) for this cell."""
        return ("joint", "limb", "fused") if self.arch == "posec3d" else ("joint",)

    def settings(self, stream: str) -> dict[str, Any]:
        """The record's ``settings``: the values that define a run of this cell."""
        return {
            "cell": self.name,
            "arch": self.arch,
            "layout": self.layout,
            "strategy": self.strategy,
            "semantic": self.semantic,
            "stream": stream,
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
"""The grid, in table order."""

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
    return apply_overrides(config_from_dict(values), list(overrides))


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


def _metrics(result: dict[str, Any]) -> dict[str, float]:
    return {k: float(result[k]) for k in ("top1", "top5", "mean_class_accuracy")}


def _chosen(cells: Sequence[str] | None) -> list[Cell]:
    """The cells named (all of :data:`CELLS` for None), in the order given."""
    if cells is None:
        return list(CELLS)
    known = {c.name: c for c in CELLS}
    unknown = [c for c in cells if c not in known]
    if unknown:
        raise ValueError(f"unknown cells {unknown}; known: {', '.join(known)}")
    return [known[c] for c in cells]


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


def _run_cell(grid: _Grid, cell: Cell, seed: int) -> None:
    """Train and test every stream of ``cell`` with ``seed`` (+ their fusion); adds records."""
    from pymg.engine.evaluate import fuse_score_files
    from pymg.engine.metrics import summarize
    from pymg.engine.trainer import train

    score_files = {}
    for stream in [s for s in cell.streams if s != "fused"]:
        work = grid.out / "runs" / f"{cell.name.replace(' ', '_')}_{stream}_s{seed}"
        cfg = ablation_config(
            cell, stream, seed, work, sizes=grid.sizes, data=grid.data,
            num_classes=grid.num_classes, embeddings=grid.embeddings, overrides=grid.overrides,
        )  # fmt: skip
        tic = time.perf_counter()
        result = train(cfg)
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


def _spread(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    lo, hi = 100 * min(values), 100 * max(values)
    return f"{mean:.1f} ({lo:.1f}-{hi:.1f})"


def summarize_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (cell, stream), in grid order: ``{"cell", "stream", "n", "top1", "top5",
    "mean_class_accuracy"}`` with each metric a list of the seeds' values."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (r["settings"]["cell"], r["settings"]["stream"])
        row = rows.setdefault(
            key,
            {"cell": key[0], "stream": key[1], "top1": [], "top5": [], "mean_class_accuracy": []},
        )
        for metric in ("top1", "top5", "mean_class_accuracy"):
            row[metric].append(float(r[metric]))
    for row in rows.values():
        row["n"] = len(row["top1"])
    return list(rows.values())


def write_markdown(
    records: Sequence[dict[str, Any]], path: str | Path, meta: dict[str, Any] | None = None
) -> Path:
    """Write the table (mean and min-max over seeds, in %) and, with matplotlib, a plot next to it.

    Returns:
        the path of the Markdown file.
    """
    path = Path(path)
    meta = meta or {}
    rows = summarize_records(records)
    changes = {c.name: c.change for c in CELLS}
    lines = ["# Ablations", ""]
    if meta:
        lines += [
            f"- date: {meta.get('date')}; machine: {meta.get('machine')}",
            f"- command: `{meta.get('command')}`"
            + (f" (overrides: {', '.join(meta['overrides'])})" if meta.get("overrides") else ""),
            f"- data: {meta.get('data')}; wall time {meta.get('wall_seconds', 0):.0f} s"
            f" ({'--quick' if meta.get('quick') else 'full'} sizes: {meta.get('sizes')})",
            f"- majority-class baseline: top-1 {100 * meta.get('majority_top1', math.nan):.1f}%,"
            f" mean class accuracy {100 / max(int(meta.get('num_classes', 32)), 1):.1f}%",
            "",
        ]
    lines += [
        "Mean over seeds, in %, with the lowest and highest seed in brackets.",
        "",
        "| cell | change | stream | seeds | top-1 | top-5 | mean class acc |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['cell']} | {changes.get(row['cell'], '')} | {row['stream']} | {row['n']} | "
            f"{_spread(row['top1'])} | {_spread(row['top5'])} | "
            f"{_spread(row['mean_class_accuracy'])} |"
        )
    picture = _plot(rows, path.with_suffix(".png"))
    lines += [
        "",
        f"![top-1 and mean class accuracy per cell]({picture.name})"
        if picture is not None
        else "(no plot: install matplotlib, e.g. `pip install matplotlib`, for ablations.png)",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _plot(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Write :func:`plot_rows` to ``path``; None when matplotlib is not installed."""
    from pymg.viz import matplotlib_available, save_figure

    if not matplotlib_available():
        return None
    return save_figure(plot_rows(rows), path)


def plot_rows(rows: list[dict[str, Any]]) -> Any:
    """Bar plot (a matplotlib Figure) of top-1 and mean class accuracy per row of
    :func:`summarize_records`: mean over seeds with min-max whiskers. The legend sits below the
    axes, so it never covers a bar."""
    from pymg.viz import new_figure

    labels = [f"{r['cell']} / {r['stream']}" for r in rows]
    y = np.arange(len(rows))
    fig = new_figure(8, 0.35 * len(rows) + 1.8, dpi=100)
    ax = fig.subplots()
    for offset, metric, color in (
        (-0.2, "top1", "tab:blue"),
        (0.2, "mean_class_accuracy", "tab:orange"),
    ):
        values = [100 * np.asarray(r[metric]) for r in rows]
        mean = np.array([v.mean() for v in values])
        err = np.array([[m - v.min(), v.max() - m] for m, v in zip(mean, values, strict=True)]).T
        ax.barh(
            y + offset, mean, height=0.38, xerr=err, color=color, label=metric.replace("_", " ")
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("% (mean over seeds, min-max whiskers)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    return fig
