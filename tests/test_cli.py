"""The `pymg` command: one-line errors, train/test/fuse round trip, demo --quick, viz, prepare."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pymg._version import __version__
from pymg.cli import main
from pymg.engine import ConfigError


@pytest.fixture(scope="session")
def sets(tiny_sets: list[str]) -> Callable[..., list[str]]:
    """``sets(*overrides)``: the tiny training's ``--set`` arguments plus ``overrides``."""

    def make(*items: str) -> list[str]:
        return [*tiny_sets, "--set", "test.num_clips=2", *(a for i in items for a in ("--set", i))]

    return make


def one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"pymg {__version__}"
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_pymg() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "pymg", "configs"], capture_output=True, text=True, env=env,
        timeout=120, check=True,
    )  # fmt: skip
    assert "imigue41_posec3d_joint" in out.stdout.split()


def test_configs_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["configs"]) == 0
    names = capsys.readouterr().out.split()
    assert "imigue41_posec3d_limb" in names and "demo" in names
    assert main(["configs", "imigue41_posec3d_joint", "--set", "optim.lr=0.5"]) == 0
    text = capsys.readouterr().out
    assert "lr = 0.5\n" in text and 'layout = "imigue41"' in text


def test_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == __version__
    assert main(["info"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "demo", "--set", "optim.lrr=1"],
         "pymg train: error: unknown config key 'optim.lrr'; did you mean 'optim.lr'?"),
        (["train", "no_such_config"], "no such file or shipped name) 'no_such_config'"),
        (["train", "demo", "--set", "optim.batch_size=x"], "optim.batch_size expects an integer"),
        (["train", "demo", "--set", 'data.source="nope.npz"'], "dataset file not found: nope.npz"),
        (["test", "missing.pt"], "pymg test: error: checkpoint not found: missing.pt"),
        (["fuse", "a.npz", "b.npz", "--weights", "1"], "--weights got 1 values for 2 score files"),
        (["fuse", "a.npz", "b.npz"], "score file not found: a.npz"),
        (["viz", "skeleton", "missing.npz"], "dataset file not found: missing.npz"),
        (["prepare", "missing_dir", "--out", "x.npz"], "a release folder or a PYSKL"),
        (["train", "demo", "--resume", "--work-dir", "empty_dir"], "no checkpoint to resume"),
    ],
)  # fmt: skip
def test_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, main(argv))
    assert message in line, line


def test_debug_reraises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="optim.lrr"):
        main(["--debug", "train", "demo", "--set", "optim.lrr=1"])
    with pytest.raises(ConfigError, match="optim.lrr"):
        main(["train", "demo", "--set", "optim.lrr=1", "--debug"])


def test_train_test_fuse_round_trip(
    sets, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "demo", "--work-dir", "joint", *sets()]) == 0
    assert main(["train", "demo", "--work-dir", "limb", *sets("model.stream=limb")]) == 0
    capsys.readouterr()
    for stream in ("joint", "limb"):
        assert main(["test", f"{stream}/latest.pt", "--clips", "1", "--flip", "off"]) == 0
        out = capsys.readouterr().out
        summary = json.loads(out.strip().splitlines()[-1])
        metrics = json.loads((tmp_path / stream / "latest_test_metrics.json").read_text())
        assert summary["top1"] == metrics["top1"]
        assert (tmp_path / stream / "latest_test_confusion.png").is_file()
    joint = np.load(tmp_path / "joint" / "latest_test_scores.npz")
    limb = np.load(tmp_path / "limb" / "latest_test_scores.npz")
    assert main(["fuse", "joint/latest_test_scores.npz", "limb/latest_test_scores.npz",
                 "--out", "fused", "--weights", "1", "3"]) == 0  # fmt: skip
    fused = np.load(tmp_path / "fused" / "fused_scores.npz")
    np.testing.assert_allclose(
        fused["scores"], (joint["scores"] + 3 * limb["scores"]) / 4, rtol=1e-6
    )
    with (tmp_path / "fused" / "fused_predictions.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows] == [str(c) for c in joint["clip_ids"]]  # no header
    assert [int(r[1]) for r in rows] == list(fused["scores"].argmax(1))  # 0-based
    assert "fused: top1" in capsys.readouterr().out


def test_resume_flag_continues_a_run(sets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "demo", "--work-dir", "run", "--no-test", *sets()]) == 0
    two = sets("schedule.epochs=2")
    assert main(["train", "demo", "--work-dir", "run", "--no-test", "--resume", *two]) == 0
    events = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]


def test_demo_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    work = tmp_path / "demo"
    assert main(["demo", "--quick", "--work-dir", str(work)]) == 0
    out = capsys.readouterr().out
    assert "Top-1" in out and "chance 12.5%" in out
    assert ", 1 epoch on the CPU" in out and "1 epochs" not in out
    for name in ("test_confusion.png", "heatmaps.png", "test_metrics.json", "latest.pt"):
        assert (work / name).is_file(), name
        assert str(work / name) in out or name == "latest.pt" or name == "test_metrics.json"
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0


def test_viz_and_prepare(sets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from pymg.data import SyntheticMicroGestures

    monkeypatch.chdir(tmp_path)
    assert main(["viz", "skeleton", "synthetic", "--index", "1", "--out", "s.png"]) == 0
    assert main(["viz", "heatmap", "synthetic", "--size", "32", "--out", "h.png"]) == 0
    for name in ("s.png", "h.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    SyntheticMicroGestures(num_classes=3, num_clips=30, seed=0).to_pickle(tmp_path / "syn.pkl")
    assert main(["prepare", "syn.pkl", "--out", "syn.npz", "--layout", "imigue41"]) == 0
    coco = SyntheticMicroGestures(num_classes=3, num_clips=12, layout="coco17", seed=1)
    coco.to_pickle(tmp_path / "coco.pkl")
    assert main(["prepare", "coco.pkl", "--out", "coco.npz"]) == 0  # no --layout: kept as stored
    with np.load(tmp_path / "coco.npz", allow_pickle=False) as stored:
        shapes = {stored[k].shape[-2] for k in stored.files if stored[k].ndim >= 3}
    assert 17 in shapes and 41 not in shapes, shapes
    assert main(["viz", "skeleton", "syn.npz", "--split", "test", "--out", "p.png"]) == 0
    result = main(["train", "demo", "--work-dir", "run", *sets('data.source="syn.npz"')])
    assert result == 0
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["num_samples"] == 6


def test_fuse_refuses_nan_scores_and_test_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymg.engine import ScoreSet, save_scores

    monkeypatch.chdir(tmp_path)
    ids = ["c0", "c1"]
    good = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
    save_scores(ScoreSet(good, np.array([0, 1]), ids, ["a", "b"]), "good.npz")
    broken = good.copy()
    broken[1, 0] = np.nan
    save_scores(ScoreSet(broken, np.array([0, 1]), ids, ["a", "b"]), "nan.npz")
    line = one_line_error(capsys, main(["fuse", "good.npz", "nan.npz", "--out", "fused"]))
    assert "nan.npz: scores hold NaN or inf (1 clip(s), first 'c1')" in line, line
    assert not (tmp_path / "fused").exists()  # no normal-looking submission
    (tmp_path / "run").mkdir()
    line = one_line_error(capsys, main(["test", "run"]))
    assert "checkpoint path run is a directory; expected a checkpoint file such as" in line, line
