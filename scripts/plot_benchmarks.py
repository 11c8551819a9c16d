"""Plot pytest-benchmark JSON files as bar charts of median or min times (docs/img/benchmarks.png).

Usage::

    pytest benchmarks --benchmark-only --benchmark-json bench.json
    python scripts/plot_benchmarks.py bench.json [more.json ...] -o docs/img/benchmarks.png \\
        [--groups REGEX] [--stat median|min] [--title TEXT] [--markdown]

One panel per benchmark group (``@pytest.mark.benchmark(group=...)``, two columns beyond three
groups), labelled by the parameters that vary in the group; each bar is one benchmark's median
time with a whisker over its inter-quartile range (``--stat min``: its fastest round); the x axis
turns logarithmic when the times in a panel span more than two decades. ``--groups`` keeps the
groups matching a regular expression; ``--markdown`` also prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchRow:
    """One benchmark's timing summary, in seconds."""

    group: str
    name: str
    median: float
    min: float
    q1: float
    q3: float
    rounds: int
    label: str = ""


def load_benchmarks(path: Path | str) -> list[BenchRow]:
    """Read the ``benchmarks`` list of a pytest-benchmark JSON file.

    Returns:
        rows in file order; benchmarks without a group get the group ``"benchmarks"``. A row's
        ``label`` names what distinguishes it within its group: the values of the parameters that
        vary there (e.g. the backend), else its name.
    Raises:
        ValueError: the file is not pytest-benchmark JSON or holds no benchmark.
    """
    data: Any = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"path: {path} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    rows = []
    params: list[dict[str, str]] = []
    for bench in data["benchmarks"]:
        try:
            stats = bench["stats"]
            rows.append(
                BenchRow(
                    group=str(bench.get("group") or "benchmarks"),
                    name=str(bench["name"]).removeprefix("test_"),
                    median=float(stats["median"]),
                    min=float(stats.get("min", stats["median"])),
                    q1=float(stats.get("q1", stats["median"])),
                    q3=float(stats.get("q3", stats["median"])),
                    rounds=int(stats.get("rounds", 0)),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"path: benchmark entry without name/stats.median: {exc}") from exc
        params.append({str(k): str(v) for k, v in (bench.get("params") or {}).items()})
    if not rows:
        raise ValueError(f"path: {path} holds no benchmark")
    return _label_rows(rows, params)


def _label_rows(rows: list[BenchRow], params: list[dict[str, str]]) -> list[BenchRow]:
    """Set each row's label to the values of the parameters that vary within its group."""
    by_group: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_group.setdefault(row.group, []).append(i)
    labels = [row.name for row in rows]
    for members in by_group.values():
        keys = sorted({k for i in members for k in params[i]})
        varying = [k for k in keys if len({params[i].get(k) for i in members}) > 1]
        if varying and len(members) > 1:
            for i in members:
                labels[i] = "-".join(params[i].get(k, "?") for k in varying)
    return [replace(row, label=label) for row, label in zip(rows, labels, strict=True)]


def _unit(seconds: float) -> tuple[float, str]:
    """(scale, unit) that shows ``seconds`` with 1-3 digits before the point."""
    if seconds == 0.0:
        return 1.0, "s"
    for scale, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "us")):
        if seconds * scale >= 1.0:
            return scale, unit
    return 1e9, "ns"


def format_seconds(seconds: float) -> str:
    """A duration in its own unit with 3 significant digits: ``0.0158`` -> ``"15.8 ms"``."""
    scale, unit = _unit(seconds)
    return f"{seconds * scale:.3g} {unit}"


def markdown_table(rows: list[BenchRow]) -> str:
    """A Markdown table: group | benchmark (its label) | min | median | IQR | rounds."""
    lines = [
        "| group | benchmark | min | median | IQR | rounds |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cells = [row.min, row.median, row.q3 - row.q1]
        times = " | ".join(format_seconds(max(c, 0.0)) for c in cells)
        lines.append(f"| {row.group} | {row.label or row.name} | {times} | {row.rounds} |")
    return "\n".join(lines)


def plot_benchmarks(
    rows: list[BenchRow], out: Path | str, title: str = "", stat: str = "median"
) -> Path:
    """Draw one horizontal bar panel per group and save it as PNG to ``out``; returns the path.

    ``stat`` is ``"median"`` (bars with inter-quartile whiskers) or ``"min"`` (the fastest round,
    no whiskers: the least disturbed number on a shared machine).
    """
    if stat not in ("median", "min"):
        raise ValueError(f"stat: expected 'median' or 'min', got {stat!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[str, list[BenchRow]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    ncols = 1 if len(groups) <= 3 else 2
    nrows = -(-len(groups) // ncols)
    items = list(groups.items())
    heights = [
        0.9 + 0.3 * max(len(members) for _, members in items[r * ncols : (r + 1) * ncols])
        for r in range(nrows)
    ]
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(7.0 * ncols, sum(heights) + 0.6),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax in axes.flat[len(items) :]:
        ax.set_visible(False)
    for ax, (group, members) in zip(axes.flat, items, strict=False):
        values = [r.median if stat == "median" else r.min for r in members]
        ordered = sorted(values)
        scale, unit = _unit(ordered[len(ordered) // 2])
        medians = [v * scale for v in values]
        if stat == "median":
            lower = [max(0.0, (r.median - r.q1) * scale) for r in members]
            upper = [max(0.0, (r.q3 - r.median) * scale) for r in members]
        else:
            lower = upper = [0.0] * len(members)
        positions = list(range(len(members)))
        ax.barh(
            positions,
            medians,
            xerr=[lower, upper] if stat == "median" else None,
            color="#3f7fbf",
            capsize=3,
        )
        ax.set_yticks(positions, [r.label or r.name for r in members], fontsize=8)
        ax.invert_yaxis()
        if max(medians) / max(min(medians), 1e-12) > 100.0:
            ax.set_xscale("log")
        whiskers = ", whiskers = IQR" if stat == "median" else " of the rounds"
        ax.set_xlabel(f"{stat} time ({unit}){whiskers}", fontsize=8)
        ax.set_title(group, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.margins(x=0.15)
        for pos, value, up, seconds in zip(positions, medians, upper, values, strict=True):
            label = format_seconds(seconds)
            ax.annotate(
                label, (value + up, pos), xytext=(4, -3), textcoords="offset points", fontsize=7
            )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, nargs="+", help="pytest-benchmark JSON file(s)")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/img/benchmarks.png"))
    parser.add_argument("--title", default="", help="figure title")
    parser.add_argument("--groups", default="", help="regular expression: keep matching groups")
    parser.add_argument("--stat", choices=("median", "min"), default="median")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args(argv)
    try:
        rows = [row for path in args.json for row in load_benchmarks(path)]
    except (OSError, ValueError) as exc:
        print(f"plot_benchmarks: {exc}", file=sys.stderr)
        return 1
    if args.groups:
        rows = [row for row in rows if re.search(args.groups, row.group)]
        if not rows:
            print(f"plot_benchmarks: no group matches {args.groups!r}", file=sys.stderr)
            return 1
    out = plot_benchmarks(rows, args.out, args.title, args.stat)
    print(f"plot_benchmarks: {len(rows)} benchmarks -> {out}")
    if args.markdown:
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
