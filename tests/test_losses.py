"""Tests for pymg.losses.SemanticEmbeddingLoss against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pymg.labels import RECIPE_MEAN_SQUARE
from pymg.losses import SemanticEmbeddingLoss


def _inputs(n: int = 6, k: int = 5, d: int = 4, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g, dtype=dtype) * 3
    labels = torch.randint(0, k, (n,), generator=g)
    embedding = torch.randn(n, d, generator=g, dtype=dtype)
    table = torch.randn(k, d, generator=g, dtype=torch.float32)
    return logits, labels, embedding, table


def _hand_ce(logits: np.ndarray, labels: np.ndarray, smoothing: float = 0.0) -> float:
    total = 0.0
    for row, y in zip(logits, labels, strict=True):
        m = row.max()
        logp = row - (m + math.log(sum(math.exp(v - m) for v in row)))
        total += -(1 - smoothing) * logp[y] - smoothing * logp.mean()
    return total / len(labels)


def _hand_mse(embedding: np.ndarray, targets: np.ndarray) -> float:
    n, d = embedding.shape
    return sum((embedding[i, j] - targets[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)


def _hand_cosine(embedding: np.ndarray, targets: np.ndarray) -> float:
    out = 0.0
    for e, t in zip(embedding, targets, strict=True):
        out += 1 - float(np.dot(e, t)) / (np.linalg.norm(e) * np.linalg.norm(t))
    return out / len(embedding)


def test_mse_matches_hand_computation():
    logits, labels, embedding, table = _inputs()
    loss_fn = SemanticEmbeddingLoss(table, weight=20.0, scale="none")
    loss = loss_fn(logits, labels, embedding)
    targets = table.double().numpy()[labels.numpy()]
    ce = _hand_ce(logits.numpy(), labels.numpy())
    mse = _hand_mse(embedding.numpy(), targets)
    assert loss.ndim == 0 and loss.dtype == torch.float64
    assert float(loss) == pytest.approx(ce + 20.0 * mse, rel=1e-10)
    assert float(loss_fn.last["ce"]) == pytest.approx(ce, rel=1e-10)
    assert float(loss_fn.last["semantic"]) == pytest.approx(mse, rel=1e-10)
    assert float(loss_fn.last["weighted_semantic"]) == pytest.approx(20 * mse, rel=1e-10)
    assert float(loss_fn.last["loss"]) == pytest.approx(float(loss), rel=1e-12)
    assert all(not v.requires_grad for v in loss_fn.last.values())


def test_cosine_matches_hand_computation():
    logits, labels, embedding, table = _inputs(seed=1)
    loss_fn = SemanticEmbeddingLoss(table, weight=3.5, distance="cosine")
    loss = loss_fn(logits, labels, embedding)
    targets = table.double().numpy()[labels.numpy()]
    expected = _hand_ce(logits.numpy(), labels.numpy()) + 3.5 * _hand_cosine(
        embedding.numpy(), targets
    )
    assert float(loss) == pytest.approx(expected, rel=1e-7)
    # cosine is invariant to the embedding scale, mse is not
    scaled = loss_fn(logits, labels, embedding * 7.0)
    assert float(scaled) == pytest.approx(float(loss), rel=1e-7)


def test_label_smoothing_matches_hand_computation():
    logits, labels, embedding, table = _inputs(seed=2)
    loss_fn = SemanticEmbeddingLoss(table, weight=0.0, label_smoothing=0.1)
    expected = _hand_ce(logits.numpy(), labels.numpy(), smoothing=0.1)
    assert float(loss_fn(logits, labels, embedding)) == pytest.approx(expected, rel=1e-10)


def test_plain_cross_entropy_without_table_or_embedding():
    logits, labels, embedding, table = _inputs(seed=3)
    ce = _hand_ce(logits.numpy(), labels.numpy())
    no_table = SemanticEmbeddingLoss(None)
    assert float(no_table(logits, labels, embedding)) == pytest.approx(ce, rel=1e-10)
    assert set(no_table.last) == {"ce", "loss"}
    assert no_table.num_classes is None and no_table.embed_dim is None
    with_table = SemanticEmbeddingLoss(table)
    assert float(with_table(logits, labels)) == pytest.approx(ce, rel=1e-10)
    assert "semantic" not in with_table.last


def test_gradient_of_semantic_term():
    _, labels, embedding, table = _inputs(n=3, k=4, d=5, seed=4)
    logits = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    embedding.requires_grad_(True)
    loss_fn = SemanticEmbeddingLoss(table, weight=2.0, scale="none")
    loss_fn(logits, labels, embedding).backward()
    targets = table.double()[labels]
    # d/de [w * sum((e - t)^2) / (N * D)] = 2 w (e - t) / (N * D)
    expected = 2 * 2.0 * (embedding.detach() - targets) / (3 * 5)
    torch.testing.assert_close(embedding.grad, expected)
    # d CE / d logits = (softmax - onehot) / N; softmax of zeros is uniform
    onehot = torch.nn.functional.one_hot(labels, 4).double()
    torch.testing.assert_close(logits.grad, (0.25 - onehot) / 3)


def test_table_is_a_buffer_that_follows_to():
    _, _, _, table = _inputs()
    loss_fn = SemanticEmbeddingLoss(table, scale="none")
    assert "label_embeddings" in dict(loss_fn.named_buffers())
    assert "label_embeddings" in loss_fn.state_dict()
    assert loss_fn.label_embeddings is not None
    torch.testing.assert_close(loss_fn.label_embeddings, table)
    assert loss_fn.label_embeddings.data_ptr() != table.data_ptr()  # a copy
    moved = loss_fn.to(torch.float64)
    assert moved.label_embeddings is not None and moved.label_embeddings.dtype == torch.float64
    meta = SemanticEmbeddingLoss(table).to("meta")
    assert meta.label_embeddings is not None and meta.label_embeddings.device.type == "meta"
    assert list(loss_fn.parameters()) == []


@pytest.mark.cuda
def test_cuda_device():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    logits, labels, embedding, table = _inputs()
    loss_fn = SemanticEmbeddingLoss(table).cuda()
    cpu = SemanticEmbeddingLoss(table)(logits, labels, embedding)
    gpu = loss_fn(logits.cuda(), labels.cuda(), embedding.cuda())
    assert gpu.device.type == "cuda"
    assert float(gpu) == pytest.approx(float(cpu), rel=1e-6)


def test_float32_and_shipped_table():
    loss_fn = SemanticEmbeddingLoss("imigue", scale="none")
    assert loss_fn.num_classes == 32 and loss_fn.embed_dim == 384
    logits = torch.randn(4, 32)
    labels = torch.tensor([0, 10, 31, 7], dtype=torch.int32)
    zero = torch.zeros(4, 384)
    loss = loss_fn(logits, labels, zero)
    # unit-norm rows: mse(0, e_y) = |e_y|^2 / D = 1 / 384
    assert float(loss_fn.last["semantic"]) == pytest.approx(1 / 384, rel=1e-5)
    # the default scales the table to the recipe's mean square per element (0.077)
    recipe = SemanticEmbeddingLoss("imigue")
    recipe(logits, labels, zero)
    assert float(recipe.last["semantic"]) == pytest.approx(RECIPE_MEAN_SQUARE, rel=1e-4)
    assert recipe.table_scale == pytest.approx((RECIPE_MEAN_SQUARE * 384) ** 0.5, rel=1e-4)
    assert loss.dtype == torch.float32
    assert "table=(32, 384)" in repr(loss_fn)


def test_error_messages():
    logits, labels, embedding, table = _inputs(n=6, k=5, d=4)
    loss_fn = SemanticEmbeddingLoss(table)
    with pytest.raises(ValueError, match=r"embedding: expected shape \[N, D\] = \[6, 4\]"):
        loss_fn(logits, labels, embedding[:, :3])
    with pytest.raises(ValueError, match=r"embedding: expected shape \[N, D\] = \[6, 4\]"):
        loss_fn(logits, labels, embedding[:5])
    with pytest.raises(ValueError, match="embedding: expected a float Tensor"):
        loss_fn(logits, labels, embedding[0])
    with pytest.raises(ValueError, match=r"logits: expected K=5 classes"):
        loss_fn(logits[:, :4], labels.clamp(max=3), embedding)
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 5\), got min 0, max 5"):
        loss_fn(logits, torch.tensor([0, 1, 2, 3, 4, 5]), embedding)
    with pytest.raises(ValueError, match=r"labels: expected values in \[0, 5\), got min -1"):
        loss_fn(logits, torch.tensor([-1, 1, 2, 3, 4, 0]), embedding)
    with pytest.raises(TypeError, match="labels: expected integer class indices"):
        loss_fn(logits, labels.double(), embedding)
    with pytest.raises(ValueError, match=r"labels: expected an integer Tensor \[N\] with N=6"):
        loss_fn(logits, labels[:5], embedding)
    with pytest.raises(ValueError, match=r"logits: expected a float Tensor \[N, K\]"):
        loss_fn(logits[0], labels, embedding)
    with pytest.raises(ValueError, match="at least one sample"):
        loss_fn(logits[:0], labels[:0], embedding[:0])


def test_constructor_errors():
    table = torch.randn(3, 2)
    with pytest.raises(ValueError, match="distance: expected one of"):
        SemanticEmbeddingLoss(table, distance="l1")
    with pytest.raises(ValueError, match="weight: expected a finite value >= 0"):
        SemanticEmbeddingLoss(table, weight=-1.0)
    with pytest.raises(ValueError, match="weight: expected a finite value >= 0"):
        SemanticEmbeddingLoss(table, weight=float("nan"))
    with pytest.raises(TypeError, match="weight: expected a float"):
        SemanticEmbeddingLoss(table, weight="20")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"label_smoothing: expected a value in \[0, 1\)"):
        SemanticEmbeddingLoss(table, label_smoothing=1.0)
    with pytest.raises(ValueError, match="label_embeddings: contains NaN"):
        SemanticEmbeddingLoss(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="label_embeddings: expected a non-empty 2-D table"):
        SemanticEmbeddingLoss(torch.zeros(4))
    with pytest.raises(ValueError, match="neither a shipped table"):
        SemanticEmbeddingLoss("nope")


def test_device_labels_are_not_read_back() -> None:
    """On a device the label values are not checked (that would sync every step): meta tensors,
    which hold no values, go through."""
    loss = SemanticEmbeddingLoss(torch.randn(5, 4), weight=1.0)
    logits = torch.empty(3, 5, device="meta")
    labels = torch.empty(3, dtype=torch.int64, device="meta")
    out = loss(logits, labels, torch.empty(3, 4, device="meta"))
    assert out.device.type == "meta" and out.shape == ()
