"""`pymg ablate`: the grid with tiny settings, its records, fusion and table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymg.cli import main
from pymg.data import SyntheticIMiGUE, save_native
from pymg.engine import load_checkpoint
from pymg.engine.ablate import (
    CELLS,
    LONGTAIL_CELLS,
    QUICK,
    ablation_config,
    run_ablations,
    summarize_records,
    write_markdown,
)
from pymg.engine.evaluate import adjust_scores, fuse_score_files, load_scores
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


def test_longtail_cells_set_their_strategy(tmp_path: Path) -> None:
    names = [c.name for c in LONGTAIL_CELLS]
    assert names[0] == "baseline" and {"class-balanced", "sqrt weights", "cRT"} <= set(names)
    expected = {
        "class-balanced": ("data", "sampler", "class_balanced"),
        "sqrt sampling": ("data", "sampler", "sqrt"),
        "progressive": ("data", "sampler", "progressive"),
        "inverse weights": ("loss", "class_weights", "inverse"),
        "sqrt weights": ("loss", "class_weights", "sqrt_inverse"),
        "effective number": ("loss", "class_weights", "effective"),
        "logit-adj loss": ("loss", "logit_adjust_tau", 1.0),
        "logit-adj post hoc": ("test", "logit_adjust", 1.0),
    }
    for cell in LONGTAIL_CELLS:
        cfg = ablation_config(cell, "joint", 0, tmp_path, sizes=QUICK)
        assert cell.streams == ("joint",)
        if cell.name in expected:
            section, key, value = expected[cell.name]
            assert getattr(getattr(cfg, section), key) == value, cell.name
        else:  # baseline and cRT train the recipe's joint stream unchanged
            assert cfg.data.sampler == "instance" and cfg.loss.class_weights == "none"
            assert cfg.loss.logit_adjust_tau == 0.0 and cfg.test.logit_adjust == 0.0
    assert [c.finetune_head for c in LONGTAIL_CELLS].count(True) == 1


def test_longtail_cells_reuse_the_baseline(tmp_path: Path) -> None:
    out = tmp_path / "lt"
    cells = ["baseline", "logit-adj post hoc", "cRT"]
    records = run_ablations(out, quick=True, seeds=1, cells=cells, overrides=GRID)
    assert [r["settings"]["cell"] for r in records] == cells
    for r in records:
        assert set(r) >= {"many", "medium", "few"} and r["few"] is not None
    runs = out / "runs"
    base = runs / "baseline_joint_s0"
    # post hoc: the baseline's checkpoint tested with test.logit_adjust = 1, not a new training
    post = runs / "logit-adj_post_hoc_joint_s0"
    assert not (post / "latest.pt").exists()
    baseline_scores = load_scores(base / "test_scores.npz")
    counts = load_checkpoint(base / "latest.pt")["class_counts"]
    adjusted = adjust_scores(baseline_scores, counts, 1.0)
    np.testing.assert_allclose(
        load_scores(post / "test_scores.npz").scores, adjusted.scores, atol=1e-6
    )
    assert records[1]["top1"] == pytest.approx(summarize(adjusted.scores, adjusted.labels)["top1"])
    # cRT: stage 1 is the baseline run; stage 2 re-trains the head for crt_epochs epochs
    assert not (runs / "cRT_joint_s0_stage1").exists()
    crt = load_checkpoint(runs / "cRT_joint_s0" / "latest.pt")
    assert crt["finetune_head"] == str(base / "latest.pt") and crt["epoch"] == QUICK["crt_epochs"]
    text = (out / "ablations.md").read_text()
    assert "| many | medium | few |" in text
