"""The report of ``pymg ablate``: mean and spread over seeds per cell, a Markdown table and a plot.

Records are those of :func:`pymg.engine.ablate.run_ablations` (``ablations.json``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_rows", "summarize_records", "write_markdown"]


def _spread(measured: list[float | None]) -> str:
    values = [v for v in measured if v is not None]
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    lo, hi = 100 * min(values), 100 * max(values)
    return f"{mean:.1f} ({lo:.1f}-{hi:.1f})"


def summarize_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (cell, stream), in grid order: ``{"cell", "stream", "n", "top1", "top5",
    "mean_class_accuracy", "many", "medium", "few"}`` with each metric a list of the seeds'
    values (a shot group is ``None`` where a record has no value for it)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (r["settings"]["cell"], r["settings"]["stream"])
        row = rows.setdefault(key, {"cell": key[0], "stream": key[1]})
        for metric in _TABLE_METRICS:
            value = r.get(metric)
            row.setdefault(metric, []).append(None if value is None else float(value))
    for row in rows.values():
        row["n"] = len(row["top1"])
    return list(rows.values())


_TABLE_METRICS = ("top1", "top5", "mean_class_accuracy", "many", "medium", "few")


def write_markdown(
    records: Sequence[dict[str, Any]],
    path: str | Path,
    meta: dict[str, Any] | None = None,
    changes: dict[str, str] | None = None,
) -> Path:
    """Write the table (mean and min-max over seeds, in %) and, with matplotlib, a plot next to it.

    Returns:
        the path of the Markdown file.
    """
    path = Path(path)
    meta = meta or {}
    rows = summarize_records(records)
    changes = changes or {}
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
        "Mean over seeds, in %, with the lowest and highest seed in brackets; many / medium / "
        "few: mean class accuracy of the classes with more than 100, 20-100, fewer than 20 "
        "training clips (test.many_shot, test.few_shot; - where no record has them).",
        "",
        "| cell | change | stream | seeds | top-1 | top-5 | mean class acc | many | medium | few |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = " | ".join(_spread(row[m]) for m in _TABLE_METRICS)
        lines.append(
            f"| {row['cell']} | {changes.get(row['cell'], '')} | {row['stream']} | {row['n']} | "
            f"{cells} |"
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
