"""``pymg train``: train a model from a config (torchrun-compatible)."""

from __future__ import annotations

import argparse
import os

from pymg.cli._common import add_set, overrides

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` sub-parser to ``sub``."""
    p = sub.add_parser("train", help="train a model from a config (torchrun-compatible)")
    p.add_argument("config", help="config name (see `pymg configs`) or path to a .toml")
    add_set(p)
    p.add_argument("--work-dir", default=None, help="override runtime.work_dir")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="CHECKPOINT",
        help="continue from CHECKPOINT (default: <work_dir>/latest.pt)",
    )
    p.add_argument("--no-test", action="store_true", help="skip the final multi-clip test")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Load the config with its overrides and train."""
    from pymg.engine import load_config, train

    cfg = load_config(args.config, overrides(args))
    resume: str | bool | None = None
    if args.resume is not None:
        resume = True if args.resume == "auto" else args.resume
    result = train(cfg, resume=resume, final_test=not args.no_test)
    if os.environ.get("RANK", "0") == "0":  # torchrun: only rank 0 speaks
        print(f"work dir: {result['work_dir']}")
    return 0
