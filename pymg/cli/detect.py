"""``pymg detect``: find when micro-gestures happen in untrimmed recordings (sliding windows)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pymg.cli._common import CLIError

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``detect`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "detect",
        help="detect micro-gestures in untrimmed recordings (detections.csv, timelines, metrics)",
        description="Run a detector checkpoint (trained with detect.train = true) over whole "
        "recordings: windows of W frames every S frames, per-frame class scores, segments. "
        "Writes DIR/detections.csv (video,start,end,label,class_name,score; 0-based inclusive "
        "frames), a timeline picture per video (needs matplotlib) and, when the recordings are "
        "labelled, DIR/metrics.json (precision, recall, F1 at --iou). Settings default to the "
        "checkpoint's [detect] section.",
        epilog="examples:\n  pymg detect runs/detect_demo/latest.pt synthetic_untrimmed "
        "--split test --out det\n  pymg detect best.pt data/imigue41_untrimmed.npz --split test "
        "--out det --window 64 --stride 8",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="a detector checkpoint (best.pt / latest.pt)")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a native untrimmed file (.npz from `pymg prepare --untrimmed`), a release folder, "
        "one video's folder or keypoint file (with its label file beside it), or "
        "'synthetic_untrimmed' (the checkpoint config's synthetic recordings)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", default=None, help="only the recordings of this split")
    p.add_argument("--window", type=int, default=None, help="window W, frames")
    p.add_argument("--stride", type=int, default=None, help="stride S between windows, frames")
    p.add_argument("--batch-windows", type=int, default=None, help="windows per model call")
    p.add_argument("--num-clips", type=int, default=None, help="temporal views per window")
    p.add_argument("--flip", choices=["on", "off"], default=None, help="add flipped views")
    p.add_argument(
        "--thresholds", default=None, help="hysteresis 'high' levels, comma-separated (0.5,0.7)"
    )
    p.add_argument("--hysteresis", type=float, default=None, help="low = high - this")
    p.add_argument("--min-len", type=int, default=None, help="shortest segment, frames")
    p.add_argument("--merge-gap", type=int, default=None, help="merge same-class gaps <= this")
    p.add_argument("--max-len", type=int, default=None, help="longest segment, frames")
    p.add_argument("--nms-iou", type=float, default=None, help="per-class NMS temporal IoU")
    p.add_argument("--iou", type=float, default=0.3, help="temporal IoU of a match (metrics)")
    p.add_argument("--no-pictures", action="store_true", help="skip the timeline pictures")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(func=run)
    return p


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[detect]`` overrides given on the command line."""
    out: dict[str, Any] = {}
    for key in ("window", "stride", "batch_windows", "num_clips", "hysteresis", "min_len",
                "merge_gap", "max_len", "nms_iou"):  # fmt: skip
        value = getattr(args, key)
        if value is not None:
            out[key] = value
    if args.flip is not None:
        out["flip"] = args.flip == "on"
    if args.thresholds is not None:
        try:
            out["thresholds"] = tuple(float(t) for t in args.thresholds.split(",") if t.strip())
        except ValueError:
            raise CLIError(
                f"--thresholds: numbers separated by commas, got {args.thresholds!r}"
            ) from None
    return out


def run(args: argparse.Namespace) -> int:
    """Detect with the parsed arguments; prints where the files went and the metrics."""
    import torch

    from pymg.engine.detect_run import run_detect
    from pymg.engine.detector import Detector

    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    pictures = not args.no_pictures
    if pictures:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "timelines skipped: matplotlib is not installed "
                "(pip install 'pymg-microgesture[viz]')"
            )
            pictures = False
    detector = Detector.from_checkpoint(args.checkpoint, device=args.device, **settings(args))
    bar = _bar()
    try:
        result = run_detect(
            detector,
            detector.config,
            args.inputs,
            args.out,
            split=args.split,
            iou=args.iou,
            pictures=pictures,
            progress=bar.update if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()
    print(f"{result['rows']} detections in {result['videos']} videos: {result['detections']}")
    if result["timelines"]:
        print(f"timelines: {len(result['timelines'])} pictures in {args.out}")
    m = result["metrics"]
    if m is not None:
        print(
            f"tIoU {m['iou']:g}: precision {m['precision']:.3f}  recall {m['recall']:.3f}  "
            f"F1 {m['f1']:.3f}  ({int(m['tp'])} of {int(m['ground_truths'])} gestures found, "
            f"{int(m['detections'])} detections)"
        )
    return 0


def _bar() -> Any:
    """A tqdm bar counting frames when stderr is a terminal (None otherwise)."""
    if not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(unit="frame", desc="detect", dynamic_ncols=True, leave=False)
