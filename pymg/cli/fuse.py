"""``pymg fuse``: fuse score files (e.g. the joint and limb streams), default weights 1:1."""

from __future__ import annotations

import argparse
from pathlib import Path

from pymg.cli._common import CLIError, HelpFormatter, metrics_line

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``fuse`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "fuse",
        help="fuse score files (e.g. joint + limb), default weights 1:1",
        description="Average the class probabilities of score files of the same clips (weights "
        "1:1 unless --weights) and write fused_scores.npz, fused_predictions.csv (the "
        "challenge's submission) and, for labelled clips, fused_metrics.json and "
        "fused_confusion.png.",
        epilog="example:\n  pymg fuse runs/joint/best_test_scores.npz "
        "runs/limb/best_test_scores.npz --out runs/fused",
        formatter_class=HelpFormatter,
    )
    p.add_argument("scores", nargs="+", help="score files (.npz) written by `pymg test`")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="one weight per file")
    p.add_argument("--out", default=".", help="output folder (default: current folder)")
    p.add_argument("--no-png", action="store_true", help="skip the confusion-matrix picture")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Fuse the score files; write fused scores, the submission and (with labels) a report."""
    from pymg.engine.evaluate import fuse_score_files, write_outputs

    if args.weights is not None and len(args.weights) != len(args.scores):
        raise CLIError(
            f"--weights got {len(args.weights)} values for {len(args.scores)} score files"
        )
    fused = fuse_score_files(args.scores, args.weights)
    png = False if args.no_png else None
    paths = write_outputs(fused, Path(args.out), prefix="fused_", png=png)
    print(f"fused scores: {paths['scores']}")
    print(f"submission:   {paths['submission']}")
    if paths["metrics"] is not None:
        print(metrics_line("fused", paths["metrics"]))
    return 0
