"""``pymg demo``: train and test a small PoseC3D on built-in synthetic data (CPU)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-parser to ``sub``."""
    p = sub.add_parser("demo", help="train + test a small PoseC3D on synthetic data (CPU, 1-6 min)")
    p.add_argument("--work-dir", default="pymg-demo", help="output folder (default ./pymg-demo)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--clips", type=int, default=None, help="number of synthetic clips")
    p.add_argument("--quick", action="store_true", help="tiny settings for CI (seconds)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo with the parsed arguments."""
    from pymg.engine.demo import run_demo

    run_demo(
        work_dir=args.work_dir,
        epochs=args.epochs,
        clips=args.clips,
        quick=args.quick,
        seed=args.seed,
        threads=args.threads,
    )
    return 0
