"""``pymg demo``: the whole pipeline on built-in synthetic data, on the CPU (1-6 min, 2 cores).

Generates :class:`pymg.data.SyntheticMicroGestures` clips (no download), trains the small PoseC3D
of the shipped ``demo`` config, tests it on the held-out subjects, prints Top-1/Top-5 against
chance, and writes into the work dir: ``test_confusion.png`` (confusion matrix),
``heatmaps.png`` (the joint heatmap volume of a test clip), ``test_metrics.json``,
``metrics.jsonl``, ``latest.pt`` (loadable with :class:`pymg.engine.Recognizer`).

The pictures need matplotlib (``pip install "pymg[viz]"``). The demo checks for it before it
trains; without it, it says so in one line, trains, tests, saves everything else and succeeds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from pymg.engine.config import Config, load_config

__all__ = ["demo_config", "missing_optional", "run_demo"]

PICTURES_HINT = (
    "pictures skipped: matplotlib is not installed "
    '(pip install "pymg[viz]" or pip install matplotlib to get them)'
)


def missing_optional() -> list[str]:
    """Names of the demo's optional packages that cannot be imported (``["matplotlib"]`` or
    ``[]``); the demo runs either way, only the pictures need matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ["matplotlib"]
    return []


def demo_config(
    work_dir: str | Path = "pymg-demo",
    *,
    epochs: int | None = None,
    clips: int | None = None,
    quick: bool = False,
    seed: int = 0,
) -> Config:
    """The shipped ``demo`` config with the command-line choices applied.

    ``quick`` shrinks everything for CI (64 clips, 1 epoch, 8 frames, 24x24 heatmaps).
    """
    overrides = [f"runtime.work_dir={json.dumps(str(work_dir))}", f"runtime.seed={seed}"]
    if quick:
        overrides += [
            "data.synthetic_clips=64",
            "schedule.epochs=1",
            "model.clip_len=8",
            "data.train_size=24",
            "data.test_size=24",
            "test.flip=false",
            "schedule.warmup_epochs=0",
        ]
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {epochs}")
        overrides.append(f"schedule.epochs={epochs}")
    if clips is not None:
        if clips < 20:
            raise ValueError(f"--clips must be >= 20 (train and test subjects), got {clips}")
        overrides.append(f"data.synthetic_clips={clips}")
    return load_config("demo", overrides)


def run_demo(
    work_dir: str | Path = "pymg-demo",
    *,
    epochs: int | None = None,
    clips: int | None = None,
    quick: bool = False,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run the demo and print what it did; returns ``{"top1", "top5", "chance", "seconds"}``..."""
    from pymg.engine.trainer import train
    from pymg.engine.visualize import heatmap_volume

    cfg = demo_config(work_dir, epochs=epochs, clips=clips, quick=quick, seed=seed)
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    d, m = cfg.data, cfg.model
    pictures = "matplotlib" not in missing_optional()
    if not pictures:
        print(PICTURES_HINT, flush=True)
    print(
        f"pymg demo: {d.synthetic_clips} synthetic clips of {d.synthetic_classes} micro-gestures "
        f"({d.layout} layout), PoseC3D {m.option('stream')} stream on {m.clip_len}x{d.train_size}x"
        f"{d.train_size} heatmaps, {cfg.schedule.epochs} epochs on the CPU "
        f"({torch.get_num_threads()} threads, {_kernels()})",
        flush=True,
    )
    start = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - start
    out = Path(cfg.runtime.work_dir)
    metrics = result["test"] or {}
    picture = _heatmap_picture(cfg, out / "heatmaps.png", heatmap_volume) if pictures else None
    chance = 1.0 / m.num_classes
    top1, top5 = metrics.get("top1", float("nan")), metrics.get("top5", float("nan"))
    print(
        f"\nTop-1 {100 * top1:.1f}%   Top-5 {100 * top5:.1f}%   (chance {100 * chance:.1f}%, "
        f"{metrics.get('num_samples', 0)} test clips of unseen subjects)   in {seconds:.0f} s"
    )
    confusion = out / "test_confusion.png"
    if pictures:
        print(f"confusion matrix: {confusion if confusion.is_file() else '(not written)'}")
        print(f"heatmap picture:  {picture if picture is not None else '(not written)'}")
    print(f"metrics:          {out / 'test_metrics.json'}")
    print(f"checkpoint:       {out / 'latest.pt'}  (pymg.engine.Recognizer.from_checkpoint)")
    return {"top1": top1, "top5": top5, "chance": chance, "seconds": seconds, "work_dir": str(out)}


def _kernels() -> str:
    try:
        from pymg import _native

        return "native kernels" if _native.available() else "pure-torch kernels"
    except ImportError:
        return "pure-torch kernels"


def _heatmap_picture(cfg: Config, path: Path, volume_fn: Any) -> Path | None:
    try:
        from pymg.viz import draw_heatmaps
    except ImportError:
        return None
    from pymg.engine.builders import build_datasets

    _, test_set, names = build_datasets(cfg, train=False)
    sample = test_set[0]
    volume = volume_fn(sample, cfg.data.layout, cfg.data.test_size, clip_len=cfg.model.clip_len)
    title = f"{names[int(sample['label'])]}: joint heatmaps (max over {volume.shape[0]} joints)"
    return draw_heatmaps(volume, path, title=title)
