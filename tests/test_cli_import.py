"""``pymg import``: PYSKL config + checkpoint -> pymg checkpoint for ``pymg test`` / Recognizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pyskl_reference_gcn import ReferenceGCN, randomize
from test_pyskl_import import gcn_config, rel_diff, save_checkpoint

from pymg.cli import main
from pymg.engine import Recognizer
from pymg.engine.checkpointing import load_checkpoint
from pymg.models import from_pyskl

PLUS = "gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn',"


@pytest.fixture
def stgcnpp_files(tmp_path: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    ref = ReferenceGCN(5, convention="mmaction2", layout="coco", mode="spatial",
                       adaptive="init", with_res=True, tcn="mstcn")  # fmt: skip
    randomize(ref, 5)
    config = tmp_path / "stgcnpp_j.py"
    config.write_text(gcn_config("coco", "spatial", 5, PLUS))
    return config, save_checkpoint(ref.eval(), tmp_path / "stgcnpp_j.pth", "mmaction2")


def test_import_writes_a_pymg_checkpoint(
    stgcnpp_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, ckpt = stgcnpp_files
    names = tmp_path / "names.txt"
    names.write_text("wave\nnod\n\nshrug\nclap\npoint\n")
    out = tmp_path / "model.pt"
    assert (
        main(["import", str(config), str(ckpt), "--out", str(out), "--class-names", str(names)])
        == 0
    )
    printed = capsys.readouterr().out
    assert f"wrote {out}: stgcn++, layout coco17, 5 classes (mmaction2 checkpoint)" in printed
    ck = load_checkpoint(out)
    assert ck["class_names"] == ["wave", "nod", "shrug", "clap", "point"]
    model_cfg = ck["config"]["model"]
    assert (model_cfg["arch"], model_cfg["gcn_adaptive"], model_cfg["tcn_type"]) == (
        "stgcn", "init", "mstcn",
    )  # fmt: skip
    assert model_cfg["gcn_with_res"] is True and model_cfg["partition"] == "inward_outward"
    assert ck["config"]["test"]["num_clips"] == 10 and ck["config"]["data"]["num_persons"] == 2
    rec = Recognizer.from_checkpoint(out)
    x = torch.randn(2, 2, 30, 17, 3)
    with torch.no_grad():
        expected = from_pyskl(config, ckpt)(x)
        assert rel_diff(rec.model(x).logits, expected.logits) < 1e-6
    assert rec.class_names[2] == "shrug" and rec.layout.name == "coco17"


def test_imported_checkpoint_runs_pymg_test(
    stgcnpp_files: tuple[Path, Path], tmp_path: Path
) -> None:
    config, ckpt = stgcnpp_files
    out = tmp_path / "model.pt"
    assert main(["import", str(config), str(ckpt), "--out", str(out)]) == 0
    argv = ["test", str(out), "--data", "synthetic", "--clips", "1", "--flip", "off", "--out",
            str(tmp_path / "eval"), "--device", "cpu", "--set", "data.synthetic_classes=5",
            "--set", "data.synthetic_clips=10", "--set", "data.num_workers=0"]  # fmt: skip
    assert main(argv) == 0
    scores = list((tmp_path / "eval").glob("model_*_scores.npz"))
    assert len(scores) == 1


def test_import_errors_are_one_line(
    stgcnpp_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, ckpt = stgcnpp_files
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    out = tmp_path / "m.pt"
    rc = main(["import", str(config), str(ckpt), "--out", str(out), "--class-names", str(names)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and not out.exists()
    assert err.endswith("has 2 names but the model has 5 classes") and "\n" not in err
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nmodel = dict()\n")
    assert main(["import", str(bad), str(ckpt), "--out", str(out)]) == 2
    assert ":1: an import is not allowed" in capsys.readouterr().err
