"""`pymg fuse` and load_scores on hostile score files: labels that disagree, a zip bomb, a text
file, object arrays, a header that claims more than the member holds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pymg.cli import main
from pymg.engine.evaluate import ScoreSet, fuse_score_files, load_scores, save_scores

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from hostile_files import npy_header, npz_bomb, write_zip  # noqa: E402


def _scores(path: Path, labels: list[int], ids: list[str] | None = None) -> Path:
    n = len(labels)
    rng = np.random.default_rng(n)
    scores = rng.random((n, 3), dtype=np.float32)
    ids = ids or [f"c{i}" for i in range(n)]
    save_scores(ScoreSet(scores, np.asarray(labels), ids, ["a", "b", "c"]), path)
    return path


def test_labels_that_disagree_are_refused_naming_the_clip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _scores(tmp_path / "a.npz", [0, 1, 2, 1])
    b = _scores(tmp_path / "b.npz", [1, 2, 2, 0], ids=["c1", "c2", "c3", "c0"])  # c3 differs
    with pytest.raises(ValueError, match=rf"{b} labels clip 'c3' 2 but {a} labels it 1"):
        fuse_score_files([a, b])
    c = _scores(tmp_path / "c.npz", [0, 1, 2, 2])
    with pytest.raises(ValueError, match=r"labels clip 'c3' 2 but .* labels it 1 \(1 clip\(s\)"):
        fuse_score_files([a, c])
    assert main(["fuse", str(a), str(c), "--out", str(tmp_path / "f")]) == 2
    assert "labels clip 'c3' 2" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()
    same = _scores(tmp_path / "same.npz", [1, 2, 1, 0], ids=["c1", "c2", "c3", "c0"])
    fused = fuse_score_files([a, same])  # other order, same labels: fine
    assert fused.labels.tolist() == [0, 1, 2, 1]


def test_zip_bomb_score_file_fails_fast_naming_file_size_and_limit(tmp_path: Path) -> None:
    bomb = npz_bomb(tmp_path / "bomb.npz", gib=3)
    assert bomb.stat().st_size < 4 << 20
    with pytest.raises(ValueError) as info:
        load_scores(bomb)  # from the zip directory: nothing is inflated
    text = str(info.value)
    assert text.startswith(f"{bomb}: the score file's members hold 32212")
    assert "(3 GiB), over the limit of 1073741824 bytes" in text
    with pytest.raises(ValueError, match=r"over the limit of 1000 bytes"):
        load_scores(_scores(tmp_path / "ok.npz", list(range(3)) * 30), max_bytes=1000)


def test_text_file_is_not_a_score_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "scores.txt"
    text.write_text("clip,score\na,0.5\n")
    with pytest.raises(ValueError, match=r"scores.txt is not a pymg score file: expected a \.npz"):
        load_scores(text)
    ok = _scores(tmp_path / "ok.npz", [0, 1])
    assert main(["fuse", str(ok), str(text)]) == 2
    err = capsys.readouterr().err
    assert "is not a pymg score file" in err and "pickled" not in err


def test_object_arrays_and_lying_headers_are_refused(tmp_path: Path) -> None:
    ok = tmp_path / "ok.npz"
    np.savez(ok, scores=np.zeros((2, 3), np.float32), labels=np.zeros(2, np.int64),
             clip_ids=np.asarray(["a", "b"]), class_names=np.asarray(["x", "y", "z"]))  # fmt: skip
    assert load_scores(ok).scores.shape == (2, 3)
    objects = tmp_path / "objects.npz"
    np.savez(objects, scores=np.zeros((2, 3), np.float32), labels=np.zeros(2, np.int64),
             clip_ids=np.asarray(["a", None], dtype=object),
             class_names=np.asarray(["x", "y", "z"]))  # fmt: skip
    with pytest.raises(ValueError, match=r"objects.npz is not a pymg score file: .*clip_ids"):
        load_scores(objects)
    import zlib

    head = npy_header((10**9, 3))  # claims 12 GB, holds a few bytes
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    liar = [("scores.npy", comp.compress(head) + comp.flush(), zlib.crc32(head), len(head))]
    for name in ("labels", "clip_ids", "class_names"):
        liar.append((f"{name}.npy", b"\x03\x00", 0, 0))
    write_zip(tmp_path / "liar.npz", liar)
    with pytest.raises(ValueError, match=r"liar.npz is not a pymg score file: .*truncated"):
        load_scores(tmp_path / "liar.npz")
