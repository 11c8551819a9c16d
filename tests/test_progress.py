"""What `pymg train` tells its user (pymg/engine/progress.py): the start-up block at once, plain
progress lines with an ETA when stderr is not a terminal, a bar when it is, and the speed
warning of a long CPU run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pymg.cli import main
from pymg.engine import progress
from pymg.engine.progress import format_duration

BLOCK = [
    r"pymg train: demo",
    r"  device     cpu \(\d+ threads?\), AMP off",
    r"  data       synthetic, layout imigue41 \(41 joints\)",
    r"  clips      train \d+, test \d+",
    r"  classes    3",
    r"  model      posec3d \(PoseC3D\)",
    r"  schedule   2 epochs x \d+ steps \(batch 4\)",
    r"  work dir   .*run",
]


def _train(tmp_path: Path, tiny_sets: list[str], *extra: str) -> int:
    args = ["train", "demo", "--work-dir", str(tmp_path / "run"), "--no-test"]
    return main([*args, *tiny_sets, "--set", "schedule.epochs=2", *extra])


def test_the_start_up_block_comes_first(tmp_path: Path, tiny_sets, capsys) -> None:
    assert _train(tmp_path, tiny_sets) == 0
    err = capsys.readouterr().err.splitlines()
    for pattern, line in zip(BLOCK, err, strict=False):
        assert re.fullmatch(pattern, line), (pattern, line)
    assert re.fullmatch(
        r"speed: [\d.]+ clips/s on cpu: 2 epochs of \d+ steps? take about \d+ s "
        r"\(plus validation and the final test\)",
        err[len(BLOCK)],
    )
    assert [line.split()[:2] for line in err[len(BLOCK) + 1 :]] == [
        ["epoch", "1/2"],
        ["epoch", "2/2"],
    ]


def test_plain_progress_lines_without_a_terminal(tmp_path: Path, tiny_sets, capsys) -> None:
    more = ["--set", "runtime.progress=true", "--set", "runtime.log_interval=2"]
    assert _train(tmp_path, tiny_sets, *more) == 0
    err = capsys.readouterr().err
    steps = re.findall(r"^epoch 1/2  step (\d+)/(\d+)  loss [\d.]+  [\d.]+ clips/s  epoch ETA "
                       r"\d+ s$", err, flags=re.M)  # fmt: skip
    assert steps and [int(s) for s, _ in steps] == list(range(2, int(steps[0][1]), 2))
    assert "\r" not in err  # no bar drawn into a file


def test_a_bar_on_a_terminal(tmp_path: Path, tiny_sets, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert _train(tmp_path, tiny_sets, "--set", "runtime.progress=true") == 0
    err = capsys.readouterr().err
    assert "\r" in err and re.search(r"epoch 1/2: +\d+%", err)
    assert "step 1/" not in err  # the bar replaces the plain lines


def test_a_long_cpu_run_is_warned_about(tmp_path: Path, tiny_sets, capsys, monkeypatch) -> None:
    monkeypatch.setattr(progress, "CPU_WARN_SECONDS", 0.0)
    assert _train(tmp_path, tiny_sets) == 0
    err = capsys.readouterr().err
    warning = re.search(r"^warning: this run is sized for a GPU: at ([\d.]+) clips/s on cpu: 2 "
                        r"epochs of \d+ steps? take about (\d+ s)", err, flags=re.M)  # fmt: skip
    assert warning is not None, err
    assert float(warning.group(1)) > 0
    assert "--set schedule.epochs=1" in err and "pymg demo --quick" in err
    assert "speed:" not in err  # the warning replaces the plain speed line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45.4, "45 s"), (89, "89 s"), (600, "10 min"), (3 * 3600 + 1200, "3 h 20 min"),
     (7200, "2 h"), (50 * 3600, "2 d 2 h"), (-5, "0 s")],
)  # fmt: skip
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
