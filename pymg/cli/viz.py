"""``pymg viz``: draw a clip's skeleton or heatmap volume to a PNG."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``viz`` sub-parser to ``sub``."""
    p = sub.add_parser("viz", help="draw a clip's skeleton or heatmap volume to a PNG")
    p.add_argument("kind", choices=["skeleton", "heatmap"], help="what to draw")
    p.add_argument("data", help="dataset file (.pkl / .npz) or 'synthetic'")
    p.add_argument("--index", type=int, default=0, help="clip index within the split")
    p.add_argument("--split", default=None, help="split name (default: all clips)")
    p.add_argument("--layout", default="imigue41", help="joint layout (default imigue41)")
    p.add_argument("--size", type=int, default=64, help="heatmap size in pixels (default 64)")
    p.add_argument("--out", default=None, help="output PNG (default <kind>_<index>.png)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw the picture and print where it was written."""
    from pymg.engine.visualize import visualize_clip

    out = visualize_clip(
        args.data,
        kind=args.kind,
        index=args.index,
        split=args.split,
        layout=args.layout,
        out=args.out,
        size=args.size,
    )
    print(f"wrote {out}")
    return 0
