"""``pymg demo``: train and test a small PoseC3D on built-in synthetic data (CPU, 1-6 min).

Generates :class:`pymg.data.SyntheticMicroGestures` clips (no download), trains the small PoseC3D
of the shipped ``demo`` config, tests it on the held-out subjects, prints Top-1/Top-5 against
chance, and writes into the work dir: ``test_confusion.png`` (confusion matrix), ``heatmaps.png``
(the joint heatmap volume of a test clip), ``test_metrics.json``, ``metrics.jsonl`` and
``latest.pt`` (loadable with :class:`pymg.engine.Recognizer`).

The pictures need matplotlib (``pip install "pymg-microgesture[viz]"``). The demo checks for it
before it trains; without it, it says so in one line, trains, tests, saves everything else and
succeeds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pymg.cli._common import CLIError, HelpFormatter, plural

__all__ = ["PICTURES_HINT", "QUICK", "demo_config", "register", "run"]

PICTURES_HINT = (
    "pictures skipped: matplotlib is not installed "
    '(pip install "pymg-microgesture[viz]" or pip install matplotlib to get them)'
)

QUICK = (
    "data.synthetic_clips=64",
    "schedule.epochs=1",
    "model.clip_len=8",
    "data.train_size=24",
    "data.test_size=24",
    "test.flip=false",
    "schedule.warmup_epochs=0",
)
"""``--quick``: the shipped ``demo`` config shrunk for CI (seconds)."""


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``demo`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "demo",
        help="train + test a small PoseC3D on synthetic data (CPU, 1-6 min)",
        description="Train the small PoseC3D of the shipped `demo` config on synthetic "
        "micro-gesture clips (no download) and test it on held-out subjects; prints Top-1/Top-5 "
        "against chance and writes the confusion matrix, a heatmap picture, the metrics and the "
        "checkpoint into the work dir.",
        epilog="examples:\n  pymg demo\n  pymg demo --quick --work-dir /tmp/demo",
        formatter_class=HelpFormatter,
    )
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


def demo_config(args: argparse.Namespace) -> Any:
    """The shipped ``demo`` config with the command line's choices applied."""
    from pymg.engine.config import load_config

    overrides = [f"runtime.work_dir={json.dumps(str(args.work_dir))}", f"runtime.seed={args.seed}"]
    if args.quick:
        overrides += QUICK
    if args.epochs is not None:
        if args.epochs < 1:
            raise CLIError(f"--epochs must be >= 1, got {args.epochs}")
        overrides.append(f"schedule.epochs={args.epochs}")
    if args.clips is not None:
        if args.clips < 20:
            raise CLIError(f"--clips must be >= 20 (train and test subjects), got {args.clips}")
        overrides.append(f"data.synthetic_clips={args.clips}")
    return load_config("demo", overrides)


def run(args: argparse.Namespace) -> int:
    """Run the demo; prints what it does, the scores and where the files are."""
    import torch

    from pymg.engine.trainer import train
    from pymg.viz import matplotlib_available

    if args.untrimmed:
        return run_untrimmed(args)
    cfg = demo_config(args)
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    d, m = cfg.data, cfg.model
    pictures = matplotlib_available()
    if not pictures:
        print(PICTURES_HINT, flush=True)
    print(
        f"pymg demo: {d.synthetic_clips} synthetic clips of {d.synthetic_classes} micro-gestures "
        f"({d.layout} layout), PoseC3D {m.option('stream')} stream on {m.clip_len}x{d.train_size}x"
        f"{d.train_size} heatmaps, {plural(cfg.schedule.epochs, 'epoch')} on the CPU "
        f"({plural(torch.get_num_threads(), 'thread')}, {_kernels()})",
        flush=True,
    )
    start = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - start
    _summary(cfg, result, seconds, pictures)
    return 0


def _summary(cfg: Any, result: dict[str, Any], seconds: float, pictures: bool) -> None:
    """Print the scores against chance and where the files are."""
    out = Path(cfg.runtime.work_dir)
    metrics = result["test"] or {}
    chance = 1.0 / cfg.model.num_classes
    top1, top5 = metrics.get("top1", float("nan")), metrics.get("top5", float("nan"))
    print(
        f"\nTop-1 {100 * top1:.1f}%   Top-5 {100 * top5:.1f}%   (chance {100 * chance:.1f}%, "
        f"{metrics.get('num_samples', 0)} test clips of unseen subjects)   in {seconds:.0f} s"
    )
    if pictures:
        picture = _heatmap_picture(cfg, out / "heatmaps.png")
        confusion = out / "test_confusion.png"
        print(f"confusion matrix: {confusion if confusion.is_file() else '(not written)'}")
        print(f"heatmap picture:  {picture}")
    print(f"metrics:          {out / 'test_metrics.json'}")
    print(f"checkpoint:       {out / 'latest.pt'}  (pymg.engine.Recognizer.from_checkpoint)")


def _kernels() -> str:
    try:
        from pymg import _native

        return "native kernels" if _native.available() else "pure-torch kernels"
    except ImportError:
        return "pure-torch kernels"


def _heatmap_picture(cfg: Any, path: Path) -> Path:
    """Draw the joint heatmap volume of the first test clip, titled with its class name."""
    from pymg.engine.builders import build_datasets
    from pymg.engine.samples import heatmap_volume
    from pymg.viz import draw_heatmaps

    _, test_set, names = build_datasets(cfg, train=False)
    sample = test_set[0]
    d = cfg.data
    volume = heatmap_volume(sample, d.layout, d.test_size, clip_len=cfg.model.clip_len)
    title = f"{names[int(sample['label'])]}: joint heatmaps (max over {volume.shape[0]} joints)"
    return draw_heatmaps(volume, path, title=title)


def run_untrimmed(args: argparse.Namespace) -> int:
    """``pymg demo --untrimmed``: train a detector, detect, print F1 against the baselines."""
    import torch

    from pymg.engine.detect_demo import run_untrimmed_demo
    from pymg.viz import matplotlib_available

    if args.clips is not None:
        raise CLIError("--clips does not apply to --untrimmed (it trains on recordings)")
    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    pictures = matplotlib_available()
    if not pictures:
        print(PICTURES_HINT, flush=True)
    work_dir = "pymg-detect-demo" if args.work_dir == "pymg-demo" else args.work_dir
    print("pymg demo --untrimmed: a small PoseC3D detector on synthetic untrimmed recordings "
          f"(CPU, {plural(torch.get_num_threads(), 'thread')})", flush=True)  # fmt: skip
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
