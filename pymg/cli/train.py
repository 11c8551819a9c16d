"""``pymg train``: train a model from a config (torchrun-compatible)."""

from __future__ import annotations

import argparse
import os

from pymg.cli._common import HelpFormatter, add_set, overrides

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "train",
        help="train a model from a config (torchrun-compatible)",
        description="Train (and finally test) a model as a config describes. Prints a start-up "
        "block at once, the measured speed and how long the run will take, progress per epoch "
        "and one line per epoch (stderr); writes checkpoints, metrics.jsonl and the final "
        "test's <split>_scores.npz, <split>_predictions.csv, <split>_metrics.json into the "
        "work dir. Under torchrun every process trains its shard; rank 0 writes and speaks.",
        epilog="examples:\n"
        "  pymg train demo\n"
        "  pymg train imigue22_posec3d_joint --set data.source=data/imigue22.npz "
        "--set data.test_split=val\n"
        "  pymg train runs/joint/config.toml --resume\n"
        "  torchrun --nproc-per-node 4 -m pymg train imigue41_posec3d_joint "
        "--set data.source=data/imigue41.npz",
        formatter_class=HelpFormatter,
    )
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
    p.add_argument(
        "--finetune-head",
        default=None,
        metavar="CHECKPOINT",
        help="classifier re-training (cRT): start from CHECKPOINT, re-initialise the head and "
        "train only it, backbone frozen, class-balanced sampling",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard curves to <work_dir>/tensorboard (log.tensorboard = true)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Load the config with its overrides and train."""
    from pymg.engine import load_config, train

    extra = ["log.tensorboard=true"] if args.tensorboard else []
    cfg = load_config(args.config, [*overrides(args), *extra])
    resume: str | bool | None = None
    if args.resume is not None:
        resume = True if args.resume == "auto" else args.resume
    result = train(
        cfg, resume=resume, final_test=not args.no_test, finetune_head=args.finetune_head
    )
    if os.environ.get("RANK", "0") == "0":  # torchrun: only rank 0 speaks
        print(f"work dir: {result['work_dir']}")
    return 0
