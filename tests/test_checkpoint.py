"""PYSKL/mmaction2 checkpoint import/export: key layout, round trips, bad and malicious files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import pymg.models.stgcn as stgcn
from pymg.models.checkpoint import export_pyskl_state_dict, load_pyskl_checkpoint, read_state_dict
from pymg.models.posec3d import PoseC3D
from pymg.models.resnet3d import ResNet3dSlowOnly

TINY = {"base_channels": 8, "stage_blocks": (1, 2, 1), "clip_len": 8, "size": 16}


def tiny(seed: int, **kw: object) -> PoseC3D:
    torch.manual_seed(seed)
    args = {**TINY, "num_classes": 5, **kw}
    model = PoseC3D("coco17", **args)  # type: ignore[arg-type]
    # make every buffer distinctive: BN statistics and counters
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(seed + 7)
    return model


def pyskl_backbone_keys(base_blocks: tuple[int, ...]) -> set[str]:
    """PYSKL's names for ResNet3dSlowOnly, written out independently of pymg's modules."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = {"backbone.conv1.conv.weight"} | {f"backbone.conv1.bn.{b}" for b in bn}
    for i, nb in enumerate(base_blocks, start=1):
        for k in range(nb):
            convs = ["conv1", "conv2", "conv3"] + (["downsample"] if k == 0 else [])
            for c in convs:
                prefix = f"backbone.layer{i}.{k}.{c}"
                keys.add(f"{prefix}.conv.weight")
                keys |= {f"{prefix}.bn.{b}" for b in bn}
    return keys


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_export_uses_pyskl_key_names() -> None:
    model = tiny(0, embed_dim=3)
    state = export_pyskl_state_dict(model, include_extras=False)
    head = {"cls_head.fc_cls.weight", "cls_head.fc_cls.bias"}
    assert set(state) == pyskl_backbone_keys((1, 2, 1)) | head
    full = export_pyskl_state_dict(model)
    assert set(full) - set(state) == {"cls_head.embed.weight", "cls_head.embed.bias"}
    # detached copies: changing the export leaves the model alone
    full["backbone.conv1.conv.weight"].zero_()
    assert model.backbone.conv1.conv.weight.abs().sum() > 0


def test_full_size_export_key_count() -> None:
    state = export_pyskl_state_dict(PoseC3D("coco17", num_classes=60), include_extras=False)
    assert set(state) == pyskl_backbone_keys((4, 6, 3)) | {
        "cls_head.fc_cls.weight",
        "cls_head.fc_cls.bias",
    }
    assert (
        sum(
            v.numel()
            for k, v in state.items()
            if k.endswith(("weight", "bias")) and "running" not in k
        )
        == 1_994_080 + 30_780
    )


def test_round_trip_exact_through_file(tmp_path: Path) -> None:
    src, dst = tiny(1, embed_dim=4), tiny(2, embed_dim=4)
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": export_pyskl_state_dict(src), "meta": {"epoch": 3}}, path)
    report = load_pyskl_checkpoint(dst, path)
    assert_same_state(src, dst)
    assert report.mapped == len(src.state_dict())
    assert report.missing_keys == report.unexpected_keys == report.skipped_keys == []


def test_raw_dict_and_module_prefix() -> None:
    src, dst = tiny(3), tiny(4)
    state = {f"module.{k}": v for k, v in export_pyskl_state_dict(src).items()}
    load_pyskl_checkpoint(dst, state)
    assert_same_state(src, dst)
    assert set(read_state_dict(state)) == set(export_pyskl_state_dict(src))


def test_bare_backbone_import_and_export() -> None:
    src = tiny(5)
    backbone = ResNet3dSlowOnly(17, base_channels=8, stage_blocks=(1, 2, 1))
    report = load_pyskl_checkpoint(backbone, export_pyskl_state_dict(src))
    assert_same_state(src.backbone, backbone)
    assert sorted(report.skipped_keys) == ["cls_head.fc_cls.bias", "cls_head.fc_cls.weight"]
    exported = export_pyskl_state_dict(backbone)
    assert set(exported) == pyskl_backbone_keys((1, 2, 1))
    fresh = ResNet3dSlowOnly(17, base_channels=8, stage_blocks=(1, 2, 1))
    load_pyskl_checkpoint(fresh, src.backbone.state_dict())  # unprefixed: loads as is
    assert_same_state(src.backbone, fresh)


def test_missing_num_batches_tracked_is_tolerated() -> None:
    src, dst = tiny(6), tiny(7)
    state = {
        k: v for k, v in export_pyskl_state_dict(src).items() if "num_batches_tracked" not in k
    }
    report = load_pyskl_checkpoint(dst, state)
    assert report.missing_keys == []
    torch.testing.assert_close(
        dst.backbone.conv1.bn.running_mean, src.backbone.conv1.bn.running_mean
    )


def test_wrong_keys_strict_and_lenient() -> None:
    src = tiny(8)
    state = export_pyskl_state_dict(src)
    del state["backbone.layer2.1.conv2.conv.weight"]
    state["backbone.layer9.0.conv1.conv.weight"] = torch.zeros(1)
    with pytest.raises(
        ValueError, match=r"missing keys \[backbone\.layer2\.1\.conv2\.conv\.weight\]"
    ):
        load_pyskl_checkpoint(tiny(9), state)
    with pytest.raises(ValueError, match=r"unexpected keys \[backbone\.layer9"):
        load_pyskl_checkpoint(tiny(9), state)
    dst = tiny(9)
    before = dst.backbone.layer2[1].conv2.conv.weight.clone()
    report = load_pyskl_checkpoint(dst, state, strict=False)
    assert report.missing_keys == ["backbone.layer2.1.conv2.conv.weight"]
    assert report.unexpected_keys == ["backbone.layer9.0.conv1.conv.weight"]
    assert torch.equal(dst.backbone.layer2[1].conv2.conv.weight, before)
    assert torch.equal(
        dst.backbone.layer2[1].conv1.conv.weight, src.backbone.layer2[1].conv1.conv.weight
    )


def test_pyskl_checkpoint_into_model_with_embedding() -> None:
    src = tiny(10)
    dst = tiny(11, embed_dim=3)
    with pytest.raises(ValueError, match=r"missing keys \[cls_head\.embed\.weight"):
        load_pyskl_checkpoint(dst, export_pyskl_state_dict(src))
    report = load_pyskl_checkpoint(dst, export_pyskl_state_dict(src), strict=False)
    assert report.missing_keys == ["cls_head.embed.weight", "cls_head.embed.bias"]


def test_shape_mismatch_names_key_and_shapes() -> None:
    src = tiny(12, num_classes=60)
    dst = tiny(13, num_classes=5)
    before = dst.backbone.conv1.conv.weight.clone()
    msg = r"'cls_head\.fc_cls\.weight' has shape \(60, 128\) but the model expects \(5, 128\)"
    with pytest.raises(ValueError, match=msg):
        load_pyskl_checkpoint(dst, export_pyskl_state_dict(src), strict=False)
    assert torch.equal(dst.backbone.conv1.conv.weight, before)  # nothing loaded on error
    report = load_pyskl_checkpoint(
        dst, export_pyskl_state_dict(src), strict=False, exclude=("cls_head.",)
    )
    assert report.missing_keys == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
    assert sorted(report.skipped_keys) == ["cls_head.fc_cls.bias", "cls_head.fc_cls.weight"]
    assert torch.equal(dst.backbone.conv1.conv.weight, src.backbone.conv1.conv.weight)
    other_stream = PoseC3D("imigue22", **TINY)  # 22 input channels vs 17
    with pytest.raises(
        ValueError, match=r"backbone\.conv1\.conv\.weight.*\(8, 17, 1, 7, 7\).*\(8, 22, 1, 7, 7\)"
    ):
        load_pyskl_checkpoint(other_stream, export_pyskl_state_dict(src), exclude=("cls_head.",))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    state = export_pyskl_state_dict(tiny(14))
    torch.save({"state_dict": state, "meta": {"hook": _Evil(marker)}}, path)
    with pytest.raises(ValueError, match="refusing to load .*not a plain tensor checkpoint"):
        load_pyskl_checkpoint(tiny(15), path)
    assert not marker.exists()


def test_bad_inputs(tmp_path: Path) -> None:
    model = tiny(16)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_pyskl_checkpoint(model, tmp_path / "missing.pth")
    with pytest.raises(TypeError, match="must map a str key to a Tensor"):
        load_pyskl_checkpoint(model, {"backbone.conv1.conv.weight": [1.0, 2.0]})
    with pytest.raises(TypeError, match="a path or a dict of tensors"):
        load_pyskl_checkpoint(model, 42)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="no PYSKL key mapping for Linear"):
        export_pyskl_state_dict(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        load_pyskl_checkpoint("model", {})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- ST-GCN
@pytest.fixture
def stgcn_pair() -> Iterator[tuple[nn.Module, nn.Module]]:
    kw = {"num_classes": 4, "base_channels": 8, "num_blocks": 3, "down_blocks": (2,)}
    torch.manual_seed(0)
    a = stgcn.STGCN("coco17", **kw)
    torch.manual_seed(1)
    b = stgcn.STGCN("coco17", **kw)
    with torch.no_grad():
        a.backbone.gcn[1].gcn.PA.uniform_(0.5, 1.5)
    yield a, b


def test_stgcn_round_trip_and_partition_copies(stgcn_pair: tuple[nn.Module, nn.Module]) -> None:
    a, b = stgcn_pair
    state = export_pyskl_state_dict(a)
    assert "backbone.A" not in state
    assert "backbone.gcn.1.gcn.PA" in state and "backbone.data_bn.running_mean" in state
    for i in range(3):
        assert torch.equal(state[f"backbone.gcn.{i}.gcn.A"], a.backbone.gcn[i].gcn.A)
    report = load_pyskl_checkpoint(b, state)
    assert_same_state(a, b)
    assert report.skipped_keys == [] and report.notes == [] and report.convention == "pyskl"
    # the checkpoint's partition wins over the model's (PYSKL's graph may differ from pymg's)
    state["backbone.gcn.2.gcn.A"] = state["backbone.gcn.2.gcn.A"] * 0.5 + 0.25
    load_pyskl_checkpoint(b, state)
    assert torch.equal(b.backbone.gcn[2].gcn.A, state["backbone.gcn.2.gcn.A"])
    assert not torch.equal(b.backbone.gcn[2].gcn.A, b.backbone.gcn[1].gcn.A)


def test_stgcn_partition_shape_checked_and_optional(
    stgcn_pair: tuple[nn.Module, nn.Module],
) -> None:
    a, b = stgcn_pair
    state = export_pyskl_state_dict(a)
    bad = dict(state, **{"backbone.gcn.1.gcn.A": torch.ones(1, 17, 17)})
    with pytest.raises(
        ValueError,
        match=r"'backbone\.gcn\.1\.gcn\.A' \(the graph partition\) has shape \(1, 17, 17\) "
        r"but the model expects \(3, 17, 17\)",
    ):
        load_pyskl_checkpoint(b, bad)
    without = {k: v for k, v in state.items() if not k.endswith(".gcn.A")}
    before = b.backbone.gcn[0].gcn.A.clone()
    report = load_pyskl_checkpoint(b, without)  # strict: a fixed partition may be absent
    assert report.notes == ["the checkpoint has no partition for 3 block(s); kept the model's"]
    assert report.missing_keys == [] and torch.equal(b.backbone.gcn[0].gcn.A, before)
    # pymg < 0.2 exported one shared "backbone.A": it is spread over the blocks
    legacy = dict(without, **{"backbone.A": torch.full((3, 17, 17), 0.5)})
    report = load_pyskl_checkpoint(b, legacy)
    assert report.notes == [] and report.unexpected_keys == []
    for block in b.backbone.gcn:
        assert torch.equal(block.gcn.A, torch.full((3, 17, 17), 0.5))


def test_stgcn_mmaction2_convention(stgcn_pair: tuple[nn.Module, nn.Module]) -> None:
    a, b = stgcn_pair
    state = export_pyskl_state_dict(a, convention="mmaction2", include_extras=False)
    assert {"cls_head.fc.weight", "cls_head.fc.bias"} <= set(state)
    assert not any(k.startswith("cls_head.fc_cls") for k in state)
    state["data_preprocessor.mean"] = torch.zeros(3)  # mmaction2 wrappers may carry these
    report = load_pyskl_checkpoint(b, {"state_dict": state, "meta": {"mmaction2": "1.2.0"}})
    assert_same_state(a, b)
    assert report.convention == "mmaction2" and report.skipped_keys == ["data_preprocessor.mean"]
    # PoseC3D: mmaction2's I3DHead keeps fc_cls, so both conventions give the same keys
    posec3d = tiny(20)
    mm = export_pyskl_state_dict(posec3d, convention="mmaction2")
    assert set(mm) == set(export_pyskl_state_dict(posec3d)) and "cls_head.fc_cls.weight" in mm
    with pytest.raises(ValueError, match="convention: expected one of"):
        export_pyskl_state_dict(a, convention="mmaction")


def test_bare_stgcn_backbone_from_a_recognizer_checkpoint(
    stgcn_pair: tuple[nn.Module, nn.Module],
) -> None:
    a, _ = stgcn_pair
    state = export_pyskl_state_dict(a, convention="mmaction2")
    backbone = stgcn.STGCNBackbone(
        a.backbone.A.clone() * 0, base_channels=8, num_blocks=3, down_blocks=(2,)
    )
    report = load_pyskl_checkpoint(backbone, state)
    assert_same_state(a.backbone, backbone)  # the per-block partitions included
    # mmaction2's cls_head.fc is read under PYSKL's name, then skipped by the bare backbone
    assert report.convention == "mmaction2"
    assert sorted(report.skipped_keys) == ["cls_head.fc_cls.bias", "cls_head.fc_cls.weight"]
    assert set(export_pyskl_state_dict(backbone)) == {k for k in state if k.startswith("backbone.")}


def test_load_checkpoint_errors_name_the_way_out(tmp_path: Path) -> None:
    import argparse

    from pymg.engine.checkpointing import load_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(IsADirectoryError, match=r"run is a directory; .*best.pt or .*latest.pt"):
        load_checkpoint(run)
    torch.save({"args": argparse.Namespace(lr=1.0)}, tmp_path / "objects.pt")
    with pytest.raises(
        ValueError, match=r"holds Python objects \(argparse.Namespace\) besides tensors"
    ) as info:
        load_checkpoint(tmp_path / "objects.pt")
    assert "weights_only" not in str(info.value)  # no advice to turn off safe loading


def test_load_model_state_names_keys_and_shapes() -> None:
    from pymg.engine.checkpointing import load_model_state

    model = nn.Sequential(nn.Linear(3, 2))
    state = {"0.weight": torch.zeros(2, 4), "0.bias": torch.zeros(2), "extra": torch.zeros(1)}
    with pytest.raises(
        ValueError,
        match=r"ck.pt does not fit the model: unexpected key 'extra'; shape mismatch "
        r"'0.weight' is \(2, 4\) in the file, \(2, 3\) in the model",
    ):
        load_model_state(model, state, "ck.pt")
    del state["0.bias"]
    with pytest.raises(ValueError, match="missing key '0.bias'"):
        load_model_state(model, state, "ck.pt")
