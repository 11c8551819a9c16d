"""Measure the detector on the synthetic untrimmed set against two trivial baselines.

For each seed: train the ``detect_demo`` config (a short CPU training), run the detector on the
test recordings (held-out subjects), and count precision / recall / F1 at temporal IoU 0.3 for

* the detector with the given post-process settings,
* "no detections" (F1 = 0 by definition, listed so the table has its floor),
* "one segment per window at the classifier's arg-max" (every window whose arg-max is not
  background becomes a segment of its W frames), from the same window scores.

With ``--sweep`` the post-process settings are also swept on validation recordings (another
synthetic seed, never the test recordings) and the best setting is reported with its test F1.

    PYTHONPATH=. python scripts/detect_synthetic.py --seeds 0 1 2 --out detect_synth.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from pymg.engine import load_config, train
from pymg.engine.detect_data import detection_scores, synthetic_recordings
from pymg.engine.detect_run import detect_recordings, window_argmax_segments
from pymg.engine.detector import Detector
from pymg.engine.segments import SegmentParams, segments_from_scores

SWEEP = {
    "thresholds": [(0.25,), (0.3,), (0.35,), (0.4,), (0.5,), (0.6,), (0.3, 0.5, 0.7)],
    "hysteresis": [0.0, 0.05, 0.1, 0.2],
    "min_len": [4, 8, 16],
    "merge_gap": [0, 8, 16],
}


def _f1(results, segs_of, iou=0.3):
    return detection_scores(
        {r.video: segs_of(r) for r in results}, {r.video: r.ground_truth for r in results}, iou
    )


def _sweep(results, base: SegmentParams) -> list[tuple[dict, float]]:
    out = []
    keys = list(SWEEP)
    for values in itertools.product(*(SWEEP[k] for k in keys)):
        params = replace(base, **dict(zip(keys, values, strict=True)))

        def segs(r, p=params):
            return segments_from_scores(r.scores[:, :-1], p)

        out.append((dict(zip(keys, values, strict=True)), _f1(results, segs)["f1"]))
    return sorted(out, key=lambda x: -x[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", action="append", default=[], help="config overrides")
    ap.add_argument("--work", default="/tmp/pymg-detect-synth")
    ap.add_argument("--out", default="detect_synth.json")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="skip training: use WORK/seedN/latest.pt")
    ap.add_argument(
        "--post",
        action="append",
        default=[],
        help="detector setting KEY=VALUE over the checkpoint's [detect] (thresholds=0.3,0.5)",
    )
    args = ap.parse_args()
    report = {"threads": torch.get_num_threads(), "torch": torch.__version__, "runs": []}
    for seed in args.seeds:
        work = Path(args.work) / f"seed{seed}"
        cfg = load_config(
            "detect_demo",
            [f"runtime.seed={seed}", f'runtime.work_dir="{work}"', "runtime.progress=false",
             *args.set],
        )  # fmt: skip
        tic = time.perf_counter()
        if not args.reuse:
            train(cfg, final_test=False)
        train_s = time.perf_counter() - tic
        post = {}
        for item in args.post:
            key, _, value = item.partition("=")
            parts = [float(v) for v in value.split(",")]
            post[key] = (
                tuple(parts) if key == "thresholds" else type(getattr(cfg.detect, key))(parts[0])
            )
        det = Detector.from_checkpoint(work / "latest.pt", **post)
        recs = synthetic_recordings(det.config)
        test = [recs[i] for i in range(len(recs)) if recs.frame_dir(i) in set(recs.splits["test"])]
        tic = time.perf_counter()
        results = detect_recordings(det, test, keep_scores=True)
        detect_s = time.perf_counter() - tic
        frames = sum(r.total_frames for r in results)
        bg = det.num_classes
        run = {
            "seed": seed,
            "train_seconds": train_s,
            "detect_seconds": detect_s,
            "test_frames": frames,
            "test_gestures": int(sum(len(r.ground_truth) for r in results)),
            "detector": _f1(results, lambda r: r.segments),
            "no_detections": _f1(results, lambda r: []),
            "window_argmax": _f1(results, lambda r, b=bg: window_argmax_segments(r, b)),
        }
        if args.sweep:
            val_cfg = replace(det.config, data=replace(det.config.data, synthetic_seed=1000 + seed))
            vrecs = synthetic_recordings(val_cfg)
            vnames = set(vrecs.splits["test"])
            val = [vrecs[i] for i in range(len(vrecs)) if vrecs.frame_dir(i) in vnames]
            vres = detect_recordings(det, val, keep_scores=True)
            ranked = _sweep(vres, det.segments)
            best = replace(det.segments, **ranked[0][0])
            run["sweep_top5_val"] = ranked[:5]
            run["best_on_val"] = ranked[0][0]
            run["best_on_val_test_f1"] = _f1(
                results, lambda r, p=best: segments_from_scores(r.scores[:, :-1], p)
            )["f1"]
            run["sweep_all_val"] = ranked
        report["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "sweep_all_val"}, indent=1),
              flush=True)  # fmt: skip
    for key in ("detector", "window_argmax"):
        vals = [r[key]["f1"] for r in report["runs"]]
        report[f"{key}_f1_mean"] = float(np.mean(vals))
        report[f"{key}_f1_range"] = [float(min(vals)), float(max(vals))]
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
