"""``pymg evaluate-detections``: F1 at one tIoU and mAP of detected segments vs ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pymg.cli._common import CLIError

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``evaluate-detections`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "evaluate-detections",
        help="score detected segments against ground truth (F1 at a tIoU, mAP)",
        description="Both CSV files have a header; rows video,start,end,label (+ score for "
        "detections), frames 0-based inclusive, classes 0-based. Default F1: per video, "
        "detections by descending score each match the unmatched same-class ground truth of "
        "highest tIoU (inclusive frames), precision/recall summed over videos. --kit-compat "
        "computes the SMG starter kit's F1 instead. See docs/detection.md.",
    )
    p.add_argument("detections", help="detections CSV (video,start,end,label,score)")
    p.add_argument(
        "--gt", required=True,
        help="ground-truth CSV (video,start,end,label), or an untrimmed .npz from "
        "`pymg prepare --untrimmed` (with --split)",
    )  # fmt: skip
    p.add_argument("--split", default=None, help="split of a .npz ground truth (default: all)")
    p.add_argument("--iou", type=float, default=0.3, help="tIoU threshold of the F1 (default 0.3)")
    p.add_argument(
        "--kit-compat", action="store_true",
        help="the SMG starter kit's F1 (file order, detections not used up, IoU > threshold)",
    )  # fmt: skip
    p.add_argument(
        "--num-classes", type=int, default=None,
        help="refuse labels outside 0..K-1 (default: a .npz's class count, else any label >= 0)",
    )  # fmt: skip
    p.add_argument("--out", default=None, help="write the metrics as JSON to this file")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the summary and write the JSON when asked."""
    from pymg.engine.detection_metrics import evaluate_detections, ground_truth_rows

    num_classes = args.num_classes
    gt_path = Path(args.gt)
    ground_truth: Any = gt_path
    if gt_path.suffix.lower() == ".npz":
        from pymg.data.recording import RecordingSet

        recordings = RecordingSet(gt_path, split=args.split)
        ground_truth = ground_truth_rows(recordings)
        if num_classes is None:
            num_classes = recordings.num_classes
    elif args.split is not None:
        raise CLIError("--split applies to a .npz ground truth, not to a CSV")
    metrics = evaluate_detections(
        args.detections, ground_truth, iou=args.iou, kit_compat=args.kit_compat,
        num_classes=num_classes,
    )  # fmt: skip
    mode = "SMG kit" if args.kit_compat else "greedy"
    print(
        f"F1@{args.iou:g} ({mode}): {100 * metrics['f1']:.2f}%  precision "
        f"{100 * metrics['precision']:.2f}%  recall {100 * metrics['recall']:.2f}%  "
        f"(TP {metrics['tp']}, {metrics['detections']} detections, "
        f"{metrics['ground_truths']} ground truths, {metrics['videos']} videos)"
    )
    maps = "  ".join(f"@{k} {100 * v:.2f}%" for k, v in metrics["mAP"].items())
    print(f"mAP: {maps}  mean {100 * metrics['mAP_mean']:.2f}%")
    if metrics["videos_without_ground_truth"]:
        extra = metrics["videos_without_ground_truth"]
        print(f"note: {len(extra)} video(s) have detections but no ground truth: {extra[:5]}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print(f"metrics: {out}")
    return 0
