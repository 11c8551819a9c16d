"""``pymg test``: evaluate a checkpoint; writes scores, metrics and the submission file."""

from __future__ import annotations

import argparse

from pymg.cli._common import add_set

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``test`` sub-parser to ``sub``."""
    p = sub.add_parser("test", help="evaluate a checkpoint; writes scores, metrics, submission")
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
    """Test the checkpoint with the parsed arguments."""
    from pymg.engine.testing import run_test

    run_test(
        args.checkpoint,
        data=args.data,
        split=args.split,
        num_clips=args.clips,
        flip=None if args.flip is None else args.flip == "on",
        out_dir=args.out,
        overrides=list(args.set or []),
        device=args.device,
    )
    return 0
