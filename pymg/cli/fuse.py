"""``pymg fuse``: fuse score files (e.g. the joint and limb streams), default weights 1:1."""

from __future__ import annotations

import argparse
from pathlib import Path

from pymg.cli._common import CLIError, metrics_line

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``fuse`` sub-parser to ``sub``."""
    p = sub.add_parser("fuse", help="fuse score files (e.g. joint + limb), default weights 1:1")
    p.add_argument("scores", nargs="+", help="score files (.npz) written by `pymg test`")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="one weight per file")
    p.add_argument("--out", default=".", help="output folder (default: current folder)")
    p.add_argument("--no-png", action="store_true", help="skip the confusion-matrix picture")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Fuse the score files; write fused scores, the submission and (with labels) a report."""
    from pymg.engine.evaluate import fuse_score_files, save_scores, write_report, write_submission

    if args.weights is not None and len(args.weights) != len(args.scores):
        raise CLIError(
            f"--weights got {len(args.weights)} values for {len(args.scores)} score files"
        )
    fused = fuse_score_files(args.scores, args.weights)
    out = Path(args.out)
    save_scores(fused, out / "fused_scores.npz")
    write_submission(fused, out / "fused_predictions.csv")
    print(f"fused scores: {out / 'fused_scores.npz'}")
    print(f"submission:   {out / 'fused_predictions.csv'}")
    if fused.has_labels:
        metrics = write_report(fused, out, prefix="fused_", png=not args.no_png)
        print(metrics_line("fused", metrics))
    return 0
