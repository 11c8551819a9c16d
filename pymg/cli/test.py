"""``pymg test``: evaluate a checkpoint; writes scores, metrics and the submission file."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from pymg.cli._common import HelpFormatter, add_set, metrics_line

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``test`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "test",
        help="evaluate a checkpoint; writes scores, metrics, submission",
        description="Score every clip of a split with a checkpoint (multi-clip + flip views as "
        "configured) and write <stem>_<split>_scores.npz, <stem>_<split>_predictions.csv (the "
        "challenge's submission) and, for a labelled split, <stem>_<split>_metrics.json and "
        "<stem>_<split>_confusion.png; <stem> is the checkpoint's file name without .pt.",
        epilog="examples:\n"
        "  pymg test runs/joint/best.pt\n"
        "  pymg test runs/joint/best.pt --split val --clips 1 --flip off\n"
        "  pymg test model.pt --data data/imigue22.npz --out results/",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", help="a pymg checkpoint (best.pt / latest.pt)")
    p.add_argument("--data", default=None, help="dataset file (default: the training config's)")
    p.add_argument("--split", default=None, help="split to test (default: data.test_split)")
    p.add_argument("--clips", type=int, default=None, help="temporal views per clip")
    p.add_argument("--flip", choices=["on", "off"], default=None, help="flip test views")
    p.add_argument("--out", default=None, help="output folder (default: next to the checkpoint)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    add_set(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Test the checkpoint; rank 0 writes the files and prints where they are and the metrics."""
    from pymg.engine.checkpoint_eval import (
        checkpoint_class_counts,
        checkpoint_config,
        evaluate_checkpoint,
    )
    from pymg.engine.evaluate import write_outputs
    from pymg.engine.metrics import SHOT_GROUPS

    cfg = checkpoint_config(
        args.checkpoint,
        data=args.data,
        split=args.split,
        num_clips=args.clips,
        flip=None if args.flip is None else args.flip == "on",
        overrides=list(args.set or []),
        device=args.device,
    )
    result = evaluate_checkpoint(args.checkpoint, cfg)
    if os.environ.get("RANK", "0") != "0":  # torchrun: only rank 0 writes and speaks
        return 0
    checkpoint = Path(args.checkpoint)
    out = Path(args.out) if args.out is not None else checkpoint.parent
    split = cfg.data.test_split
    paths = write_outputs(
        result,
        out,
        prefix=f"{checkpoint.stem}_{split}_",
        train_counts=checkpoint_class_counts(checkpoint),
        shots=(cfg.test.many_shot, cfg.test.few_shot),
    )
    print(f"scores:     {paths['scores']}")
    print(f"submission: {paths['submission']}")
    metrics = paths["metrics"]
    if metrics is not None:
        views = f"{cfg.test.num_clips} clip(s){' + flip' if cfg.test.flip else ''}"
        print(f"metrics:    {paths['metrics_file']}")
        print(metrics_line(split, metrics)[:-1] + f", {views})")
        if "shots" in metrics:
            groups = " / ".join(_percent(metrics["shots"][g]) for g in SHOT_GROUPS)
            print(f"many / medium / few-shot classes: {groups}")
        print(json.dumps({k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy")}))
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
