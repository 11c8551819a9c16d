"""Checkpoints prove their integrity: digest, finite weights, truncation, what can be resumed."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from pymg.cli import main
from pymg.engine import Recognizer
from pymg.engine.builders import build_model
from pymg.engine.checkpoint_eval import checkpoint_config
from pymg.engine.checkpointing import load_checkpoint, save_checkpoint, tensor_digest
from pymg.engine.config import ConfigError, load_config
from pymg.engine.trainer import train
from pymg.topology import resolve_layout

DATA = Path(__file__).parent / "data"
TINY = [
    "data.synthetic_classes=3", "data.synthetic_clips=24", "data.train_size=16",
    "data.test_size=16", "data.num_workers=0", "model.num_classes=3", "model.clip_len=4",
    "model.base_channels=4", "model.stage_blocks=[1, 1, 1]", "optim.batch_size=4",
    "schedule.epochs=1", "test.val_interval=0", "test.num_clips=1", "runtime.progress=false",
]  # fmt: skip


def _payload(state: dict) -> dict:
    cfg = load_config("demo", TINY)
    from pymg.engine.builders import class_names_for, skeleton_to_dict
    from pymg.engine.config import config_to_dict

    return {
        "config": config_to_dict(cfg),
        "layout": skeleton_to_dict(resolve_layout(cfg.data.layout)),
        "class_names": class_names_for(3),
        "model": state,
    }


@pytest.fixture
def tiny_state() -> dict:
    cfg = load_config("demo", TINY)
    torch.manual_seed(0)
    return build_model(cfg, resolve_layout(cfg.data.layout)).state_dict()


def _data_offset(path: Path, member_suffix: str) -> int:
    """Byte offset of the first byte of a zip member's data (the tensors are stored raw)."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(member_suffix))
    with path.open("rb") as handle:
        handle.seek(info.header_offset + 26)
        name_len, extra_len = (int.from_bytes(handle.read(2), "little") for _ in range(2))
    return info.header_offset + 30 + name_len + extra_len


def test_digest_is_stored_and_changes_with_any_bit(tiny_state: dict, tmp_path: Path) -> None:
    path = save_checkpoint(_payload(tiny_state), tmp_path / "ok.pt")
    data = load_checkpoint(path)
    assert data["sha256"] == tensor_digest(data) and len(data["sha256"]) == 64
    key = next(iter(tiny_state))
    flipped = {**tiny_state, key: tiny_state[key].clone()}
    flipped[key].view(-1).view(torch.uint8)[0] ^= 1
    assert tensor_digest({"model": flipped}) != tensor_digest({"model": tiny_state})


def test_flipped_bits_are_refused_naming_the_file(tiny_state: dict, tmp_path: Path) -> None:
    path = save_checkpoint(_payload(tiny_state), tmp_path / "model.pt")
    raw = bytearray(path.read_bytes())
    offset = _data_offset(path, "data/0")
    raw[offset + 1] ^= 0x10
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"checkpoint .*flipped\.pt is corrupted: its tensors do"):
        load_checkpoint(bad)


def test_non_finite_weights_are_refused_naming_file_and_tensor(
    tiny_state: dict, tmp_path: Path
) -> None:
    key = "cls_head.fc_cls.weight"
    state = {**tiny_state, key: tiny_state[key].clone()}
    state[key][0, 0] = float("nan")
    state[key][1, 0] = float("inf")
    path = save_checkpoint(_payload(state), tmp_path / "nan.pt")
    pattern = r"nan\.pt holds non-finite weights: tensor 'cls_head\.fc_cls\.weight' has 2 NaN/inf"
    with pytest.raises(ValueError, match=pattern):
        Recognizer.from_checkpoint(path)


def test_truncated_checkpoint_names_the_file(tiny_state: dict, tmp_path: Path) -> None:
    path = save_checkpoint(_payload(tiny_state), tmp_path / "model.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"checkpoint .*cut\.pt: the file is truncated"):
        load_checkpoint(cut)


def test_old_checkpoints_without_a_digest_still_load() -> None:
    assert "sha256" not in torch.load(DATA / "legacy_stgcn.pt", weights_only=True)
    assert load_checkpoint(DATA / "legacy_stgcn.pt")["epoch"] == 1


def test_class_names_of_the_wrong_length_are_refused(tiny_state: dict, tmp_path: Path) -> None:
    payload = _payload(tiny_state)
    payload["class_names"] = ["a", "b"]
    path = save_checkpoint(payload, tmp_path / "names.pt")
    with pytest.raises(ValueError, match=r"names\.pt: class_names holds 2 names but the model"):
        Recognizer.from_checkpoint(path)


def test_resuming_an_imported_checkpoint_says_it_has_no_optimizer(tmp_path: Path) -> None:
    ck = load_checkpoint(DATA / "legacy_posec3d.pt")
    imported = {k: v for k, v in ck.items() if k not in ("format", "version")}
    imported["imported_from"] = {"config": "x.py", "checkpoint": "x.pth"}
    path = save_checkpoint(imported, tmp_path / "run" / "imported.pt")
    cfg = load_config(
        "demo",
        [*TINY, "data.layout=imigue22", "model.stream=limb", "model.num_classes=5",
         "model.clip_len=6", "model.embed_dim=3", "data.synthetic_classes=5",
         f"runtime.work_dir={json.dumps(str(tmp_path / 'run'))}"],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"imported\.pt: it holds no optimizer state \(written by"):
        train(cfg, resume=path)


def test_pymg_test_refuses_model_options(tmp_path: Path) -> None:
    shutil.copy(DATA / "legacy_posec3d.pt", tmp_path / "m.pt")
    with pytest.raises(ConfigError, match=r"--set model\.base_channels=16: the model options come"):
        checkpoint_config(tmp_path / "m.pt", overrides=["model.base_channels=16"])
    assert main(["test", str(tmp_path / "m.pt"), "--set", "model.base_channels=16"]) == 2
