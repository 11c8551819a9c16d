"""``pymg import``: a PYSKL / mmaction2 config + checkpoint -> a pymg checkpoint.

The result is what training writes (:mod:`pymg.engine.checkpointing`): ``pymg test`` and
:meth:`pymg.engine.Recognizer.from_checkpoint` take it. The pymg config inside it repeats the
PYSKL test settings (clip length, clips, flip, heatmap size, persons) and samples frames as
PYSKL's ``UniformSampleFrames`` does (``model.strategy = "pyskl"``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from pymg.engine.builders import class_names_for, skeleton_to_dict
from pymg.engine.checkpointing import save_checkpoint
from pymg.engine.config import Config, config_to_dict
from pymg.engine.model_options import check_model_table, model_spec

__all__ = ["import_pyskl", "read_class_names"]


def read_class_names(path: str | os.PathLike[str], num_classes: int) -> list[str]:
    """One class name per line (blank lines skipped); there must be ``num_classes`` of them."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"class names: no file at {str(path)!r}")
    names = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if len(names) != num_classes:
        raise ValueError(
            f"class names: {file} has {len(names)} names but the model has {num_classes} classes"
        )
    return names


def _config_for(spec: Any, name: str) -> tuple[Config, list[str]]:
    """The pymg Config that rebuilds ``spec``'s model (every constructor argument the PYSKL
    config gives, as ``[model]`` options of its family), and notes for the user."""
    options = {k: v for k, v in spec.kwargs.items() if k != "size"}
    options.update(num_classes=spec.num_classes, strategy="pyskl")
    notes: list[str] = []
    cfg = Config(name=name)
    test = replace(cfg.test, num_clips=int(spec.test.get("num_clips", 1)), flip=False)
    data = replace(cfg.data, layout=spec.layout.name)
    if spec.arch == "posec3d":
        size = int(spec.kwargs.get("size", data.test_size))
        data = replace(data, train_size=size, test_size=size)
        test = replace(test, flip=bool(spec.test.get("flip", False)))
    else:
        data = replace(data, num_persons=int(spec.test.get("num_person", 1)))
        feats = spec.test.get("feats", ["j"])
        channels = int(options.get("in_channels", 3))
        if list(feats) != ["j"] or channels != 3:
            notes.append(
                f"the model reads features {feats} with {channels} channels; pymg's data "
                "pipeline builds joints (x, y, score) only, so feed it PYSKL's tensors "
                "(Recognizer.model(x), x = [N, M, T, V, C]) rather than `pymg test`"
            )
    model = check_model_table({"arch": spec.arch, **options})
    loss = replace(cfg.loss, semantic=False)
    return replace(cfg, model=model, data=data, test=test, loss=loss), notes


def import_pyskl(
    config: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    class_names: str | os.PathLike[str] | None = None,
    layout: str | None = None,
) -> dict[str, Any]:
    """Convert a PYSKL / mmaction2 model into a pymg checkpoint file.

    Args:
        config: the PYSKL / mmaction2 ``.py`` config (read without executing it).
        checkpoint: its ``.pth`` checkpoint (either key convention), loaded strictly.
        out: the pymg checkpoint to write (e.g. ``model.pt``).
        class_names: a text file with one class name per line (default ``"class 0"``...).
        layout: a pymg layout overriding the guessed one (PoseC3D configs name none).

    Returns:
        ``{"path", "family", "layout", "num_classes", "convention", "notes"}``.
    """
    from pymg.models import load_pyskl_checkpoint, pyskl_model_spec

    spec = pyskl_model_spec(config, layout=layout)
    model = spec.build()
    report = load_pyskl_checkpoint(model, checkpoint, strict=True)
    cfg, notes = _config_for(spec, Path(config).stem)
    notes = [*report.notes, *notes]
    names = (
        class_names_for(spec.num_classes)
        if class_names is None
        else read_class_names(class_names, spec.num_classes)
    )
    payload = {
        "config": config_to_dict(cfg),
        "model_spec": model_spec(cfg),
        "layout": skeleton_to_dict(spec.layout),
        "class_names": names,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": 0,
        "iteration": 0,
        "imported_from": {
            "config": str(config),
            "checkpoint": str(checkpoint),
            "family": spec.family,
            "convention": report.convention,
        },
    }
    path = save_checkpoint(payload, Path(out))
    return {
        "path": str(path),
        "family": spec.family,
        "layout": spec.layout.name,
        "num_classes": spec.num_classes,
        "convention": report.convention,
        "notes": notes,
    }
