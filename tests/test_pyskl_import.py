"""PYSKL / mmaction2 import: hand-built reference models, both key conventions, config files.

The references (tests/pyskl_reference_gcn.py, tests/pyskl_reference_c3d.py) re-state PYSKL's
forward passes without pymg code; their state dicts are saved as PYSKL and as mmaction2 1.x save
them, then loaded through ``load_pyskl_checkpoint`` and ``from_pyskl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pyskl_reference_c3d import ReferencePoseC3D
from pyskl_reference_gcn import ReferenceGCN, pyskl_graph, randomize
from torch import nn

from pymg.models import (
    STGCN,
    PoseC3D,
    PysklConfigError,
    from_pyskl,
    load_pyskl_checkpoint,
    pyskl_model_spec,
    stgcn_plus_plus,
)
from pymg.topology import PYSKL_GRAPH_MODES, get_layout, graph_partitions

GCN_PIPELINE = """
dataset_type = 'PoseDataset'
ann_file = 'data/nturgbd/ntu60_hrnet.pkl'
test_pipeline = [
    dict(type='PreNormalize2D'),
    dict(type='GenSkeFeat', dataset='{layout}', feats=['j']),
    dict(type='UniformSample', clip_len=100, num_clips=10),
    dict(type='PoseDecode'),
    dict(type='FormatGCNInput', num_person=2),
    dict(type='Collect', keys=['keypoint', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['keypoint'])
]
data = dict(
    videos_per_gpu=16,
    test=dict(type=dataset_type, ann_file=ann_file, pipeline=test_pipeline, split='xsub_val'))
optimizer = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0005, nesterov=True)
lr_config = dict(policy='CosineAnnealing', min_lr=0, by_epoch=False)
total_epochs = 16
work_dir = './work_dirs/stgcn++/stgcn++_ntu120_xsub_hrnet/j'
"""

# name: (PYSKL layout, graph mode, classes, reference kwargs, extra backbone config text)
GCN_CASES: dict[str, tuple[str, str, int, dict[str, Any], str]] = {
    "stgcn_coco": ("coco", "stgcn_spatial", 60, {}, ""),
    "stgcnpp_coco": (
        "coco", "spatial", 60, {"adaptive": "init", "with_res": True, "tcn": "mstcn"},
        "gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn',",
    ),
    "stgcnpp_hand": (
        "handmp", "spatial", 40,
        {"in_channels": 2, "num_stages": 6, "down_stages": (3, 5), "inflate_stages": (3, 5),
         "adaptive": "init", "with_res": True, "tcn": "mstcn"},
        "in_channels=2, num_stages=6, inflate_stages=[3, 5], down_stages=[3, 5],\n"
        "        gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn',",
    ),
    "stgcn_ntu": ("nturgb+d", "stgcn_spatial", 120, {}, ""),
}  # fmt: skip


def gcn_config(layout: str, mode: str, num_classes: int, extra: str) -> str:
    """A config file written as PYSKL writes them (see configs/stgcn++/*/j.py)."""
    return (
        "model = dict(\n"
        "    type='RecognizerGCN',\n"
        "    backbone=dict(\n"
        "        type='STGCN',\n"
        f"        {extra}\n"
        f"        graph_cfg=dict(layout='{layout}', mode='{mode}')),\n"
        f"    cls_head=dict(type='GCNHead', num_classes={num_classes}, in_channels=256))\n"
        + GCN_PIPELINE.format(layout=layout)
    )


def save_checkpoint(model: nn.Module, path: Path, convention: str) -> Path:
    """Save as PYSKL (mmcv) or mmaction2 1.x (mmengine) do: a ``state_dict`` + ``meta`` dict."""
    meta = {"mmcv_version": "1.5.0"} if convention == "pyskl" else {"mmengine_version": "0.10.0"}
    torch.save({"meta": meta, "state_dict": model.state_dict()}, path)
    return path


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def reference_gcn(case: str, convention: str, seed: int = 0) -> ReferenceGCN:
    layout, mode, k, kw, _ = GCN_CASES[case]
    torch.manual_seed(seed)
    ref = ReferenceGCN(k, convention=convention, layout=layout, mode=mode, **kw)
    randomize(ref, seed)
    return ref.eval()


# ----------------------------------------------------------------------------- graph


@pytest.mark.parametrize("layout", ["coco", "openpose", "nturgb+d", "handmp"])
@pytest.mark.parametrize("mode", ["stgcn_spatial", "spatial"])
def test_partitions_equal_pyskl(layout: str, mode: str) -> None:
    ours = graph_partitions(get_layout(layout), PYSKL_GRAPH_MODES[mode])
    np.testing.assert_allclose(ours, pyskl_graph(layout, mode), rtol=0, atol=1e-7)
    if mode == "stgcn_spatial":  # the default strategy of pymg's ST-GCN
        np.testing.assert_array_equal(STGCN(layout, 3).backbone.A.numpy(), ours)


def test_exact_partition_is_the_documented_alternative() -> None:
    exact = graph_partitions(get_layout("coco17"), "spatial_exact")
    assert np.abs(exact - pyskl_graph("coco", "stgcn_spatial")).max() == pytest.approx(0.5)


# ----------------------------------------------------------------------------- GCN parity


@pytest.mark.parametrize("convention", ["pyskl", "mmaction2"])
@pytest.mark.parametrize(
    "case",
    # full-size ST-GCN / ST-GCN++ take ~10 s each on a small CPU; the hand model runs always
    [c if c == "stgcnpp_hand" else pytest.param(c, marks=pytest.mark.slow) for c in GCN_CASES],
)
def test_gcn_logits_match_reference(case: str, convention: str, tmp_path: Path) -> None:
    layout, mode, k, kw, extra = GCN_CASES[case]
    ref = reference_gcn(case, convention)
    ckpt = save_checkpoint(ref, tmp_path / "ckpt.pth", convention)
    config = tmp_path / "j.py"
    config.write_text(gcn_config(layout, mode, k, extra))
    channels = int(kw.get("in_channels", 3))
    x = torch.randn(2, 2, 24, get_layout(layout).num_joints, channels)  # [N, M, T, V, C]
    with torch.no_grad():
        expected = ref(x)
        model = from_pyskl(config, ckpt)
        assert rel_diff(model(x).logits, expected) < 1e-5
    assert n_params(model) == n_params(ref)
    assert model.num_classes == k and model.layout.name == get_layout(layout).name
    assert not model.training
    # the same checkpoint into a model built by hand
    by_hand: nn.Module
    if kw.get("adaptive") == "init":
        by_hand = stgcn_plus_plus(
            layout, k, in_channels=channels, num_blocks=int(kw.get("num_stages", 10)),
            down_blocks=kw.get("down_stages", (5, 8)),
        )  # fmt: skip
    else:
        by_hand = STGCN(layout, k)
    report = load_pyskl_checkpoint(by_hand, ckpt)
    assert report.convention == convention and report.notes == []
    with torch.no_grad():
        assert rel_diff(by_hand.eval()(x).logits, expected) < 1e-5


def test_hand_stgcnpp_shapes_and_learned_partitions(tmp_path: Path) -> None:
    ref = reference_gcn("stgcnpp_hand", "pyskl", seed=3)
    config = tmp_path / "hand.py"
    config.write_text(gcn_config("handmp", "spatial", 40, GCN_CASES["stgcnpp_hand"][4]))
    model = from_pyskl(config, ref.state_dict())
    assert isinstance(model, STGCN) and len(model.backbone.gcn) == 6
    assert [b.gcn.conv.out_channels // 3 for b in model.backbone.gcn] == [
        64,
        64,
        128,
        128,
        256,
        256,
    ]
    names = dict(model.named_parameters())
    for i in range(6):  # gcn_adaptive='init': each block learned its own partition
        assert f"backbone.gcn.{i}.gcn.A" in names
        torch.testing.assert_close(
            model.backbone.gcn[i].gcn.A, ref.backbone.gcn[i].gcn.A, rtol=0, atol=0
        )
    assert model(torch.randn(1, 1, 16, 21, 2)).logits.shape == (1, 40)
    spec = pyskl_model_spec(config)
    assert spec.family == "stgcn++" and spec.test == {"num_clips": 10, "feats": ["j"],
                                                      "num_person": 2}  # fmt: skip


# ----------------------------------------------------------------------------- PoseC3D parity

C3D_CONFIG = """
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='ResNet3dSlowOnly',
        depth=50,
        pretrained=None,
        in_channels=17,
        base_channels=8,
        num_stages=3,
        out_indices=(2, ),
        stage_blocks=(1, 2, 1),
        {strides},
        pool1_stride_s=1,
        inflate=(0, 1, 1),
        spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 2),
        dilations=(1, 1, 1)),
    cls_head=dict(type='I3DHead', in_channels=256, num_classes=7, {dropout}=0.5))
left_kp = [1, 3, 5, 7, 9, 11, 13, 15]
right_kp = [2, 4, 6, 8, 10, 12, 14, 16]
skeletons = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
             [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]
test_pipeline = [
    dict(type='UniformSampleFrames', clip_len=48, num_clips=10),
    dict(type='PoseDecode'),
    dict(type='PoseCompact', hw_ratio=1., allow_imgpad=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='GeneratePoseTarget', with_kp={kp}, with_limb={limb}, skeletons=skeletons,
         double=True, left_kp=left_kp, right_kp=right_kp),
    dict(type='FormatShape', input_format='NCTHW_Heatmap'),
]
"""


@pytest.mark.parametrize(("convention", "stream"), [("pyskl", "joint"), ("mmaction2", "limb")])
def test_posec3d_logits_match_reference(convention: str, stream: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = ReferencePoseC3D(
        7, in_channels=17, base_channels=8, stage_blocks=(1, 2, 1), spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 2), inflate=(0, 1, 1),
    )  # fmt: skip
    randomize(ref, 1)
    ref.eval()
    ckpt = save_checkpoint(ref, tmp_path / "c3d.pth", convention)
    config = tmp_path / "posec3d.py"
    pyskl_style = convention == "pyskl"
    config.write_text(
        C3D_CONFIG.format(
            strides="conv1_stride=(1, 1)" if pyskl_style else "conv1_stride_s=1",
            dropout="dropout" if pyskl_style else "dropout_ratio",
            kp=stream == "joint",
            limb=stream == "limb",
        )
    )
    model = from_pyskl(config, ckpt)
    assert isinstance(model, PoseC3D) and model.stream == stream
    assert model.layout.name == ("coco17" if stream == "joint" else "coco17_pyskl")
    heatmaps = torch.rand(2, 17, 8, 16, 16)  # [N, C, T, H, W], as PYSKL feeds its backbone
    with torch.no_grad():
        assert rel_diff(model(heatmaps).logits, ref(heatmaps)) < 1e-5
    assert n_params(model) == n_params(ref)
    by_hand = PoseC3D(
        model.layout, stream, num_classes=7, base_channels=8, stage_blocks=(1, 2, 1)
    ).eval()
    assert load_pyskl_checkpoint(by_hand, ckpt).missing_keys == []
    with torch.no_grad():
        assert rel_diff(by_hand(heatmaps).logits, ref(heatmaps)) < 1e-5
    spec = pyskl_model_spec(config)
    assert spec.kwargs["size"] == 64 and spec.kwargs["clip_len"] == 48
    assert spec.test == {"stream": stream, "flip": True, "num_clips": 10}


# ----------------------------------------------------------------------------- refusals


def test_config_needing_execution_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    config = tmp_path / "evil.py"
    config.write_text(
        gcn_config("coco", "stgcn_spatial", 60, "")
        + f"hook = __import__('os').system('touch {marker}')\n"
    )
    with pytest.raises(
        PysklConfigError, match=r"evil\.py:27: a call to __import__\('os'\)\.system\(\.\.\.\)"
    ):
        from_pyskl(config)
    assert not marker.exists()
    config.write_text("import os\nos.system('touch " + str(marker) + "')\nmodel = dict()\n")
    with pytest.raises(PysklConfigError, match=r"evil\.py:1: an import is not allowed"):
        from_pyskl(config)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("x = open('f')\n", r":1: a call to open\(\.\.\.\)"),
        ("a = 1\nx = dict(a=a, b=os.sep)\n", r":2: an attribute access"),
        ("x = [1] * 60\n", r":1: an operator expression"),
        ("w = 'j'\nx = f'dir/{w}'\n", r":2: an f-string"),
        ("x = y\n", r":1: the name 'y' \(not assigned earlier in the file\)"),
        ("data = dict()\ndata['test'] = 1\n", r":2: a Assign statement"),
        ("def f():\n    pass\n", r":1: a function definition"),
        ("x = dict(**{'a': 1})\n", r":1: dict\(\*\*\.\.\.\) unpacking"),
    ],
)
def test_reader_refuses_with_line(text: str, match: str, tmp_path: Path) -> None:
    config = tmp_path / "c.py"
    config.write_text(text)
    with pytest.raises(PysklConfigError, match=match):
        from_pyskl(config)


def test_reader_values_and_base_merge(tmp_path: Path) -> None:
    from pymg.models import read_pyskl_config

    (tmp_path / "base.py").write_text(
        "model = dict(type='RecognizerGCN', backbone=dict(type='STGCN', in_channels=3,\n"
        "    graph_cfg=dict(layout='coco', mode='spatial')),\n"
        "    cls_head=dict(type='GCNHead', num_classes=60, in_channels=256))\n"
        "total_epochs = 80\n"
    )
    (tmp_path / "child.py").write_text(
        '"""A child config."""\n'
        "_base_ = ['./base.py', '../missing_runtime.py']\n"
        "scale = (-1, 64)\n"
        "keys = list(('a', 'b'))\n"
        "model = dict(backbone=dict(graph_cfg=dict(_delete_=True, layout='openpose')),\n"
        "             cls_head=dict(num_classes=12))\n"
        "copy = dict(s=scale, on=True, off=None, k=keys)\n"
    )
    cfg = read_pyskl_config(tmp_path / "child.py")
    assert cfg["model"]["backbone"] == {"type": "STGCN", "in_channels": 3,
                                        "graph_cfg": {"layout": "openpose"}}  # fmt: skip
    assert cfg["model"]["cls_head"]["num_classes"] == 12 and cfg["total_epochs"] == 80
    assert cfg["copy"] == {"s": (-1, 64), "on": True, "off": None, "k": ["a", "b"]}
    assert cfg["_missing_bases_"] == ["../missing_runtime.py"]
    spec = pyskl_model_spec(cfg)
    assert spec.family == "stgcn" and spec.layout.name == "openpose18" and spec.num_classes == 12
    assert spec.kwargs["partition"] == "inward_outward"  # PYSKL's default mode is 'spatial'


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("type='STGCN'", "type='CTRGCN'"),
        ("graph_cfg=dict(", "gcn_conv_pos='post', graph_cfg=dict("),
        ("graph_cfg=dict(", "tcn_dropout=(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), graph_cfg=dict("),
        ("graph_cfg=dict(", "frobnicate=1, graph_cfg=dict("),
        ("layout='coco'", "layout='kinect'"),
    ],
)
def test_unsupported_settings_are_named(old: str, new: str, tmp_path: Path) -> None:
    text = gcn_config("coco", "stgcn_spatial", 60, "").replace(old, new, 1)
    config = tmp_path / "bad.py"
    config.write_text(text)
    expected = {
        "CTRGCN": r"backbone\.type = 'CTRGCN' is not supported",
        "post": r"gcn_conv_pos = 'post' is not supported by pymg \(only 'pre'\)",
        "tcn_dropout": r"model\.backbone\.tcn_dropout: per-stage values are not supported",
        "frobnicate": r"model\.backbone\.frobnicate is not a setting pymg knows",
        "kinect": r"graph_cfg\.layout = 'kinect': expected one of",
    }
    pattern = next(v for k, v in expected.items() if k in new)
    with pytest.raises(PysklConfigError, match=pattern):
        from_pyskl(config)


def test_checkpoint_shape_mismatch_names_the_partition(tmp_path: Path) -> None:
    ref = reference_gcn("stgcn_coco", "pyskl")
    state = ref.state_dict()
    state["backbone.gcn.3.gcn.A"] = torch.ones(2, 17, 17)
    config = tmp_path / "j.py"
    config.write_text(gcn_config("coco", "stgcn_spatial", 60, ""))
    with pytest.raises(ValueError, match=r"gcn\.3\.gcn\.A' \(the graph partition\) has shape"):
        from_pyskl(config, state)
