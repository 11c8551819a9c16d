"""`pymg ablate`: the grid with tiny settings, its records, fusion and table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymg.cli import main
from pymg.data import SyntheticIMiGUE, save_native
from pymg.engine.ablate import CELLS, summarize_records, write_markdown
from pymg.engine.evaluate import fuse_score_files
from pymg.engine.metrics import summarize

GRID = [  # the grid's own tiny sizes (its runs are synthetic_imigue, 32 classes)
    "data.synthetic_clips=96",
    "schedule.epochs=1",
    "model.clip_len=4",
    "data.train_size=16",
    "data.test_size=16",
    "model.base_channels=4",
    "test.batch_size=32",
]


def _sets(values: list[str]) -> list[str]:
    return [arg for v in values for arg in ("--set", v)]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ablate")
    argv = ["ablate", "--quick", "--seeds", "2", "--cells", "recipe", "stgcn 22", "--out"]
    assert main([*argv, str(out), *_sets(GRID)]) == 0
    return out


def test_quick_writes_one_record_per_run(quick_run: Path) -> None:
    payload = json.loads((quick_run / "ablations.json").read_text())
    records = payload["records"]
    keys = sorted((r["settings"]["cell"], r["settings"]["stream"], r["seed"]) for r in records)
    expected = sorted(
        [("recipe", s, seed) for s in ("joint", "limb", "fused") for seed in (0, 1)]
        + [("stgcn 22", "joint", seed) for seed in (0, 1)]
    )
    assert keys == expected
    for r in records:
        assert set(r) >= {"settings", "seed", "top1", "top5", "mean_class_accuracy"}
        assert 0.0 <= r["mean_class_accuracy"] <= r["top5"] <= 1.0 and r["top1"] <= r["top5"]
    stgcn = next(r for r in records if r["settings"]["cell"] == "stgcn 22")
    assert stgcn["settings"]["arch"] == "stgcn" and stgcn["settings"]["layout"] == "imigue22"
    recipe = next(r for r in records if r["settings"]["cell"] == "recipe")
    assert recipe["settings"]["semantic"] is True and recipe["settings"]["strategy"] == "uniform"
    meta = payload["meta"]
    assert meta["quick"] is True and meta["wall_seconds"] > 0 and meta["overrides"] == GRID
    assert meta["command"].startswith("pymg ") and "ablate" in meta["command"]


def test_fused_record_is_the_fusion_of_the_two_streams(quick_run: Path) -> None:
    records = json.loads((quick_run / "ablations.json").read_text())["records"]
    for seed in (0, 1):
        runs = quick_run / "runs"
        fused = fuse_score_files(
            [
                runs / f"recipe_joint_s{seed}/test_scores.npz",
                runs / f"recipe_limb_s{seed}/test_scores.npz",
            ]
        )
        metrics = summarize(fused.scores, fused.labels)
        record = next(
            r for r in records if r["seed"] == seed and r["settings"]["stream"] == "fused"
        )
        assert record["top1"] == pytest.approx(metrics["top1"])
        assert record["mean_class_accuracy"] == pytest.approx(metrics["mean_class_accuracy"])


def test_markdown_table_has_mean_and_spread(quick_run: Path) -> None:
    text = (quick_run / "ablations.md").read_text()
    records = json.loads((quick_run / "ablations.json").read_text())["records"]
    rows = summarize_records(records)
    assert [(r["cell"], r["stream"]) for r in rows] == [
        ("recipe", "joint"), ("recipe", "limb"), ("recipe", "fused"), ("stgcn 22", "joint"),
    ]  # fmt: skip
    for row in rows:
        values = row["top1"]
        mean = f"{100 * np.mean(values):.1f} ({100 * min(values):.1f}-{100 * max(values):.1f})"
        line = next(li for li in text.splitlines() if li.startswith(f"| {row['cell']} |")
                    and f"| {row['stream']} |" in li)  # fmt: skip
        assert f"| 2 | {mean} |" in line
    assert "majority-class baseline" in text
    assert (quick_run / "ablations.png").is_file() or "install matplotlib" in text


def test_markdown_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    record = {"settings": {"cell": "recipe", "stream": "joint"}, "seed": 0, "top1": 0.5,
              "top5": 0.9, "mean_class_accuracy": 0.25}  # fmt: skip
    path = write_markdown([record], tmp_path / "ablations.md")
    text = path.read_text()
    assert "| recipe |" in text and "| 1 | 50.0 | 90.0 | 25.0 |" in text
    assert "install matplotlib" in text and not (tmp_path / "ablations.png").exists()


def test_any_dataset_file(tmp_path: Path) -> None:
    synth = SyntheticIMiGUE(num_clips=96, layout="imigue41", seed=2)
    data = tmp_path / "data.npz"
    save_native(data, list(synth), splits=synth.splits, layout="imigue41",
                class_names=list(synth.class_names))  # fmt: skip
    out = tmp_path / "out"
    argv = ["ablate", "--quick", "--seeds", "1", "--cells", "22 joints", "--data", str(data)]
    assert main([*argv, "--out", str(out), *_sets(GRID)]) == 0
    records = json.loads((out / "ablations.json").read_text())["records"]
    assert {r["settings"]["stream"] for r in records} == {"joint", "limb", "fused"}
    assert all(r["settings"]["layout"] == "imigue22" for r in records)
    assert records[0]["settings"]["clips"] == str(data)


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ablate", "--cells", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown cells ['nope']" in capsys.readouterr().err
    assert main(["ablate", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    assert "no such dataset file" in capsys.readouterr().err
    assert main(["ablate", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "seeds must be an int >= 1" in capsys.readouterr().err
    assert {c.name for c in CELLS} >= {"recipe", "22 joints", "crop+pad", "pyskl", "no semantic"}


def test_plot_legend_covers_no_bar() -> None:
    pytest.importorskip("matplotlib")
    from pymg.engine.ablate import plot_rows

    records = [
        {"settings": {"cell": c.name, "stream": s}, "seed": seed, "top1": 0.97 - 0.01 * seed,
         "top5": 1.0, "mean_class_accuracy": 0.95}
        for c in CELLS for s in c.streams for seed in (0, 1)
    ]  # fmt: skip
    fig = plot_rows(summarize_records(records))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in ax.patches]
    assert len(bars) == 2 * len(summarize_records(records))
    assert not [bar for bar in bars if bar.overlaps(legend)]
