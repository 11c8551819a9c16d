"""The semantic loss at the recipe's strength: table scale, embedding-layer init, magnitude."""

from __future__ import annotations

import pytest
import torch

from pymg.labels import RECIPE_MEAN_SQUARE, load_label_embeddings, scale_label_embeddings
from pymg.losses import SemanticEmbeddingLoss
from pymg.models import STGCN, PoseC3D
from pymg.models.heads import I3DHead
from pymg.models.stgcn import GCNHead

# the recipe at initialisation: 20 * MSE(0, e_y) with GloVe-300 rows of mean square 0.077
RECIPE_TERM = 20.0 * RECIPE_MEAN_SQUARE


def _batch(n: int = 4, t: int = 20, v: int = 41, size: int = 32) -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "keypoint": torch.rand(n, 1, t, v, 2, generator=g) * (size - 1),
        "keypoint_score": torch.rand(n, 1, t, v, generator=g) * 0.5 + 0.5,
        "length": torch.full((n,), t, dtype=torch.int64),
        "label": torch.tensor([0, 7, 30, 31])[:n],
    }


@pytest.mark.parametrize("arch", ["posec3d", "stgcn"])
def test_semantic_term_at_init_has_the_recipes_magnitude(arch: str) -> None:
    torch.manual_seed(0)
    if arch == "posec3d":
        model: torch.nn.Module = PoseC3D(
            "imigue41", num_classes=32, embed_dim=384, base_channels=8,
            stage_blocks=(1, 1, 1), clip_len=16, size=32,
        )  # fmt: skip
    else:
        model = STGCN("imigue41", num_classes=32, embed_dim=384, clip_len=16, size=(32, 32))
    batch = _batch()
    logits, embedding = model(batch)
    recipe = SemanticEmbeddingLoss("imigue", weight=20.0)
    recipe(logits, batch["label"], embedding)
    term = float(recipe.last["weighted_semantic"])
    assert RECIPE_TERM / 1.5 <= term <= RECIPE_TERM * 1.5, term
    # the unscaled, L2-normalised MiniLM table (mean square 1 / 384) would add far less
    plain = SemanticEmbeddingLoss("imigue", weight=20.0, scale="none")
    plain(logits, batch["label"], embedding)
    assert float(plain.last["weighted_semantic"]) < RECIPE_TERM / 2


@pytest.mark.parametrize(
    ("dim", "normalise", "spread"), [(300, False, 0.55), (768, True, 1.0), (16, False, 3.0)]
)
def test_any_encoders_table_gets_the_recipes_magnitude(
    dim: int, normalise: bool, spread: float
) -> None:
    g = torch.Generator().manual_seed(dim)
    table = torch.randn(32, dim, generator=g) * spread
    if normalise:
        table = torch.nn.functional.normalize(table, dim=1)
    loss = SemanticEmbeddingLoss(table)
    labels = torch.arange(32)
    loss(torch.zeros(32, 32), labels, torch.zeros(32, dim))
    assert float(loss.last["semantic"]) == pytest.approx(RECIPE_MEAN_SQUARE, rel=1e-5)
    # one factor for the whole table: the directions (cosines) are kept
    scaled = loss.label_embeddings
    assert scaled is not None
    torch.testing.assert_close(
        torch.nn.functional.normalize(scaled, dim=1),
        torch.nn.functional.normalize(table, dim=1),
    )


def test_scale_label_embeddings_options_and_errors() -> None:
    table = load_label_embeddings("imigue")
    torch.testing.assert_close(scale_label_embeddings(table, "none"), table)
    torch.testing.assert_close(scale_label_embeddings(table, 2.5), 2.5 * table)
    torch.testing.assert_close(scale_label_embeddings(table, "2.5"), 2.5 * table)
    recipe = scale_label_embeddings(table)
    assert float(recipe.pow(2).mean()) == pytest.approx(RECIPE_MEAN_SQUARE, rel=1e-5)
    assert float(table.pow(2).mean()) == pytest.approx(1 / 384, rel=1e-4)  # input unchanged
    with pytest.raises(ValueError, match="'recipe', 'none' or a positive number"):
        scale_label_embeddings(table, "glove")
    with pytest.raises(ValueError, match="finite factor > 0"):
        scale_label_embeddings(table, -1.0)
    with pytest.raises(TypeError, match="scale"):
        scale_label_embeddings(table, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="all zeros"):
        scale_label_embeddings(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="'recipe', 'none'"):
        SemanticEmbeddingLoss(table, scale="big")


@pytest.mark.parametrize("head", ["i3d", "gcn"])
def test_embedding_layer_has_the_recipes_init(head: str) -> None:
    torch.manual_seed(3)
    module = I3DHead(512, 32, embed_dim=384) if head == "i3d" else GCNHead(256, 32, embed_dim=384)
    assert module.embed is not None
    embed = module.embed.requires_grad_(False)
    assert float(embed.weight.std()) == pytest.approx(0.01, rel=0.05)
    assert abs(float(embed.weight.mean())) < 1e-3
    assert bool((embed.bias == 0).all())
