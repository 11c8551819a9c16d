"""``pymg import``: PYSKL config + checkpoint -> pymg checkpoint for ``pymg test`` / Recognizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pyskl_reference_c3d import ReferencePoseC3D
from pyskl_reference_gcn import ReferenceGCN, pyskl_graph, randomize
from test_pyskl_import import (
    C3D_CONFIG,
    GCN_CASES,
    gcn_config,
    reference_gcn,
    rel_diff,
    save_checkpoint,
)

from pymg.cli import main
from pymg.engine import Recognizer
from pymg.engine.checkpointing import load_checkpoint
from pymg.models import STGCN, from_pyskl

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
        "stgcnpp", "init", "mstcn",
    )  # fmt: skip
    assert ck["model_spec"]["arch"] == "stgcnpp" and ck["model_spec"]["options"]["max_hop"] == 1
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


# ----------------------------------------------------------------------------- what the flat
# [model] table of earlier releases could not hold: the checkpoint stores the constructor options


def _import(config: Path, ckpt: Path, out: Path) -> Recognizer:
    assert main(["import", str(config), str(ckpt), "--out", str(out)]) == 0
    return Recognizer.from_checkpoint(out)


@pytest.mark.parametrize("feats", ["b", "jm", "bm"])
def test_import_keeps_bone_and_motion_streams(feats: str, tmp_path: Path) -> None:
    ref = reference_gcn("stgcn_coco", "pyskl", seed=4)
    config = tmp_path / f"stgcn_{feats}.py"
    text = gcn_config("coco", "stgcn_spatial", 60, "").replace("feats=['j']", f"feats=['{feats}']")
    config.write_text(text)
    ckpt = save_checkpoint(ref, tmp_path / "b.pth", "pyskl")
    rec = _import(config, ckpt, tmp_path / "b.pt")
    x = torch.randn(2, 2, 20, 17, 3)  # PYSKL's bone/motion features, as its pipeline makes them
    with torch.no_grad():
        assert rel_diff(rec.model(x).logits, ref(x)) < 1e-5


def test_import_keeps_two_input_channels(tmp_path: Path) -> None:
    ref = reference_gcn("stgcnpp_hand", "mmaction2", seed=5)
    config = tmp_path / "hand.py"
    config.write_text(gcn_config("handmp", "spatial", 40, GCN_CASES["stgcnpp_hand"][4]))
    ckpt = save_checkpoint(ref, tmp_path / "hand.pth", "mmaction2")
    rec = _import(config, ckpt, tmp_path / "hand.pt")
    spec = load_checkpoint(tmp_path / "hand.pt")["model_spec"]
    assert spec["options"]["in_channels"] == 2 and spec["options"]["num_blocks"] == 6
    x = torch.randn(1, 1, 16, 21, 2)
    with torch.no_grad():
        assert rel_diff(rec.model(x).logits, ref(x)) < 1e-5


def test_import_keeps_width_and_graph_hops(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = ReferenceGCN(9, convention="pyskl", layout="coco", mode="spatial", base_channels=16)
    hops = torch.tensor(pyskl_graph("coco", "spatial", max_hop=2), dtype=torch.float32)
    for block in ref.backbone.gcn:
        block.gcn.A.copy_(hops)
    randomize(ref, 6)
    config = tmp_path / "hops.py"
    text = gcn_config("coco", "spatial", 9, "base_channels=16,")
    config.write_text(text.replace("mode='spatial')", "mode='spatial', max_hop=2)"))
    ckpt = save_checkpoint(ref.eval(), tmp_path / "hops.pth", "pyskl")
    rec = _import(config, ckpt, tmp_path / "hops.pt")
    options = load_checkpoint(tmp_path / "hops.pt")["model_spec"]["options"]
    assert (options["base_channels"], options["max_hop"]) == (16, 2)
    fresh = STGCN("coco17", 9, "inward_outward", max_hop=2, base_channels=16)
    torch.testing.assert_close(fresh.backbone.gcn[0].gcn.A, hops, rtol=0, atol=0)
    x = torch.randn(2, 1, 12, 17, 3)
    with torch.no_grad():
        assert rel_diff(rec.model(x).logits, ref(x)) < 1e-5


def test_import_keeps_other_posec3d_strides(tmp_path: Path) -> None:
    torch.manual_seed(0)
    strides = {"spatial_strides": (2, 1, 2), "temporal_strides": (1, 2, 1), "inflate": (1, 0, 1)}
    ref = ReferencePoseC3D(7, in_channels=17, base_channels=8, stage_blocks=(1, 1, 1), **strides)
    randomize(ref, 7)
    config = tmp_path / "c3d.py"
    text = C3D_CONFIG.format(strides="conv1_stride_s=1", dropout="dropout", kp=True, limb=False)
    text = text.replace("stage_blocks=(1, 2, 1)", "stage_blocks=(1, 1, 1)")
    text = text.replace("inflate=(0, 1, 1)", "inflate=(1, 0, 1)")
    text = text.replace("spatial_strides=(2, 2, 2)", "spatial_strides=(2, 1, 2)")
    config.write_text(text.replace("temporal_strides=(1, 1, 2)", "temporal_strides=(1, 2, 1)"))
    ckpt = save_checkpoint(ref.eval(), tmp_path / "c3d.pth", "pyskl")
    rec = _import(config, ckpt, tmp_path / "c3d.pt")
    options = load_checkpoint(tmp_path / "c3d.pt")["model_spec"]["options"]
    assert options["spatial_strides"] == [2, 1, 2] and options["inflate"] == [1, 0, 1]
    assert options["size"] == 64 and rec.cfg.data.test_size == 64
    heatmaps = torch.rand(2, 17, 8, 16, 16)
    with torch.no_grad():
        assert rel_diff(rec.model(heatmaps).logits, ref(heatmaps)) < 1e-5
