"""``pymg demo``: train and test a small PoseC3D on built-in synthetic data (CPU)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-parser to ``sub``."""
    p = sub.add_parser("demo", help="train + test a small PoseC3D on synthetic data (CPU, 1-6 min)")
    p.add_argument("--work-dir", default="pymg-demo", help="output folder (default ./pymg-demo)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--clips", type=int, default=None, help="number of synthetic clips")
    p.add_argument("--quick", action="store_true", help="tiny settings for CI (seconds)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument(
        "--untrimmed",
        action="store_true",
        help="train and run a detector on synthetic untrimmed recordings instead: timelines, F1",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the demo with the parsed arguments."""
    from pymg.engine.demo import run_demo

    if args.untrimmed:
        return run_untrimmed(args)
    run_demo(
        work_dir=args.work_dir,
        epochs=args.epochs,
        clips=args.clips,
        quick=args.quick,
        seed=args.seed,
        threads=args.threads,
    )
    return 0


def run_untrimmed(args: argparse.Namespace) -> int:
    """``pymg demo --untrimmed``: train a detector, detect, print F1 against the baselines."""
    import torch

    from pymg.engine.demo import PICTURES_HINT, missing_optional
    from pymg.engine.detect_demo import run_untrimmed_demo

    if args.clips is not None:
        raise ValueError("--clips does not apply to --untrimmed (it trains on recordings)")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    pictures = not missing_optional()
    if not pictures:
        print(PICTURES_HINT, flush=True)
    work_dir = "pymg-detect-demo" if args.work_dir == "pymg-demo" else args.work_dir
    print("pymg demo --untrimmed: a small PoseC3D detector on synthetic untrimmed recordings "
          f"(CPU, {torch.get_num_threads()} threads)", flush=True)  # fmt: skip
    r = run_untrimmed_demo(
        work_dir, epochs=args.epochs, quick=args.quick, seed=args.seed, pictures=pictures
    )
    print(f"\n{r['videos']} test recordings of unseen subjects, {r['frames']} frames, "
          f"{r['gestures']} gestures; F1 at temporal IoU 0.3:")  # fmt: skip
    for key, label in (("detector", "detector"), ("window_argmax", "one segment per window"),
                       ("no_detections", "no detections")):  # fmt: skip
        m = r[key]
        print(f"  {label:24s} F1 {m['f1']:.3f}  precision {m['precision']:.3f}  "
              f"recall {m['recall']:.3f}")  # fmt: skip
    print(f"in {r['seconds']:.0f} s; detections, timelines, metrics and latest.pt in "
          f"{r['work_dir']}")  # fmt: skip
    for path in r["timelines"][:1]:
        print(f"timeline: {path}")
    return 0
