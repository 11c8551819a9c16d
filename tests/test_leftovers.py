"""No leftovers and clear errors when a write fails: a full disk while saving a checkpoint or a
dataset, and `pymg prepare --out` naming an existing directory."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from release_trees import make_imigue_release

from pymg.cli import main
from pymg.data import save_native
from pymg.data.formats.output import write_atomically
from pymg.engine.checkpointing import load_checkpoint, save_checkpoint


class FullDisk(io.RawIOBase):
    """A writable file that accepts ``room`` bytes, then fails like a full disk."""

    def __init__(self, inner: Any, room: int) -> None:
        self.inner, self.room = inner, room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return int(self.inner.write(data))

    def fileno(self) -> int:
        return int(self.inner.fileno())

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()
        super().close()


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "latest.pt"
    save_checkpoint({"model": {"w": torch.arange(4.0)}, "epoch": 1}, path)
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode), 4096))
    big = {"model": {"w": torch.zeros(100_000)}, "epoch": 2}
    with pytest.raises(OSError, match="No space left on device") as info:
        save_checkpoint(big, path)
    monkeypatch.undo()
    text = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert f"while writing checkpoint {path} (in {tmp_path}; latest.pt is unchanged)" in text
    assert "unexpected pos" not in text and "inline_container" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]  # no temporary left
    ck = load_checkpoint(path)
    assert ck["epoch"] == 1 and torch.equal(ck["model"]["w"], torch.arange(4.0))
    with pytest.raises(OSError, match=r"was not written"):
        monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode), 10))
        save_checkpoint(big, tmp_path / "best.pt")


def test_full_disk_while_writing_a_dataset_leaves_no_tmp(tmp_path: Path) -> None:
    target = tmp_path / "d.npz"
    target.write_bytes(b"previous")

    def fill(handle: Any) -> None:
        handle.write(b"x" * 10)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match=rf"No space left on device while writing {target}"):
        write_atomically(target, fill)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
    assert target.read_bytes() == b"previous"


def _clip() -> dict[str, Any]:
    return {
        "keypoint": np.zeros((1, 3, 17, 2), np.float32),
        "keypoint_score": np.ones((1, 3, 17), np.float32),
        "label": 0,
        "frame_dir": "a",
        "img_shape": (10, 10),
    }


def test_save_native_refuses_a_directory_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "out.npz"
    out.mkdir()
    with pytest.raises(IsADirectoryError, match="names an existing directory") as info:
        save_native(out, [_clip()], layout="coco17")
    assert info.value.filename == str(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
    assert list(out.iterdir()) == []


def test_prepare_out_naming_a_directory_refuses_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    make_imigue_release(tmp_path / "iMiGUE")
    (tmp_path / "out").mkdir()
    assert main(["prepare", "iMiGUE", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pymg prepare: error: the output names an existing directory")
    assert "(give a file path such as out/data.npz): out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iMiGUE", "out"]  # no out.npz.tmp
    ok = ["prepare", "iMiGUE", "--out", "out/data.npz", "--layout", "imigue22"]
    assert main(ok) == 0  # the suggestion works
