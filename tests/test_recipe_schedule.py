"""The recipe's schedule keys: data.repeat (PYSKL's RepeatDataset) and optim.lr_batch_size."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pymg.engine import ConfigError, train
from pymg.engine.builders import RepeatedDataset, build_datasets

RECIPE = [  # on top of the tiny training: random crops, a constant rate, no validation
    "data.random_crop=true",
    "optim.lr=0.05",
    "schedule.policy=constant",
    "test.val_interval=0",
    "runtime.log_interval=1",
]


@pytest.fixture(scope="session")
def cfg_of(tiny_config: Callable[..., Any]) -> Callable[..., Any]:
    """``cfg_of(work_dir, *overrides)``: the tiny ``demo`` config of these tests."""
    return lambda work_dir, *extra: tiny_config(work_dir, *RECIPE, *extra)


def _train_records(path: Path) -> list[dict]:
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "train"]


def test_repeated_dataset_lists_every_clip_times_with_fresh_augmentation(
    cfg_of, tmp_path: Path
) -> None:
    train_set, _, _ = build_datasets(cfg_of(tmp_path, "data.repeat=3"))
    assert isinstance(train_set, RepeatedDataset) and train_set.times == 3
    inner = train_set.dataset
    n = len(inner)
    assert len(train_set) == 3 * n
    train_set.set_epoch(0)
    copies = [train_set[i]["keypoint"] for i in (1, n + 1, 2 * n + 1)]
    assert {train_set[i]["label"] for i in (1, n + 1, 2 * n + 1)} == {inner[1]["label"]}
    # the random crop differs between the copies of one epoch, and from epoch to epoch
    assert not np.array_equal(copies[0], copies[1]) and not np.array_equal(copies[1], copies[2])
    again = train_set[n + 1]["keypoint"]
    np.testing.assert_array_equal(again, copies[1])  # deterministic
    train_set.set_epoch(1)
    assert not np.array_equal(train_set[1]["keypoint"], copies[0])
    assert train_set.class_names == inner.class_names  # attributes pass through
    with pytest.raises(IndexError):
        train_set[3 * n]
    with pytest.raises(ConfigError, match=r"data\.repeat must be in \[1, 1000000\], got 0"):
        build_datasets(cfg_of(tmp_path, "data.repeat=0"))


def test_repeat_multiplies_the_iterations_of_an_epoch(cfg_of, tmp_path: Path) -> None:
    train(cfg_of(tmp_path / "once"))
    train(cfg_of(tmp_path / "twice", "data.repeat=2"))
    once, twice = _train_records(tmp_path / "once"), _train_records(tmp_path / "twice")
    n = len(build_datasets(cfg_of(tmp_path))[0])  # drop_last: floor(clips / batch) steps
    assert (len(once), len(twice)) == (n // 4, 2 * n // 4)


def test_lr_is_scaled_to_the_batch(cfg_of, tmp_path: Path) -> None:
    train(cfg_of(tmp_path / "plain"))
    train(cfg_of(tmp_path / "scaled", "optim.lr_batch_size=16"))
    plain, scaled = _train_records(tmp_path / "plain"), _train_records(tmp_path / "scaled")
    assert plain[0]["lr"] == pytest.approx(0.05)
    assert scaled[0]["lr"] == pytest.approx(0.05 * 4 / 16)  # batch 4 x 1 process, given at 16
