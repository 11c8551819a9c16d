"""I3DHead, PoseC3D (keypoints -> heatmaps -> network), TwoStream fusion, a tiny overfit run."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

import pymg.ops as ops
from pymg.models.fusion import TwoStream, fuse_scores
from pymg.models.heads import I3DHead
from pymg.models.interface import ModelOutput, RecognizerModel
from pymg.models.posec3d import PoseC3D
from pymg.topology import resolve_layout

TINY = {"base_channels": 8, "stage_blocks": (1, 1, 1), "clip_len": 16, "size": 32}


@pytest.fixture(autouse=True)
def _quiet_ops() -> Iterator[None]:
    """Use the native kernels when built, else the reference without the fallback warning."""
    impl = "auto" if ops.native_available("cpu") else "reference"
    with ops.use_impl(impl):
        yield


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------- head
def test_head_logits_and_embedding_by_hand() -> None:
    torch.manual_seed(0)
    head = I3DHead(16, 5, dropout=0.9, embed_dim=3)
    x = torch.randn(4, 16, 2, 3, 3)
    pooled = x.mean(dim=(2, 3, 4))
    head.eval()
    out = head(x)
    assert isinstance(out, ModelOutput)
    logits, emb = out
    torch.testing.assert_close(logits, pooled @ head.fc_cls.weight.T + head.fc_cls.bias)
    assert head.embed is not None
    torch.testing.assert_close(emb, pooled @ head.embed.weight.T + head.embed.bias)
    head.train()  # dropout changes the logits but never the embedding (taken before dropout)
    logits_t, emb_t = head(x)
    torch.testing.assert_close(emb_t, emb)
    assert not torch.allclose(logits_t, logits)
    torch.testing.assert_close(head.eval()(pooled).logits, logits)  # a pooled [N, C] input
    assert I3DHead(16, 5)(x).embedding is None  # no branch: no embedding


def test_head_params_and_init() -> None:
    torch.manual_seed(0)
    assert n_params(I3DHead(512, 60)) == 30_780
    assert n_params(I3DHead(512, 32, embed_dim=384)) == 512 * 32 + 32 + 512 * 384 + 384
    big = I3DHead(512, 1000)
    assert big.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.03)
    assert torch.all(big.fc_cls.bias == 0)
    assert isinstance(I3DHead(8, 2, dropout=0.0).dropout, nn.Identity)


def test_head_errors() -> None:
    head = I3DHead(8, 3)
    with pytest.raises(ValueError, match="8 channels"):
        head(torch.randn(2, 7, 1, 1, 1))
    with pytest.raises(ValueError, match=r"\[N, C, T, H, W\] or \[N, C\]"):
        head(torch.randn(2, 8, 3))
    with pytest.raises(ValueError, match="dropout must be in"):
        I3DHead(8, 3, dropout=1.0)
    with pytest.raises(ValueError, match="embed_dim must be a positive int"):
        I3DHead(8, 3, embed_dim=0)


# ------------------------------------------------------------------------------ model arithmetic
@pytest.mark.parametrize(
    ("layout", "stream", "channels"),
    [
        ("coco17", "joint", 17),
        ("coco17", "limb", 17),
        ("imigue22", "joint", 22),
        ("imigue22", "limb", 21),
        ("imigue41", "joint", 41),
        ("imigue41", "limb", 45),
    ],
)
def test_full_size_param_counts(layout: str, stream: str, channels: int) -> None:
    model = PoseC3D(layout, stream=stream, num_classes=32)
    assert model.in_channels == channels
    assert n_params(model.backbone) == 1_994_080 + 1568 * (channels - 17)
    assert n_params(model.cls_head) == 512 * 32 + 32
    skeleton = resolve_layout(layout)
    expected_perm = skeleton.joint_flip_perm if stream == "joint" else skeleton.limb_flip_perm
    assert model.flip_perm == tuple(expected_perm)


def test_full_size_forward_on_meta() -> None:
    model = PoseC3D("imigue41", stream="limb", num_classes=32, embed_dim=384).to("meta")
    logits, emb = model(torch.empty(2, 45, 48, 56, 56, device="meta"))
    assert tuple(logits.shape) == (2, 32) and tuple(emb.shape) == (2, 384)


# ---------------------------------------------------------------------------- keypoint batches
def make_batch(n: int = 2, t: int = 20, v: int = 17, size: int = 32, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(n, 1, t, v, 2, generator=g) * (size - 1)
    score = torch.rand(n, 1, t, v, generator=g) * 0.5 + 0.5
    length = torch.tensor([t - 3 * i for i in range(n)], dtype=torch.int64)
    return {
        "keypoint": kp,
        "keypoint_score": score,
        "length": length,
        "label": torch.zeros(n).long(),
    }


def test_joint_heatmaps_peak_at_keypoints() -> None:
    model = PoseC3D("coco17", num_classes=4, **TINY).eval()
    g = torch.Generator().manual_seed(1)
    kp = torch.randint(0, 32, (2, 1, 16, 17, 2), generator=g).float()
    score = torch.rand(2, 1, 16, 17, generator=g) * 0.5 + 0.5
    batch = {"keypoint": kp, "keypoint_score": score, "length": torch.tensor([16, 16])}
    heat = model.make_heatmaps(batch)  # T == clip_len: alignment is the identity
    assert heat.shape == (2, 17, 16, 32, 32) and heat.dtype == torch.float32
    n, t, v = 1, 5, 3
    x, y = int(kp[n, 0, t, v, 0]), int(kp[n, 0, t, v, 1])
    assert heat[n, v, t, y, x].item() == pytest.approx(score[n, 0, t, v].item(), abs=1e-6)
    assert heat.max() <= 1.0 + 1e-6


def test_limb_heatmaps_on_the_segment() -> None:
    model = PoseC3D("coco17", stream="limb", num_classes=4, **TINY)
    kp = torch.full((1, 1, 16, 17, 2), 5.0)
    a, b = model.limbs[0]
    kp[..., a, :] = torch.tensor([4.0, 10.0])
    kp[..., b, :] = torch.tensor([20.0, 10.0])
    score = torch.ones(1, 1, 16, 17)
    score[..., a] = 0.7
    heat = model.make_heatmaps({"keypoint": kp, "keypoint_score": score})
    assert heat.shape == (1, 17, 16, 32, 32)
    assert heat[0, 0, :, 10, 12].tolist() == pytest.approx([0.7] * 16, abs=1e-6)
    assert heat[0, 0, :, 20, 12].abs().max().item() == 0.0  # far from the segment


def test_flip_and_multi_clip_row_order() -> None:
    model = PoseC3D("coco17", num_classes=4, **TINY).eval()
    batch = make_batch(n=2, t=30)
    batch["keypoint_score"][0] = 0.0  # sample 0 draws nothing: its rows must be all zero
    heat = model.make_heatmaps(batch, num_clips=3, flip=True)
    assert heat.shape == (2 * 3 * 2, 17, 16, 32, 32)
    assert heat[:6].abs().max().item() == 0.0 and heat[6:].abs().amax(dim=(1, 2, 3, 4)).min() > 0
    perm = list(model.flip_perm)
    for row in range(0, 12, 2):
        manual = heat[row][perm].flip(-1)  # flipped[c, t, y, x] = out[perm[c], t, y, W-1-x]
        torch.testing.assert_close(heat[row + 1], manual)
    plain = model.make_heatmaps(batch, num_clips=3)
    torch.testing.assert_close(plain, heat[0::2])


def test_forward_batch_equals_forward_of_make_input() -> None:
    torch.manual_seed(0)
    model = PoseC3D("coco17", num_classes=5, embed_dim=6, **TINY).eval()
    assert isinstance(model, RecognizerModel)
    batch = make_batch()
    logits, emb = model(batch)
    assert logits.shape == (2, 5) and emb is not None and emb.shape == (2, 6)
    ref = model(model.make_input(batch))
    torch.testing.assert_close(logits, ref.logits)
    torch.testing.assert_close(emb, ref.embedding)
    torch.testing.assert_close(model.make_input(batch), model.make_heatmaps(batch))
    assert model.channels_last_format == torch.channels_last_3d  # runtime.channels_last uses it
    model_cl = model.to(memory_format=model.channels_last_format)
    torch.testing.assert_close(model_cl(batch).logits, logits, rtol=1e-4, atol=1e-5)


def test_make_input_size_draws_at_another_resolution() -> None:
    model = PoseC3D("coco17", num_classes=5, **TINY).eval()
    batch = make_batch()
    assert model.make_input(batch, size=24, num_clips=2, flip=True).shape == (8, 17, 16, 24, 24)
    assert model.size == 32  # unchanged: the size is an argument, not a temporary attribute
    with pytest.raises(ValueError, match="size must be a positive int, got 0"):
        model.make_input(batch, size=0)


def test_training_mode_random_alignment_uses_generator() -> None:
    model = PoseC3D("coco17", num_classes=3, strategy="pyskl", **TINY)
    batch = make_batch(t=40)
    a = model.make_heatmaps(batch, training=True, generator=torch.Generator().manual_seed(3))
    b = model.make_heatmaps(batch, training=True, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    model.train()
    model(batch).logits.sum().backward()
    assert model.backbone.conv1.conv.weight.grad is not None


def test_low_precision_heatmaps() -> None:
    torch.manual_seed(0)
    model = PoseC3D("coco17", num_classes=3, heatmap_dtype=torch.bfloat16, **TINY).eval()
    batch = make_batch()
    heat = model.make_heatmaps(batch)
    assert heat.dtype == torch.bfloat16
    ref = model(heat.float()).logits
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(batch).logits
        plain = model(batch).logits  # outside autocast the heatmaps are cast to float32
    assert low.dtype == torch.bfloat16 and plain.dtype == torch.float32
    torch.testing.assert_close(plain, ref.detach())
    torch.testing.assert_close(low.float(), ref.detach(), rtol=0.05, atol=0.02)


def test_posec3d_errors() -> None:
    model = PoseC3D("coco17", num_classes=3, **TINY)
    with pytest.raises(ValueError, match="V=17 joints"):
        model.make_heatmaps({"keypoint": torch.zeros(1, 1, 4, 18, 2)})
    no_keypoint = r"batch\['keypoint'\]: expected a Tensor \[N, M, T, V, 2\]"
    with pytest.raises(ValueError, match=no_keypoint):
        model({"keypoint_score": torch.zeros(1, 1, 4, 17)})
    with pytest.raises(
        ValueError, match=r"batch\['score'\]: the scores are batch\['keypoint_score'\]"
    ):
        model({"keypoint": torch.zeros(1, 1, 4, 17, 2), "score": torch.zeros(1, 1, 4, 17)})
    with pytest.raises(ValueError, match=r"\[N, 17, T, H, W\]"):
        model(torch.zeros(1, 16, 16, 32, 32))
    with pytest.raises(TypeError, match="batch dict or a heatmap Tensor"):
        model([1, 2, 3])
    assert model(torch.zeros(1, 17, 4, 32, 32)).embedding is None
    with pytest.raises(ValueError, match="stream must be one of"):
        PoseC3D("coco17", stream="bone")
    with pytest.raises(ValueError, match="heatmap_dtype"):
        PoseC3D("coco17", heatmap_dtype=torch.float64)
    with pytest.raises(TypeError, match="layout must be a Skeleton or a layout name, got int"):
        PoseC3D(17)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_clips must be a positive int"):
        model.make_heatmaps(make_batch(), num_clips=0)


# ---------------------------------------------------------------------------------- overfit
def test_tiny_backbone_overfits_synthetic_heatmaps() -> None:
    """4 samples of 4 classes (a blob in a class-specific corner and channel): loss -> ~0."""
    torch.manual_seed(0)
    c, t, s, k = 3, 8, 16, 4
    x = torch.rand(k, c, t, s, s) * 0.2
    for i in range(k):
        y0, x0 = 2 + 8 * (i // 2), 2 + 8 * (i % 2)
        x[i, i % c, :, y0 : y0 + 4, x0 : x0 + 4] += 1.0
    labels = torch.arange(k)
    from pymg.models.resnet3d import ResNet3dSlowOnly

    model = nn.Sequential(ResNet3dSlowOnly(c, base_channels=8, stage_blocks=(1, 1, 1)))
    head = I3DHead(128, k, dropout=0.0)
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    loss = torch.tensor(float("inf"))
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(head(model(x)).logits, labels)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    with torch.no_grad():
        assert torch.equal(head(model.eval()(x)).logits.argmax(1), labels)


# ----------------------------------------------------------------------------------- fusion
class Fixed(RecognizerModel):
    """A recognizer that returns fixed logits and records what it was given."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.num_classes = int(logits.shape[1])
        self.layout = resolve_layout("coco17")
        self.seen: object = None

    def make_input(self, batch: object, **options: object) -> torch.Tensor:  # type: ignore[override]
        self.seen = (batch, options)
        return self.logits

    def forward_input(self, x: object) -> ModelOutput:  # type: ignore[override]
        self.seen = x
        return ModelOutput(self.logits, None)


def _softmax_np(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_two_stream_weighted_probabilities() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 5)) * 3, rng.normal(size=(3, 5)) * 3
    model = TwoStream(
        Fixed(torch.tensor(a, dtype=torch.float64)),
        Fixed(torch.tensor(b, dtype=torch.float64)),
        (0.4, 0.6),
    )
    out = model({"keypoint": None})
    assert out.embedding is None
    probs = out.logits.softmax(-1)  # the logits are the log of the fused probabilities
    expected = (0.4 * _softmax_np(a) + 0.6 * _softmax_np(b)) / 1.0
    np.testing.assert_allclose(probs.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.logits.exp().numpy(), expected, rtol=1e-12)
    model((1, 2))
    assert model.joint_model.seen == 1 and model.limb_model.seen == 2
    x = model.make_input({"keypoint": None}, num_clips=3, flip=True)
    assert model.joint_model.seen == ({"keypoint": None}, {
        "num_clips": 3, "flip": True, "training": False, "size": None, "generator": None
    })  # fmt: skip
    assert len(x) == 2
    equal = TwoStream(Fixed(torch.tensor(a)), Fixed(torch.tensor(b)), (2.0, 2.0))
    np.testing.assert_allclose(
        equal((0, 0)).logits.exp().numpy(), (_softmax_np(a) + _softmax_np(b)) / 2, rtol=1e-12
    )


def test_fuse_scores_numpy_and_probabilities() -> None:
    rng = np.random.default_rng(1)
    p = [rng.dirichlet(np.ones(4), size=6) for _ in range(3)]
    fused = fuse_scores(p, [1, 2, 1], softmax=False)
    assert isinstance(fused, np.ndarray)
    np.testing.assert_allclose(fused, (p[0] + 2 * p[1] + p[2]) / 4)
    logits = fuse_scores([torch.zeros(2, 4), torch.zeros(2, 4)])
    assert isinstance(logits, torch.Tensor)
    torch.testing.assert_close(logits, torch.full((2, 4), 0.25))


def test_fusion_errors() -> None:
    z = Fixed(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="weights must have 2 entries"):
        TwoStream(z, z, (1.0,))
    with pytest.raises(ValueError, match="not all 0"):
        TwoStream(z, z, (0.0, 0.0))
    with pytest.raises(ValueError, match=">= 0"):
        fuse_scores([np.zeros((1, 2))] * 2, [1.0, -1.0])
    with pytest.raises(TypeError, match="joint_model must be a pymg RecognizerModel"):
        TwoStream(nn.Identity(), z)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="joint_model has K=3 classes, limb_model K=4"):
        TwoStream(z, Fixed(torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"\(joint_input, limb_input\), got 3 items"):
        TwoStream(z, z)((1, 2, 3))
    with pytest.raises(ValueError, match=r"scores\[1\] has shape \(2, 3\)"):
        fuse_scores([np.zeros((2, 4)), np.zeros((2, 3))])
    with pytest.raises(TypeError, match="non-empty sequence"):
        fuse_scores(np.zeros((2, 4)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="streams disagree: joint logits"):
        TwoStream(z, Fixed(torch.zeros(1, 3)))((0, 0))


def test_two_posec3d_streams_end_to_end() -> None:
    torch.manual_seed(0)
    joint = PoseC3D("coco17", "joint", num_classes=6, **TINY)
    limb = PoseC3D("coco17", "limb", num_classes=6, **TINY)
    model = TwoStream(joint, limb).eval()
    batch = make_batch()
    with torch.no_grad():
        probs = model(batch).logits.softmax(1)
        expected = (joint(batch).logits.softmax(1) + limb(batch).logits.softmax(1)) / 2
    assert probs.shape == (2, 6)
    torch.testing.assert_close(probs, expected)
    views = model.make_input(batch, num_clips=2, flip=True)
    assert [tuple(v.shape) for v in views] == [(8, 17, 16, 32, 32)] * 2


def test_align_batch_fills_missing_scores_and_lengths() -> None:
    from pymg.models import align_batch

    layout = resolve_layout("coco17")
    kp = torch.rand(2, 1, 9, 17, 2, generator=torch.Generator().manual_seed(0)) * 30
    full = {
        "keypoint": kp,
        "keypoint_score": torch.ones(2, 1, 9, 17),
        "length": torch.tensor([9, 9]),
    }
    want = align_batch(full, layout, 5, strategy="uniform", num_clips=2)
    got = align_batch({"keypoint": kp}, layout, 5, strategy="uniform", num_clips=2)
    assert got[0].shape == (4, 1, 5, 17, 2) and got[1].shape == (4, 1, 5, 17)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    with pytest.raises(TypeError, match="batch must be a dict with 'keypoint', got list"):
        align_batch([kp], layout, 5, strategy="uniform")
