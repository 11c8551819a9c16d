"""Model families own their options: the registry, the [model] table, resolved specs in
checkpoints, and checkpoints/configs of the flat table of earlier releases."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import torch

from pymg.engine import Recognizer
from pymg.engine.builders import build_model
from pymg.engine.config import ConfigError, config_from_dict, load_config
from pymg.engine.model_options import (
    build_from_spec,
    check_model_table,
    model_spec,
    translate_flat_model,
)
from pymg.models import STGCN, PoseC3D, TwoStream
from pymg.models.registry import MODELS, family_engine_args, family_parameters
from pymg.topology import resolve_layout

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_every_family_takes_layout_first_and_has_the_shared_arguments(arch: str) -> None:
    params = list(family_parameters(arch))
    assert params[0] == "layout"
    assert {"num_classes", "clip_len"} <= set(params)
    assert set(family_engine_args(arch)) <= set(params)


@pytest.mark.parametrize("name", ["legacy_posec3d", "legacy_stgcn"])
def test_checkpoints_of_the_flat_table_give_the_recorded_logits(name: str) -> None:
    """Written by the release with the flat [model] table (tests/data/make_legacy_checkpoints.py);
    the new code rebuilds the model from the translated config, never from state-dict keys."""
    rec = Recognizer.from_checkpoint(DATA / f"{name}.pt")
    expected = torch.load(DATA / f"{name}_expected.pt", weights_only=True)
    with torch.no_grad():
        logits = rec.model(expected["input"]).logits
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-6)


def test_flat_checkpoint_options_are_translated_once() -> None:
    ck = torch.load(DATA / "legacy_stgcn.pt", weights_only=True)
    assert ck["config"]["model"]["gcn_adaptive"] == "none" and "model_spec" not in ck
    rec = Recognizer.from_checkpoint(DATA / "legacy_stgcn.pt")
    assert isinstance(rec.model, STGCN)
    assert not any(key.endswith(".PA") for key in rec.model.state_dict())  # adaptive None
    assert rec.cfg.model.options["base_channels"] == 8  # was gcn_channels
    assert rec.cfg.model.options["gcn_adaptive"] is None and "stream" not in rec.cfg.model.options
    posec3d = Recognizer.from_checkpoint(DATA / "legacy_posec3d.pt")
    assert isinstance(posec3d.model, PoseC3D) and posec3d.model.embed_dim == 3
    assert posec3d.model.stream == "limb" and posec3d.model.size == 16


def test_old_flat_toml_keeps_loading(tmp_path: Path) -> None:
    path = tmp_path / "old.toml"
    path.write_text(
        '[model]\narch = "stgcn"\nstream = "joint"\ngcn_channels = 16\nembed_dim = 0\n'
        'gcn_adaptive = "none"\nbase_channels = 32\nstage_blocks = [1, 1, 1]\n'
    )
    cfg = load_config(path)
    assert cfg.model.arch == "stgcn"
    assert cfg.model.options["base_channels"] == 16 and cfg.model.options["gcn_adaptive"] is None
    assert cfg.model.clip_len == 48 and cfg.model.options["dropout"] == 0.5  # old defaults
    assert "embed_dim" not in cfg.model.options
    assert translate_flat_model("posec3d", {"partition": "spatial", "clip_len": 8}) == {
        "num_classes": 32, "clip_len": 8, "dropout": 0.5, "strategy": "uniform",
        "stream": "joint", "sigma": 0.6, "base_channels": 32, "stage_blocks": [4, 6, 3],
    }  # fmt: skip


def test_unknown_option_lists_the_constructor_parameters() -> None:
    with pytest.raises(ConfigError) as info:
        check_model_table({"arch": "posec3d", "base_channel": 8})
    text = str(info.value)
    assert "unknown model option 'model.base_channel'; did you mean 'model.base_channels'?" in text
    takes = text.split("PoseC3D takes: ")[1].rstrip(")").split(", ")
    params = inspect.signature(PoseC3D).parameters
    assert takes == [p for p in params if p not in ("layout", "size")]


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        ({"arch": "stgcn", "down_blocks": 5}, r"model\.down_blocks expects Sequence\[int\], got 5"),
        ({"arch": "stgcn", "size": [1, 2, 3]}, r"model\.size expects tuple\[int, int\] \| None"),
        ({"arch": "stgcn", "gcn_with_res": 1}, r"model\.gcn_with_res expects bool, got 1"),
        ({"arch": "posec3d", "sigma": "wide"}, r"model\.sigma expects float, got 'wide'"),
        ({"arch": "posec3d", "layout": "coco17"}, r"model\.layout is not set in \[model\]"),
        ({"arch": "stgcn", "partition": 3}, r"model\.partition expects str \| numpy\.ndarray"),
    ],
)
def test_wrong_types_name_the_parameter_and_the_annotation(table: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        check_model_table(table)


def test_values_become_what_the_annotation_says() -> None:
    cfg = check_model_table(
        {"arch": "stgcn", "size": [720, 1280], "gcn_adaptive": "none", "ch_ratio": 2,
         "inflate_blocks": [3]}
    )  # fmt: skip
    assert cfg.options == {
        "size": (720, 1280), "gcn_adaptive": None, "ch_ratio": 2.0, "inflate_blocks": (3,)
    }  # fmt: skip
    assert isinstance(cfg.options["ch_ratio"], float)


def test_constructors_check_their_own_choices() -> None:
    cfg = load_config("demo", ["model.stream=bones"])
    with pytest.raises(ConfigError, match=r"model \(posec3d\): stream must be one of"):
        build_model(cfg, resolve_layout(cfg.data.layout))


def test_resolved_spec_holds_every_argument_and_the_engine_values() -> None:
    cfg = load_config("demo", ["data.train_size=24"])
    spec = model_spec(cfg, embed_dim=7)
    assert spec["arch"] == "posec3d"
    assert set(spec["options"]) == set(family_parameters("posec3d")) - {"layout"}
    assert spec["options"]["size"] == 24 and spec["options"]["embed_dim"] == 7
    assert spec["options"]["stage_blocks"] == [1, 1, 1]  # plain lists for the checkpoint
    json.dumps(spec)
    model = build_from_spec(spec, resolve_layout("imigue41"))
    assert model.size == 24 and model.cls_head.embed is not None
    with pytest.raises(ConfigError, match=r"model\.embed_dim = 5 but the label-embedding table"):
        model_spec(load_config("demo", ["model.embed_dim=5"]), embed_dim=7)


def test_two_stream_family_builds_and_refuses_the_semantic_loss() -> None:
    with pytest.raises(ConfigError, match=r"unknown model option 'model\.stream'"):
        load_config("demo", ["model.arch=posec3d_two_stream"])
    cfg = config_from_dict(
        {"model": {"arch": "posec3d_two_stream", "num_classes": 4, "clip_len": 4,
                   "base_channels": 4, "stage_blocks": [1, 1, 1], "weights": [0.4, 0.6]},
         "data": {"train_size": 16}}
    )  # fmt: skip
    model = build_model(cfg, resolve_layout("imigue22"))
    assert isinstance(model, TwoStream) and model.weights == (0.4, 0.6)
    assert model.joint_model.stream == "joint" and model.limb_model.stream == "limb"
    batch = {"keypoint": torch.rand(2, 1, 6, 22, 2) * 16}
    assert model.eval()(batch).logits.shape == (2, 4)
    with pytest.raises(ConfigError, match="has no embedding branch for the semantic loss"):
        build_model(cfg, resolve_layout("imigue22"), embed_dim=8)


def test_absurd_sizes_are_refused_naming_the_size_and_the_limit() -> None:
    cfg = load_config("demo", ["model.clip_len=100000"])
    limit = r"above the limit of 134,217,728 \(512 MiB\)"
    with pytest.raises(
        ConfigError, match=r"clip_len 100000 .* " + limit + r".*\(set by model\.clip_len\)$"
    ):
        build_model(cfg, resolve_layout("imigue41"))
    cfg = load_config("demo", ["model.arch=stgcn", "model.clip_len=100000"])
    with pytest.raises(ConfigError, match=r"clip_len 100000 .* GiB as float32\) is above the"):
        build_model(cfg, resolve_layout("imigue41"))
    cfg = load_config("demo", ["model.base_channels=4096", "model.stage_blocks=[4, 6, 3]"])
    with pytest.raises(ConfigError, match=r"would have [\d,]+ weights .* above the limit"):
        build_model(cfg, resolve_layout("imigue41"))


def test_a_new_constructor_argument_needs_no_config_change() -> None:
    """``head_init_std`` (added to PoseC3D alone, see docs/architecture.md), ``eps`` and the
    strides were never config keys: ``--set model.<arg>=...`` reaches the module."""
    sets = ["model.eps=0.25", "model.temporal_strides=[1, 2, 2]", "model.inflate=[1, 1, 1]"]
    cfg = load_config("demo", [*sets, "model.head_init_std=0.5", "model.num_classes=64"])
    torch.manual_seed(0)
    model = build_model(cfg, resolve_layout(cfg.data.layout))
    assert isinstance(model, PoseC3D) and model.eps == 0.25
    assert 0.45 < float(model.cls_head.fc_cls.weight.detach().std()) < 0.55  # default 0.01
    with pytest.raises(ConfigError, match=r"model\.head_init_std expects float, got 'wide'"):
        load_config("demo", ["model.head_init_std=wide"])
    layers = [model.backbone.layer1, model.backbone.layer2, model.backbone.layer3]
    assert [layer[0].downsample.conv.stride[0] for layer in layers] == [1, 2, 2]
