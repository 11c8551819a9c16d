"""``pymg viz``: draw a clip's skeleton or heatmap volume to a PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from pymg.cli._common import HelpFormatter

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``viz`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "viz",
        help="draw a clip's skeleton or heatmap volume to a PNG",
        description="Draw one clip of a dataset file: its skeleton over a few frames, or the "
        "joint heatmap volume the model sees. The layout is the one the file records "
        "(`pymg prepare` writes it); the title names the clip and its class.",
        epilog="examples:\n"
        "  pymg viz skeleton data/imigue22.npz --split train --index 3\n"
        "  pymg viz heatmap data/imigue22.npz --out heatmaps.png\n"
        "  pymg viz skeleton synthetic",
        formatter_class=HelpFormatter,
    )
    p.add_argument("kind", choices=["skeleton", "heatmap"], help="what to draw")
    p.add_argument("data", help="dataset file (.pkl / .npz) or 'synthetic'")
    p.add_argument("--index", type=int, default=0, help="clip index within the split")
    p.add_argument("--split", default=None, help="split name (default: all clips)")
    p.add_argument(
        "--layout",
        default=None,
        help="joint layout to draw (default: the one the file records; PYSKL pickles record "
        "none: give it, e.g. coco17)",
    )
    p.add_argument("--size", type=int, default=64, help="heatmap size in pixels (default 64)")
    p.add_argument("--out", default=None, help="output PNG (default <kind>_<index>.png)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Draw the picture and print where it was written."""
    from pymg.engine.samples import clip_layout, heatmap_volume, load_clip
    from pymg.viz import draw_heatmaps, draw_keypoints

    target = Path(args.out) if args.out is not None else Path(f"{args.kind}_{args.index}.png")
    skeleton = clip_layout(args.data, args.layout)
    size = args.size if args.kind == "heatmap" else None
    sample = load_clip(args.data, args.index, split=args.split, layout=skeleton, size=size)
    label = sample["class_name"] or ("unlabelled" if sample["label"] < 0 else sample["label"])
    if args.kind == "skeleton":
        out = draw_keypoints(
            sample["keypoint"],
            skeleton,
            target,
            score=sample["keypoint_score"],
            img_shape=sample["img_shape"],
            title=f"{sample['frame_dir']}: {label} ({skeleton.name})",
        )
    else:
        volume = heatmap_volume(sample, skeleton, args.size)
        title = f"{sample['frame_dir']}: {label}, joint heatmaps (max over {volume.shape[0]})"
        out = draw_heatmaps(volume, target, title=title)
    print(f"wrote {out}")
    return 0
