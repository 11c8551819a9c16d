"""``pymg bench``: time the heatmap kernels (numpy / torch / native / cuda) side by side."""

from __future__ import annotations

import argparse
from typing import Any

from pymg.cli._common import CLIError

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``bench`` sub-parser to ``sub``."""
    p = sub.add_parser("bench", help="time the heatmap kernels (numpy/torch/native/cuda)")
    p.add_argument("--layouts", nargs="+", default=["coco17", "imigue41"], help="layouts")
    p.add_argument("--kinds", nargs="+", choices=["joint", "limb"], default=["joint", "limb"])
    p.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    p.add_argument("--clip-len", type=int, default=48, help="frames per clip (default 48)")
    p.add_argument("--size", type=int, default=56, help="heatmap side (default 56)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        choices=["numpy", "torch", "native", "cuda", "fill"],
        help="backends to time (default torch native cuda fill)",
    )
    p.add_argument("--quick", action="store_true", help="one tiny case per backend (seconds)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Time the requested cases and print the table."""
    try:
        from pymg.ops.timing import benchmark_heatmaps, format_table
    except ImportError as exc:
        raise CLIError(f"the heatmap benchmark is not available in this build ({exc})") from exc
    kwargs: dict[str, Any] = {
        "layouts": args.layouts,
        "kinds": args.kinds,
        "batch_size": args.batch_size,
        "clip_len": args.clip_len,
        "size": args.size,
        "repeats": args.repeats,
    }
    if args.backends is not None:
        kwargs["backends"] = args.backends
    if args.quick:
        kwargs.update(layouts=["imigue41"], batch_size=2, clip_len=8, repeats=1)
        kwargs.setdefault("backends", ["torch", "native", "cuda"])
    print(format_table(benchmark_heatmaps(**kwargs)))
    return 0
