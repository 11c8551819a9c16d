"""The exported recognizer (pymg.engine.export) against Recognizer.predict.

Tiny PoseC3D (joint, limb) and ST-GCN checkpoints with perturbed batch-norm statistics are
exported to ONNX (run in onnxruntime) and pt2 (loaded with torch.export.load); their
probabilities must equal Recognizer.predict's within 1e-4 on clips with missing points, one to
three persons, T below, at and above clip_len, degenerate clips (nothing to crop, nothing
present), two-stream fusion, and the checkpoints' own test views.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch

from pymg.engine import Recognizer, config_to_dict, load_config, save_checkpoint
from pymg.engine.builders import build_model, skeleton_to_dict
from pymg.engine.export import build_graph, export_recognizer, load_program, read_metadata
from pymg.engine.export_graph import compact_resize, select_persons
from pymg.topology import resolve_layout

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

CLIP_LEN = 6
TOL = 1e-4

# tiny models: a few seconds per export
_TINY = [
    "model.clip_len=6",
    "data.test_size=16",
    "model.base_channels=4",
    "model.stage_blocks=[1, 1, 1]",
    "model.gcn_channels=8",
    "model.num_blocks=3",
    "model.down_blocks=[2]",
    "model.inflate_blocks=[2]",
    "model.num_classes=5",
]


def _checkpoint(
    tmp: Path,
    arch: str,
    stream: str = "joint",
    *,
    persons: int = 1,
    views: tuple = (2, True),
    strategy: str = "uniform",
    seed: int = 0,
    layout: str = "coco17",
) -> Path:
    """A pymg checkpoint of a tiny randomly initialised model (batch-norm statistics moved)."""
    cfg = load_config(
        "demo",
        [
            *_TINY,
            f"model.arch={arch}",
            f"model.stream={stream}",
            f"model.strategy={strategy}",
            f"data.layout={layout}",
            f"data.num_persons={persons}",
            f"test.num_clips={views[0]}",
            f"test.flip={str(views[1]).lower()}",
        ],
    )
    skeleton = resolve_layout(layout)
    torch.manual_seed(seed)
    model = build_model(cfg, skeleton).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0.0, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    _spread_logits(model, cfg, skeleton)
    payload = {
        "config": config_to_dict(cfg),
        "layout": skeleton_to_dict(skeleton),
        "class_names": [f"class {i}" for i in range(cfg.model.num_classes)],
        "model": model.state_dict(),
    }
    return save_checkpoint(payload, tmp / f"{arch}_{stream}_{persons}_{strategy}_{seed}.pt")


def _spread_logits(model: torch.nn.Module, cfg, skeleton) -> None:
    """Scale the classifier so that the logits of random clips spread by about 2 (probabilities
    neither uniform nor saturated, so a 1e-4 tolerance on them is a sharp test)."""
    names = [str(i) for i in range(cfg.model.num_classes)]
    rec = Recognizer(model, cfg, names, skeleton, torch.device("cpu"))
    kp, sc = _clips(4, 1, 9, skeleton.num_joints, seed=99)
    logits = np.log(rec.predict(kp, sc, img_shape=(360, 480)).probabilities)
    spread = float(np.std(logits - logits.mean(axis=1, keepdims=True)))
    with torch.no_grad():
        model.cls_head.fc_cls.weight.mul_(2.0 / max(spread, 1e-6))


def _clips(n: int, m: int, t: int, v: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random clips in a 480 x 360 frame, about 20% missing points (0, 0) with score 0."""
    rng = np.random.default_rng(seed)
    kp = rng.uniform(30, 330, size=(n, m, t, v, 2)).astype(np.float32)
    sc = rng.uniform(0.05, 1.0, size=(n, m, t, v)).astype(np.float32)
    missing = rng.random((n, m, t, v)) < 0.2
    kp[missing] = 0.0
    sc[missing] = 0.0
    return kp, sc


@functools.lru_cache(maxsize=16)
def _session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=16)
def _program(path: Path):
    return load_program(path)


def _onnx_run(path: Path, kp: np.ndarray, sc: np.ndarray, img_shape: np.ndarray) -> np.ndarray:
    session = _session(path)
    feed = {"keypoint": kp, "keypoint_score": sc, "img_shape": img_shape}
    (out,) = session.run(["probabilities"], feed)
    return out


def _pt2_run(path: Path, kp: np.ndarray, sc: np.ndarray, img_shape: np.ndarray) -> np.ndarray:
    program = _program(path)  # load_program: pymg.ops registered, torch.export.load
    with torch.no_grad():
        out = program(torch.from_numpy(kp), torch.from_numpy(sc), torch.from_numpy(img_shape))
    return out.numpy()


RUNNERS = {"onnx": _onnx_run, "pt2": _pt2_run}

# (arch, stream, persons): PoseC3D joint and limb, ST-GCN; two persons where the config has two
MODELS = [("posec3d", "joint", 1), ("posec3d", "limb", 2), ("stgcn", "joint", 2)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every tiny model exported in both formats once per module."""
    tmp = tmp_path_factory.mktemp("export")
    out = {}
    for arch, stream, persons in MODELS:
        ckpt = _checkpoint(tmp, arch, stream, persons=persons)
        files = {
            fmt: export_recognizer(ckpt, tmp / f"{arch}_{stream}.{fmt}", format=fmt)
            for fmt in ("onnx", "pt2")
        }
        out[(arch, stream)] = (Recognizer.from_checkpoint(ckpt), files)
    return out


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
@pytest.mark.parametrize(("arch", "stream", "persons"), MODELS)
def test_exported_equals_predict(exported: dict, arch: str, stream: str, persons: int, fmt: str):
    rec, files = exported[(arch, stream)]
    v = rec.layout.num_joints
    shape = np.array([[360, 480]] * 3, dtype=np.int64)
    # persons 1 to 3 (the config keeps `persons`), T = 1, below, at and above clip_len
    for m, t in [(1, 1), (2, CLIP_LEN - 2), (1, CLIP_LEN), (2, CLIP_LEN + 7), (3, CLIP_LEN + 1)]:
        kp, sc = _clips(3, m, t, v, seed=100 * m + t)
        want = rec.predict(kp, sc, img_shape=(360, 480)).probabilities
        got = RUNNERS[fmt](files[fmt], kp, sc, shape)
        assert got.shape == (3, 5) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL, err_msg=f"M={m} T={t}")
        assert 0.25 < want.max() < 0.99  # neither uniform nor saturated


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_degenerate_clips(exported: dict, fmt: str):
    """A tiny clip (no crop: the whole img_shape is resized), an all-missing person next to a
    real one, a clip with one frame present, and per-sample image sizes."""
    rec, files = exported[("posec3d", "joint")]
    v = rec.layout.num_joints
    kp, sc = _clips(3, 2, 5, v, seed=7)
    kp[0] = kp[0] * 0.02 + 40.0  # extent under 10 px: PoseCompact leaves the frame alone
    kp[1, 1], sc[1, 1] = 0.0, 0.0  # second person absent
    kp[2, :, 1:], sc[2, :, 1:] = 0.0, 0.0  # only frame 0 present
    shapes = [(90, 120), (360, 480), (720, 1280)]
    got = RUNNERS[fmt](files[fmt], kp, sc, np.array(shapes, dtype=np.int64))
    for i, hw in enumerate(shapes):
        want = rec.predict(kp[i : i + 1], sc[i : i + 1], img_shape=hw).probabilities
        np.testing.assert_allclose(got[i : i + 1], want, rtol=0, atol=TOL, err_msg=f"clip {i}")


@pytest.mark.slow
def test_two_stream_fusion(tmp_path: Path):
    joint = _checkpoint(tmp_path, "posec3d", "joint", seed=1)
    limb = _checkpoint(tmp_path, "posec3d", "limb", seed=2)
    out = export_recognizer([joint, limb], tmp_path / "fused.onnx")
    kp, sc = _clips(2, 1, 9, 17, seed=3)
    want = (
        Recognizer.from_checkpoint(joint).predict(kp, sc, img_shape=(360, 480)).probabilities
        + Recognizer.from_checkpoint(limb).predict(kp, sc, img_shape=(360, 480)).probabilities
    ) / 2
    got = _onnx_run(out, kp, sc, np.array([[360, 480]] * 2, dtype=np.int64))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    meta = read_metadata(out)
    assert [s["stream"] for s in meta["streams"]] == ["joint", "limb"]
    assert meta["fusion"].startswith("mean")


@pytest.mark.slow
def test_crop_pad_and_single_view(tmp_path: Path):
    """ST-GCN's crop_pad alignment with 3 clips; --single-view matches predict(1 clip, no flip)."""
    ckpt = _checkpoint(tmp_path, "stgcn", strategy="crop_pad", views=(3, True), persons=1)
    rec = Recognizer.from_checkpoint(ckpt)
    full = export_recognizer(ckpt, tmp_path / "full.onnx")
    single = export_recognizer(ckpt, tmp_path / "single.onnx", single_view=True)
    shape = np.array([[360, 480]] * 2, dtype=np.int64)
    for t in (2, CLIP_LEN, 17):
        kp, sc = _clips(2, 2, t, 17, seed=t)
        want = rec.predict(kp, sc, img_shape=(360, 480)).probabilities
        np.testing.assert_allclose(_onnx_run(full, kp, sc, shape), want, rtol=0, atol=TOL)
        want1 = rec.predict(kp, sc, img_shape=(360, 480), num_clips=1, flip=False).probabilities
        np.testing.assert_allclose(_onnx_run(single, kp, sc, shape), want1, rtol=0, atol=TOL)
        assert np.abs(want1 - want).max() > 10 * TOL  # the views matter at this tolerance
    assert read_metadata(single)["streams"][0]["num_clips"] == 1


def test_metadata_and_standard_ops(exported: dict):
    rec, files = exported[("stgcn", "joint")]
    model = onnx.load(str(files["onnx"]))
    onnx.checker.check_model(model, full_check=True)
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx"}
    assert not any("pymg" in node.op_type.lower() for node in model.graph.node)
    assert [i.name for i in model.graph.input] == ["keypoint", "keypoint_score", "img_shape"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    for fmt in ("onnx", "pt2"):
        meta = read_metadata(files[fmt])
        assert meta["class_names"] == rec.class_names
        assert meta["layout"] == "coco17" and meta["num_joints"] == 17
        assert meta["format"] == fmt and meta["num_classes"] == 5
        assert meta["streams"][0]["arch"] == "stgcn"
        assert meta["streams"][0]["num_clips"] == 2 and meta["streams"][0]["flip"] is True
        assert set(meta["inputs"]) == {"keypoint", "keypoint_score", "img_shape"}


def test_pt2_keeps_custom_ops(exported: dict):
    _, files = exported[("posec3d", "limb")]
    program = torch.export.load(str(files["pt2"]))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert {"pymg.gather_frames.default", "pymg.limb_heatmaps.default"} <= targets
    assert "pymg.frame_positions.default" in targets


def test_nan_points_are_missing(exported: dict):
    """NaN coordinates (or scores) act as missing points: same as (0, 0) with score 0."""
    rec, files = exported[("posec3d", "joint")]
    kp, sc = _clips(2, 1, 7, 17, seed=11)
    holes = np.random.default_rng(1).random(sc.shape) < 0.3
    kp_nan, sc_nan = kp.copy(), sc.copy()
    kp_nan[holes] = np.nan
    sc_nan[holes] = np.nan
    kp[holes], sc[holes] = 0.0, 0.0
    shape = np.array([[360, 480]] * 2, dtype=np.int64)
    want = rec.predict(kp, sc, img_shape=(360, 480)).probabilities
    for fmt in ("onnx", "pt2"):
        got = RUNNERS[fmt](files[fmt], kp_nan, sc_nan, shape)
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL, err_msg=fmt)


def test_select_persons_matches_dataset():
    from pymg.data import select_persons as reference

    rng = np.random.default_rng(5)
    for m in (1, 2, 3, 5):
        for p in (1, 2, 4):
            kp = rng.random((1, m, 2, 3, 2)).astype(np.float32)
            sc = rng.choice([0.2, 0.5, 0.9], size=(1, m, 2, 3)).astype(np.float32)  # ties
            want_kp, want_sc = reference(kp[0], sc[0], p)
            got_kp, got_sc = select_persons(torch.from_numpy(kp), torch.from_numpy(sc), p)
            assert got_kp.shape == (1, p, 2, 3, 2)
            np.testing.assert_array_equal(got_kp[0].numpy(), want_kp)
            np.testing.assert_array_equal(got_sc[0].numpy(), want_sc)


def test_compact_resize_matches_transform():
    from pymg.data import test_transform

    rng = np.random.default_rng(6)
    for trial in range(20):
        kp = (rng.random((2, 4, 3, 2)) * rng.choice([5.0, 50.0, 900.0])).astype(np.float32)
        kp[rng.random((2, 4, 3)) < 0.3] = 0.0
        sc = np.ones(kp.shape[:-1], np.float32)
        h, w = (int(x) for x in rng.integers(20, 1000, size=2))
        want = test_transform(size=24)({"keypoint": kp, "keypoint_score": sc, "img_shape": (h, w)})
        got, _ = compact_resize(
            torch.from_numpy(kp)[None], torch.from_numpy(sc)[None], torch.tensor([[h, w]]), 24
        )
        np.testing.assert_array_equal(got[0].numpy(), want["keypoint"], err_msg=f"trial {trial}")


# ----------------------------------------------------------------------------- refusals
def test_refuses_pyskl_strategy_in_onnx(tmp_path: Path):
    ckpt = _checkpoint(tmp_path, "posec3d", strategy="pyskl")
    with pytest.raises(ValueError, match=r"strategy='pyskl'.*format='pt2'"):
        export_recognizer(ckpt, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.slow
def test_pt2_exports_pyskl_strategy(tmp_path: Path):
    ckpt = _checkpoint(tmp_path, "posec3d", strategy="pyskl", views=(2, False))
    out = export_recognizer(ckpt, tmp_path / "x.pt2", format="pt2")
    kp, sc = _clips(2, 1, 15, 17, seed=4)
    want = Recognizer.from_checkpoint(ckpt).predict(kp, sc, img_shape=(360, 480)).probabilities
    got = _pt2_run(out, kp, sc, np.array([[360, 480]] * 2, dtype=np.int64))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


def test_refuses_bad_requests(tmp_path: Path):
    joint = _checkpoint(tmp_path, "posec3d", "joint")
    with pytest.raises(ValueError, match="format must be one of"):
        export_recognizer(joint, tmp_path / "x.bin", format="tflite")
    with pytest.raises(ValueError, match="one checkpoint or two"):
        export_recognizer([joint, joint, joint], tmp_path / "x.onnx")
    other = _checkpoint(tmp_path, "posec3d", "limb", layout="imigue22")
    with pytest.raises(ValueError, match="checkpoint 2: layout 'imigue22'"):
        export_recognizer([joint, other], tmp_path / "x.onnx")
    with pytest.raises(FileNotFoundError):
        export_recognizer(tmp_path / "missing.pt", tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="ops must be one of"):
        build_graph([Recognizer.from_checkpoint(joint)], ops="fast")


def test_refuses_different_classes(tmp_path: Path):
    joint = _checkpoint(tmp_path, "posec3d", "joint")
    limb = _checkpoint(tmp_path, "posec3d", "limb")
    payload = torch.load(limb, weights_only=True)
    payload["class_names"] = [f"other {i}" for i in range(5)]
    torch.save(payload, limb)
    with pytest.raises(ValueError, match="class names differ"):
        export_recognizer([joint, limb], tmp_path / "x.onnx")


def test_read_metadata_refuses_foreign_files(tmp_path: Path):
    plain = tmp_path / "x.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])), str(plain))
    with pytest.raises(ValueError, match="without pymg metadata"):
        read_metadata(plain)
    with pytest.raises(FileNotFoundError, match="no exported file"):
        read_metadata(tmp_path / "none.onnx")


# ----------------------------------------------------------------------------- command
def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from pymg.cli import main

    ckpt = _checkpoint(tmp_path, "posec3d", "joint", views=(3, True))
    out = tmp_path / "m.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out), "--single-view"]) == 0
    text = capsys.readouterr().out
    assert f"exported: {out} (onnx" in text and "posec3d joint: 1 clip(s)" in text
    assert read_metadata(out)["streams"][0]["num_clips"] == 1
    assert main(["export", str(ckpt), "--format", "pt2", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "ends in '.onnx' but --format pt2 writes '.pt2'" in capsys.readouterr().err
    three = [str(ckpt)] * 3
    assert main(["export", *three, "--out", str(tmp_path / "x.onnx")]) == 2
    assert "expected one checkpoint or two" in capsys.readouterr().err


def test_docs_onnx_example_runs_without_pymg(exported: dict, tmp_path: Path):
    """docs/deploy.md's onnxruntime example, run where `import pymg` fails, prints predict's top
    class and probability."""
    import re
    import shutil
    import subprocess
    import sys

    text = (Path(__file__).parents[1] / "docs" / "deploy.md").read_text(encoding="utf-8")
    block = r"<!-- onnx-example -->\n(?:<!-- skip: .*? -->\n)?```python\n(.*?)```"
    match = re.search(block, text, re.S)
    assert match is not None, "docs/deploy.md lost its onnx-example block"
    (tmp_path / "example.py").write_text(match.group(1), encoding="utf-8")
    rec, files = exported[("stgcn", "joint")]
    shutil.copy(files["onnx"], tmp_path / "model.onnx")
    guard = "import sys; sys.modules['pymg'] = None; exec(open('example.py').read())"
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", guard], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    rng = np.random.default_rng(0)  # the example's clip
    kp = rng.uniform(300, 700, size=(1, 1, 60, 17, 2)).astype(np.float32)
    want = rec.predict(kp, np.ones((1, 1, 60, 17), np.float32), img_shape=(720, 1280))
    best = int(want.labels[0])
    assert done.stdout.strip() == f"{rec.class_names[best]}: {want.probabilities[0, best]:.4f}"


def test_pt2_loads_in_a_fresh_process(exported: dict, tmp_path: Path):
    """A new process that imports pymg.ops (nothing else of pymg) loads and runs the pt2 file."""
    import subprocess
    import sys

    rec, files = exported[("posec3d", "limb")]
    kp, sc = _clips(2, 2, 8, 17, seed=21)
    np.savez(tmp_path / "clip.npz", kp=kp, sc=sc)
    code = (
        "import numpy as np, torch, pymg.ops\n"
        f"program = torch.export.load({str(files['pt2'])!r}).module()\n"
        "z = np.load('clip.npz')\n"
        "with torch.no_grad():\n"
        "    p = program(torch.from_numpy(z['kp']), torch.from_numpy(z['sc']),\n"
        "                torch.tensor([[360, 480], [360, 480]]))\n"
        "np.save('out.npy', p.numpy())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    want = rec.predict(kp, sc, img_shape=(360, 480)).probabilities
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=0, atol=TOL)
