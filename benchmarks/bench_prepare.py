"""Reading a raw release: the MiGA'25 ``.xlsx`` reader (calamine vs openpyxl) and ``prepare``.

Run: ``pytest benchmarks/bench_prepare.py --benchmark-only``.

* group ``xlsx``: one ``<video>_openpose.xlsx`` sheet of ``ROWS`` frames x 411 values (a header
  row, then 137 points x (x, y, conf)), read by :func:`pymg.data.formats.read_openpose_xlsx` with
  ``engine="calamine"`` (python-calamine, the default) and ``engine="openpyxl"`` (read-only
  mode, the fallback);
* group ``prepare``: :func:`pymg.data.prepare_release` on a generated iMiGUE-layout release
  (``imigue_skeleton_{train,test}/<NNNN>/<NNNN>_light_hand.csv`` + ``_label.csv``, ``VIDEOS``
  videos of ``FRAMES`` frames, a clip every 50 frames) to an ``imigue22`` ``.npz``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from release_trees import make_imigue_release, video_points, write_xlsx  # noqa: E402

from pymg.data import prepare_release  # noqa: E402
from pymg.data.formats import read_openpose_xlsx  # noqa: E402

ROWS = 2000
VIDEOS, FRAMES = 20, 1500


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("openpyxl")
    path = tmp_path_factory.mktemp("xlsx") / "0001_openpose.xlsx"
    write_xlsx(path, video_points("0001", ROWS))
    return path


@pytest.mark.parametrize("engine", ["calamine", "openpyxl"])
def test_read_xlsx(benchmark, sheet: Path, engine: str) -> None:
    pytest.importorskip("python_calamine" if engine == "calamine" else "openpyxl")
    benchmark.group = f"xlsx: {ROWS} rows x 411 values"
    keys = benchmark.pedantic(read_openpose_xlsx, args=(sheet, engine), rounds=3, iterations=1)
    assert keys.keypoint.shape == (1, ROWS, 137, 2)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    videos = {
        f"{v + 1:04d}": (
            "train" if v % 4 else "test",
            FRAMES,
            [(1 + k % 31, 50 * k, 50 * k + 49) for k in range(FRAMES // 50)],
        )
        for v in range(VIDEOS)
    }
    return make_imigue_release(tmp_path_factory.mktemp("release") / "iMiGUE", videos)


def test_prepare_release(benchmark, release: Path, tmp_path: Path) -> None:
    benchmark.group = f"prepare: {VIDEOS} light_hand videos x {FRAMES} frames"
    report = benchmark.pedantic(
        prepare_release,
        args=(release, tmp_path / "out.npz", "imigue22"),
        kwargs={"echo": lambda line: None},
        rounds=3,
        iterations=1,
    )
    assert report["clips"] == VIDEOS * FRAMES // 50
    assert np.isclose(sum(s["frames"] for s in report["splits"].values()), VIDEOS * FRAMES)
