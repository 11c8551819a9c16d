"""``pymg test``: evaluate a checkpoint on a dataset split and write scores, metrics, submission."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from pymg.engine.builders import build_datasets
from pymg.engine.checkpointing import load_checkpoint
from pymg.engine.config import Config, apply_overrides, config_from_dict
from pymg.engine.distributed import init_distributed, shutdown
from pymg.engine.evaluate import (
    ScoreSet,
    adjust_scores,
    predict_dataset,
    save_scores,
    write_report,
    write_submission,
)
from pymg.engine.inference import Recognizer
from pymg.engine.metrics import SHOT_GROUPS

__all__ = ["run_test"]


def run_test(
    checkpoint: str | Path,
    *,
    data: str | None = None,
    split: str | None = None,
    num_clips: int | None = None,
    flip: bool | None = None,
    out_dir: str | Path | None = None,
    overrides: list[str] | None = None,
    device: str | None = None,
    png: bool = True,
) -> dict[str, Any]:
    """Score every clip of a split with a checkpoint (multi-clip + flip as configured).

    Writes ``<out>/<stem>_<split>_scores.npz`` and ``..._predictions.csv`` (and, when the split
    is labelled, ``..._metrics.json``, ``..._per_class.csv`` and ``..._confusion.png``); ``stem``
    is the checkpoint's file stem and ``out`` defaults to the checkpoint's folder. The report
    gives many / medium / few-shot accuracy (``test.many_shot``, ``test.few_shot``) from the
    training counts the checkpoint stores; ``test.logit_adjust > 0`` adjusts the scores post hoc
    by them (Menon et al. 2021).

    Raises:
        ValueError: ``test.logit_adjust > 0`` with a checkpoint that stores no training counts.

    Returns:
        ``{"scores": path, "submission": path, "metrics": dict | None}``.
    """
    ck_path = Path(checkpoint)
    ck = load_checkpoint(ck_path)
    cfg = apply_overrides(config_from_dict(ck["config"]), overrides or [])
    data_cfg = cfg.data
    if data is not None:
        data_cfg = replace(data_cfg, source=str(data))
    if split is not None:
        data_cfg = replace(data_cfg, test_split=split)
    test_cfg = cfg.test
    if num_clips is not None:
        test_cfg = replace(test_cfg, num_clips=num_clips)
    if flip is not None:
        test_cfg = replace(test_cfg, flip=flip)
    runtime = cfg.runtime if device is None else replace(cfg.runtime, device=device)
    cfg = replace(cfg, data=data_cfg, test=test_cfg, runtime=runtime)
    counts = ck.get("class_counts")
    if cfg.test.logit_adjust > 0 and counts is None:
        raise ValueError(
            f"test.logit_adjust needs the training class counts, which {ck_path} does not store "
            "(written before pymg recorded them); retrain or set test.logit_adjust=0"
        )
    owns_group = not torch.distributed.is_initialized()
    ctx = init_distributed(cfg.runtime.device)
    try:
        recognizer = Recognizer.from_checkpoint(ck_path, device=ctx.device)
        _, test_set, _ = build_datasets(cfg, train=False)
        names = recognizer.class_names
        amp = (
            cfg.runtime.amp
            if cfg.runtime.amp != "auto"
            else ("bf16" if ctx.device.type == "cuda" else "off")
        )
        result = predict_dataset(
            recognizer.model,
            test_set,
            names,
            ctx,
            num_clips=cfg.test.num_clips,
            flip=cfg.test.flip,
            batch_size=cfg.test.batch_size,
            num_workers=cfg.data.num_workers,
            size=cfg.data.test_size,
            amp=amp,
        )
        if counts is not None:
            result = adjust_scores(result, counts, cfg.test.logit_adjust)
        out = Path(out_dir) if out_dir is not None else ck_path.parent
        prefix = f"{ck_path.stem}_{cfg.data.test_split}_"
        paths: dict[str, Any] = {"metrics": None}
        if ctx.is_main:
            paths["scores"] = str(save_scores(result, out / f"{prefix}scores.npz"))
            paths["submission"] = str(write_submission(result, out / f"{prefix}predictions.csv"))
            print(f"scores:     {paths['scores']}")
            print(f"submission: {paths['submission']}")
            if result.has_labels:
                paths["metrics"] = _write_metrics(result, out, prefix, png, counts, cfg)
        return paths
    finally:
        if owns_group:
            shutdown()


def _write_metrics(
    result: ScoreSet, out: Path, prefix: str, png: bool, counts: Any, cfg: Config
) -> dict[str, Any]:
    """Write the report of a labelled split (with the shot groups when ``counts`` is known) and
    print its summary; returns the metrics."""
    metrics = write_report(
        result,
        out,
        prefix=prefix,
        png=png,
        train_counts=counts,
        shots=(cfg.test.many_shot, cfg.test.few_shot),
    )
    summary = {k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy")}
    print(f"metrics:    {out / (prefix + 'metrics.json')}")
    print(
        f"{cfg.data.test_split}: top1 {100 * summary['top1']:.2f}%  "
        f"top5 {100 * summary['top5']:.2f}%  "
        f"mean class acc {100 * summary['mean_class_accuracy']:.2f}%  "
        f"({metrics['num_samples']} clips, {cfg.test.num_clips} clip(s)"
        f"{' + flip' if cfg.test.flip else ''})"
    )
    if "shots" in metrics:
        print(
            "many / medium / few-shot classes: "
            + " / ".join(_percent(metrics["shots"][g]) for g in SHOT_GROUPS)
        )
    print(json.dumps(summary))
    return metrics


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
