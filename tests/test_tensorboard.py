"""TensorBoard logging (``log.tensorboard`` / ``--tensorboard``): skipped without tensorboard."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import numpy as np
import pytest

from pymg.engine import load_config, train
from pymg.engine.tensorboard import TensorBoardLog, confusion_image

TINY = [
    "data.synthetic_classes=3",
    "data.synthetic_clips=30",
    "data.train_size=16",
    "data.test_size=16",
    "model.num_classes=3",
    "model.clip_len=4",
    "model.base_channels=4",
    "model.stage_blocks=[1, 1, 1]",
    "optim.batch_size=4",
    "schedule.epochs=2",
    "test.val_interval=1",
    "test.num_clips=1",
    "runtime.progress=false",
    "runtime.log_interval=1",
]


def test_confusion_image_by_hand() -> None:
    image = confusion_image(np.array([[3, 1], [0, 0]]), cell=2)
    assert image.shape == (4, 4, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [round(255 + 0.75 * (8 - 255)), round(255 + 0.75 * (48 - 255)),
                                     round(255 + 0.75 * (107 - 255))]  # fmt: skip
    assert image[3, 3].tolist() == [255, 255, 255]  # an absent class stays white
    with pytest.raises(ValueError, match="square matrix"):
        confusion_image(np.zeros((2, 3)))


def test_missing_tensorboard_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith(("torch.utils.tensorboard", "tensorboard")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"pip install 'pymg\[tensorboard\]'"):
        TensorBoardLog(tmp_path, ["a"])


def test_a_run_writes_every_curve(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config(
        "demo", [*TINY, f"runtime.work_dir={json.dumps(str(tmp_path))}", "log.tensorboard=true"]
    )
    result = train(cfg)
    files = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    names = [n.replace(" ", "_") for n in result["test"]["per_class"]]
    expected = {"train/loss", "train/ce", "train/lr", "epoch/loss", "val/top1", "val/top5",
                "val/mean_class_accuracy", "val/few_shot", "test/top1",
                *(f"val_class_accuracy/{n}" for n in names)}  # fmt: skip
    assert expected <= scalars, expected - scalars
    assert len(events.Scalars("val/top1")) == 2  # one per evaluation
    assert [e.value for e in events.Scalars("val/top1")][-1] == pytest.approx(
        json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-2])["top1"]
    )
    assert {"val/confusion", "test/confusion"} <= set(events.Tags()["images"])
    image = events.Images("val/confusion")[0]
    assert (image.width, image.height) == (24, 24)  # 3 classes x 8 pixels
