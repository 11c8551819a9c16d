"""Config dataclasses, TOML loading, --set overrides and their error messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pymg.engine.config import (
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    config_to_toml,
    list_configs,
    load_config,
)

SHIPPED = {
    "demo",
    "imigue22_posec3d_joint",
    "imigue22_posec3d_limb",
    "imigue22_stgcn_joint",
    "imigue41_posec3d_joint",
    "imigue41_posec3d_limb",
}


def test_shipped_configs_are_listed_and_load() -> None:
    assert SHIPPED <= set(list_configs())
    for name in list_configs():
        cfg = load_config(name)
        assert cfg.name == name
        # every shipped file round-trips through TOML text exactly
        assert config_from_dict(config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "name",
    [
        "imigue41_posec3d_joint",
        "imigue41_posec3d_limb",
        "imigue22_posec3d_joint",
        "imigue22_posec3d_limb",
        "imigue22_stgcn_joint",
    ],
)
def test_imigue_configs_follow_the_paper_schedule(name: str) -> None:
    cfg = load_config(name)
    assert cfg.optim.lr == pytest.approx(0.1 / 3, rel=1e-12)
    assert cfg.optim.momentum == 0.9
    assert cfg.optim.weight_decay == pytest.approx(3e-4)
    assert cfg.optim.batch_size == 24 and cfg.optim.lr_batch_size == 24
    assert cfg.optim.grad_clip == 40.0
    assert cfg.schedule.policy == "cosine" and cfg.schedule.epochs == 100
    assert cfg.data.repeat == 1 and cfg.loss.embedding_scale == "recipe"
    assert cfg.loss.semantic is True and cfg.loss.weight == 20.0
    assert cfg.model.num_classes == 32
    assert cfg.test.num_clips == 10 and cfg.test.flip is True
    assert cfg.data.layout == name.split("_")[0]
    if "posec3d" in name:
        assert cfg.model.arch == "posec3d"
        assert cfg.model.options["stream"] == name.rsplit("_", 1)[1]
        assert cfg.model.clip_len == 48
        assert (cfg.data.train_size, cfg.data.test_size) == (56, 64)
        assert cfg.model.options["stage_blocks"] == (4, 6, 3)
    else:
        assert cfg.model.arch == "stgcn"


def test_load_by_path_and_by_name_with_suffix(tmp_path: Path) -> None:
    cfg = load_config("demo")
    path = tmp_path / "mine.toml"
    path.write_text(config_to_toml(cfg))
    assert load_config(path) == cfg
    assert load_config(str(path)) == cfg
    assert load_config("demo.toml") == cfg


def test_missing_keys_keep_defaults(tmp_path: Path) -> None:
    path = tmp_path / "small.toml"
    path.write_text('name = "small"\n[optim]\nlr = 0.5\n')
    cfg = load_config(path)
    assert cfg.optim.lr == 0.5
    defaults = Config()
    assert cfg.model == defaults.model
    assert cfg.optim.momentum == defaults.optim.momentum


def test_overrides_are_typed() -> None:
    cfg = load_config(
        "demo",
        [
            "optim.lr=0.05",
            "optim.batch_size=3",
            "model.stage_blocks=[2, 2, 2]",
            "test.flip=false",
            "runtime.device=cpu",
            'data.source="some dir/file.pkl"',
            "data.layout=imigue22",
            "schedule.warmup_epochs=1",
            "name=renamed",
        ],
    )
    assert cfg.optim.lr == 0.05 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.batch_size == 3 and isinstance(cfg.optim.batch_size, int)
    assert cfg.model.options["stage_blocks"] == (2, 2, 2)
    assert cfg.test.flip is False
    assert cfg.runtime.device == "cpu"
    assert cfg.data.source == "some dir/file.pkl"
    assert cfg.data.layout == "imigue22"
    assert cfg.schedule.warmup_epochs == 1.0 and isinstance(cfg.schedule.warmup_epochs, float)
    assert cfg.name == "renamed"


def test_override_of_a_string_field_with_a_number_stays_text() -> None:
    cfg = load_config("demo", ["data.source=123", "runtime.work_dir=2024"])
    assert cfg.data.source == "123" and cfg.runtime.work_dir == "2024"


def test_overrides_do_not_mutate_the_input() -> None:
    cfg = load_config("demo")
    before = dataclasses.replace(cfg)
    new = apply_overrides(cfg, ["optim.lr=0.9"])
    assert cfg == before and new.optim.lr == 0.9 and cfg.optim.lr != 0.9


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("optim.lrr=0.1", r"unknown config key 'optim\.lrr'; did you mean 'optim\.lr'\?"),
        ("optm.lr=0.1", r"unknown config key 'optm\.lr'; did you mean 'optim\.lr'\?"),
        ("model.stage_block=[1]", r"did you mean 'model\.stage_blocks'"),
        ("optim.batch_size=2.5", r"optim\.batch_size expects an integer, got 2\.5"),
        ("optim.batch_size=true", r"optim\.batch_size expects an integer, got True"),
        ("optim.lr=fast", r"optim\.lr expects a number, got 'fast'"),
        ("test.flip=1", r"test\.flip expects true or false, got 1"),
        ("model.stage_blocks=3", r"model\.stage_blocks expects Sequence\[int\], got 3"),
        ("model.stage_blocks=[1, 2.5]", r"model\.stage_blocks\[1\] expects int, got 2\.5"),
        ("model.arch=resnet", r"model\.arch must be one of posec3d, stgcn, stgcnpp, posec3d_two"),
        ("runtime.amp=fp8", r"runtime\.amp must be one of auto, bf16, fp16, off"),
        ("model.clip_len=12.5", r"model\.clip_len expects int, got 12\.5"),
        ("model.size=32", r"model\.size is not set in \[model\]: the engine takes it from data"),
        ("optim.grad_clip=nan", r"optim\.grad_clip must be a finite number, got nan"),
        ("runtime.threads=-4", r"runtime\.threads must be in \[0, 4096\], got -4"),
        ("schedule.epochs=-3", r"schedule\.epochs must be in \[1, 1000000\], got -3"),
        ("runtime.seed=1180591620717411303424", r"runtime\.seed must be in \[0, 2\*\*62\]"),
        ("optim.lr", r"override 'optim\.lr' must look like section\.key=value"),
        ("optim=0.1", r"unknown config key 'optim'"),
    ],
)
def test_bad_overrides_name_the_key(override: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_config("demo", [override])


def test_overrides_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="list of 'section.key=value' strings"):
        apply_overrides(Config(), "optim.lr=0.1")


def test_unknown_keys_in_a_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'optim\.learning_rate'"):
        load_config(path)
    path.write_text("[optimizer]\nlr = 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config section 'optimizer'; did you mean"):
        load_config(path)
    path.write_text("optim = 3\n")
    with pytest.raises(ConfigError, match=r"\[optim\] must be a table"):
        load_config(path)


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such file or shipped name\) 'nope'; known: demo"):
        load_config("nope")
    with pytest.raises(ConfigError, match="did you mean 'demo'"):
        load_config("demoo")
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[optim\nlr = 1\n")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        load_config(broken)
    with pytest.raises(TypeError, match="name_or_path must be a str or Path"):
        load_config(3)  # type: ignore[arg-type]


def test_toml_text_is_complete() -> None:
    text = config_to_toml(Config())
    for section in ("data", "model", "optim", "schedule", "loss", "test", "runtime"):
        assert f"[{section}]" in text
    values = config_to_dict(Config())
    assert values["model"] == {"arch": "posec3d", "pretrained": ""}
    assert values["optim"]["lr"] == 0.1 / 3


_SOURCED = {
    "data": ("repeat",),
    "model": ("clip_len",),
    "optim": ("lr", "lr_batch_size", "momentum", "weight_decay", "batch_size"),
    "schedule": ("epochs", "policy"),
    "loss": ("weight", "embedding_scale"),
    "test": ("num_clips",),
}


@pytest.mark.parametrize("name", sorted(SHIPPED - {"demo"}))
def test_imigue_configs_name_the_source_of_their_schedule(name: str) -> None:
    import importlib.resources

    text = (importlib.resources.files("pymg.configs") / f"{name}.toml").read_text("utf-8")
    section = ""
    sourced: set[str] = set()
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[] ")
        key, _, rest = line.partition("=")
        if section in _SOURCED and key.strip() in _SOURCED[section] and "#" in rest:
            comment = rest.split("#", 1)[1]
            assert any(src in comment for src in ("the paper", "MiGA'23", "PYSKL", "pymg")), line
            sourced.add(f"{section}.{key.strip()}")
    wanted = {f"{s}.{k}" for s, keys in _SOURCED.items() for k in keys}
    assert sourced == wanted, wanted - sourced
    # PYSKL's 24 epochs x 10 repeats can be written, and the comments say how
    assert "data.repeat=10" in text or "stgcn" in name
    cfg = load_config(name, ["schedule.epochs=24", "data.repeat=10"])
    assert cfg.data.repeat == 10
