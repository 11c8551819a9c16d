"""`pymg demo` without matplotlib: trains, tests, saves, says how to get the pictures, exits 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pymg.cli import main
from pymg.cli.demo import PICTURES_HINT
from pymg.viz import matplotlib_available


def test_demo_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    assert not matplotlib_available()
    work = tmp_path / "demo"
    assert main(["demo", "--quick", "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == PICTURES_HINT  # said before training, in one line
    # the work dir's name holds the test's name: count the hint's own words instead
    assert sum("not installed" in line or "pip install" in line for line in lines) == 1
    assert "Top-1" in out
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert 0.0 <= metrics["top1"] <= 1.0
    assert (work / "latest.pt").is_file() and (work / "metrics.jsonl").is_file()
    assert not list(work.glob("*.png"))


def test_demo_with_matplotlib_draws_the_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    assert matplotlib_available()
    work = tmp_path / "demo"
    assert main(["demo", "--quick", "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert PICTURES_HINT not in out
    assert (work / "heatmaps.png").is_file() and (work / "test_confusion.png").is_file()
