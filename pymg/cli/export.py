"""``pymg export``: one checkpoint (or a joint + limb pair) -> one ONNX or pt2 graph."""

from __future__ import annotations

import argparse
from pathlib import Path

from pymg.cli._common import CLIError

__all__ = ["register", "run"]

_SUFFIX = {"onnx": ".onnx", "pt2": ".pt2"}


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "export",
        help="export a checkpoint (or joint + limb) as one graph: keypoints -> probabilities",
        description=(
            "Export the whole recognizer (test transform, temporal alignment, heatmaps, network, "
            "test views, softmax) as one graph. Two checkpoints export their 1:1 fusion."
        ),
    )
    p.add_argument("checkpoints", nargs="+", metavar="CKPT", help="one or two pymg checkpoints")
    p.add_argument(
        "--format",
        choices=("onnx", "pt2"),
        default="onnx",
        help="onnx (standard operators, runs in onnxruntime) or pt2 (torch.export, pymg's ops)",
    )
    p.add_argument("--out", required=True, help="the file to write (e.g. model.onnx)")
    p.add_argument(
        "--single-view",
        action="store_true",
        help="one temporal view without the flip instead of the checkpoint's test views",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    from pymg.engine.export import export_recognizer, read_metadata

    if len(args.checkpoints) > 2:
        raise CLIError(
            f"expected one checkpoint or two (joint + limb), got {len(args.checkpoints)}"
        )
    out = Path(args.out)
    if out.suffix and out.suffix != _SUFFIX[args.format]:
        raise CLIError(
            f"--out {out} ends in {out.suffix!r} but --format {args.format} writes "
            f"{_SUFFIX[args.format]!r} files"
        )
    path = export_recognizer(
        args.checkpoints, out, format=args.format, single_view=args.single_view
    )
    meta = read_metadata(path)
    views = ", ".join(
        f"{s['arch']} {s['stream']}: {s['num_clips']} clip(s){' + flip' if s['flip'] else ''}"
        for s in meta["streams"]
    )
    print(f"exported: {path} ({args.format}, {path.stat().st_size / 1e6:.1f} MB)")
    print(f"layout {meta['layout']} (V={meta['num_joints']}), K={meta['num_classes']} classes")
    print(f"views: {views}")
    print("inputs: keypoint [N, M, T, V, 2], keypoint_score [N, M, T, V], img_shape [N, 2] (H, W)")
    print("output: probabilities [N, K]")
    return 0
