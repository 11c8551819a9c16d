"""Shared test configuration for the whole suite (kept small).

* Tests marked ``cuda`` are skipped where no CUDA device is present; tests marked ``native`` are
  skipped where the compiled extension pymg._C is not loaded.
* The one-per-process :class:`pymg.ops.NativeFallbackWarning` (pymg.ops running on the pure-torch
  reference because the extension is missing) is expected on such machines and not turned into an
  error by ``filterwarnings = error``; tests/test_ops_errors.py checks the warning itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch


def native_loaded() -> bool:
    """True when pymg._C is importable and loaded."""
    try:
        from pymg import _native
    except ImportError:
        return False
    return bool(_native.available())


def pytest_configure(config: pytest.Config) -> None:
    # Matched by message so that configuring pytest never imports pymg.
    config.addinivalue_line(
        "filterwarnings", "ignore:pymg native kernels unavailable:RuntimeWarning"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_cuda = pytest.mark.skip(reason="needs a CUDA device")
    no_native = pytest.mark.skip(reason="needs the compiled extension pymg._C")
    has_cuda = torch.cuda.is_available()
    has_native = native_loaded()
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(no_cuda)
        if "native" in item.keywords and not has_native:
            item.add_marker(no_native)


TINY_TRAINING = (
    "data.synthetic_classes=3",
    "data.synthetic_clips=30",
    "data.train_size=16",
    "data.test_size=16",
    "data.num_workers=0",
    "model.num_classes=3",
    "model.clip_len=4",
    "model.base_channels=4",
    "model.stage_blocks=[1, 1, 1]",
    "optim.batch_size=4",
    "schedule.epochs=1",
    "test.num_clips=1",
    "runtime.progress=false",
)
"""Overrides of the shipped ``demo`` config that train and test in about a second on a CPU."""


@pytest.fixture(scope="session")
def tiny_training() -> list[str]:
    """:data:`TINY_TRAINING`, for ``load_config("demo", [...])``; a test adds what it varies."""
    return list(TINY_TRAINING)


@pytest.fixture(scope="session")
def tiny_config(tiny_training: list[str]) -> Callable[..., Any]:
    """``tiny_config(work_dir, *overrides)``: the tiny ``demo`` config writing to ``work_dir``."""
    from pymg.engine import load_config

    def make(work_dir: Path, *extra: str) -> Any:
        where = f"runtime.work_dir={json.dumps(str(work_dir))}"
        return load_config("demo", [*tiny_training, where, *extra])

    return make


@pytest.fixture(scope="session")
def tiny_sets(tiny_training: list[str]) -> list[str]:
    """:data:`TINY_TRAINING` as ``--set`` arguments of the ``pymg`` command."""
    return [arg for item in tiny_training for arg in ("--set", item)]


@pytest.fixture
def generator() -> torch.Generator:
    """A CPU torch.Generator seeded with 0."""
    return torch.Generator().manual_seed(0)
