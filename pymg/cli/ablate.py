"""``pymg ablate``: the paper's ablation grid over seeds -> ablations.json / ablations.md."""

from __future__ import annotations

import argparse

from pymg.cli._common import HelpFormatter, add_set

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``ablate`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "ablate",
        help="the paper's ablation grid over seeds -> ablations.json/.md",
        description="Train and test the paper's one-factor-at-a-time ablation grid (22 joints, "
        "alignment strategies, no semantic loss, ST-GCN) around its recipe for several seeds; "
        "writes ablations.json (one record per run), ablations.md (mean and min-max per cell) "
        "and ablations.png.",
        epilog="examples:\n"
        "  pymg ablate --quick --out ablations/\n"
        '  pymg ablate --data data/imigue41.npz --cells recipe "22 joints" --out abl/',
        formatter_class=HelpFormatter,
    )
    p.add_argument("--data", default=None, help="dataset file (default: iMiGUE-like synthetic)")
    p.add_argument("--quick", action="store_true", help="CPU sizes (2 cores, ~15 min)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (quick 2, else 3)")
    p.add_argument(
        "--cells",
        nargs="+",
        default=None,
        help="run only these cells (names; 'longtail' = every long-tail strategy cell)",
    )
    p.add_argument(
        "--embeddings",
        default=None,
        help="label-embedding table of the semantic cells: a name or .npy (default: iMiGUE's)",
    )
    p.add_argument("--out", required=True, help="output folder")
    add_set(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the grid (or the named cells) and write its tables."""
    from pymg.engine.ablate import run_ablations

    given = {} if args.embeddings is None else {"embeddings": args.embeddings}
    run_ablations(
        args.out,
        data=args.data,
        quick=args.quick,
        seeds=args.seeds,
        cells=args.cells,
        overrides=list(args.set or []),
        command="pymg " + " ".join(args.argv),
        **given,
    )
    return 0
