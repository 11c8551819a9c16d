"""Tests for pymg.models.stgcn (ST-GCN in the PYSKL configuration)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from pymg.losses import SemanticEmbeddingLoss
from pymg.models.stgcn import STGCN, GraphConv, STGCNBlock
from pymg.topology import graph_partitions, resolve_layout

TINY = {"base_channels": 8, "num_blocks": 3, "down_blocks": (2,)}


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _block_params(c_in: int, c_out: int, k: int, v: int, *, stride: int, residual: bool) -> int:
    """Hand count of one ST-GCN block (weights + biases + BN affine + edge importance)."""
    gcn = c_in * c_out * k + c_out * k + k * v * v + 2 * c_out  # 1x1 conv, PA, BN
    tcn = c_out * c_out * 9 + c_out + 2 * c_out  # 9x1 conv, BN
    down = c_in * c_out + c_out + 2 * c_out if residual and (c_in != c_out or stride != 1) else 0
    return gcn + tcn + down


def _batch(n: int, t: int, v: int, *, m: int = 1, seed: int = 0, hw=(120, 200)) -> dict:
    g = torch.Generator().manual_seed(seed)
    h, w = hw
    kp = torch.rand(n, m, t, v, 2, generator=g) * torch.tensor([w, h], dtype=torch.float32)
    return {
        "keypoint": kp,
        "keypoint_score": torch.rand(n, m, t, v, generator=g),
        "length": torch.full((n,), t, dtype=torch.int64),
        "label": torch.zeros(n, dtype=torch.int64),
        "img_shape": torch.tensor([[h, w]] * n),
        "frame_dir": [f"s{i}" for i in range(n)],
    }


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(("layout", "v"), [("imigue22", 22), ("imigue41", 41), ("coco17", 17)])
def test_shapes_default_model(layout, v):
    torch.manual_seed(0)
    model = STGCN(layout, num_classes=32, embed_dim=24).eval()
    assert model.num_joints == v
    assert model.backbone.A.shape == (3, v, v)
    assert model.backbone.data_bn.num_features == v * 3  # data BN over V*C
    assert [b.gcn.conv.out_channels // 3 for b in model.backbone.gcn] == [64] * 4 + [128] * 3 + [
        256
    ] * 3
    assert [b.tcn.conv.stride[0] for b in model.backbone.gcn] == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert all(b.tcn.conv.kernel_size == (9, 1) for b in model.backbone.gcn)
    x = torch.randn(2, 1, 21, v, 3)
    with torch.no_grad():
        features = model.backbone(x)
        logits, embedding = model(x)
    assert features.shape == (2, 1, 256, 6, v)  # T: 21 -> 11 -> 6
    assert logits.shape == (2, 32) and logits.dtype == torch.float32
    assert embedding is not None and embedding.shape == (2, 24)
    assert model(x).logits.shape == (2, 32)
    assert STGCN(layout, num_classes=32)(x).embedding is None
    assert model.channels_last_format is None  # runtime.channels_last leaves ST-GCN alone


def test_batch_input_shape_and_clip_len():
    model = STGCN("imigue22", num_classes=5, clip_len=12, **TINY).eval()
    batch = _batch(3, 30, 22)
    batch["length"] = torch.tensor([30, 7, 1])
    x = model.make_input(batch)
    assert x.shape == (3, 1, 12, 22, 3) and x.dtype == torch.float32
    assert model.make_input(batch, num_clips=2).shape == (6, 1, 12, 22, 3)
    with torch.no_grad():
        assert model(batch).logits.shape == (3, 5)
        torch.testing.assert_close(model(batch).logits, model(x).logits)
    model.train()  # training mode jitters the alignment positions; shapes stay the same
    assert model(batch).logits.shape == (3, 5)


def test_make_input_flip_appends_mirrored_rows():
    from pymg.models.batch import mirror_keypoints

    model = STGCN("imigue22", num_classes=5, clip_len=12, **TINY).eval()
    batch = _batch(3, 30, 22)
    x = model.make_input(batch, num_clips=2, flip=True)
    assert x.shape == (3 * 2 * 2, 1, 12, 22, 3)  # rows (n * num_clips + k) * 2 + f
    torch.testing.assert_close(x[0::2], model.make_input(batch, num_clips=2))
    perm = model.layout.joint_flip_perm
    mirrored = mirror_keypoints(batch, perm)
    torch.testing.assert_close(x[1::2], model.make_input(mirrored, num_clips=2))
    w = float(batch["img_shape"][0, 1])
    kp = batch["keypoint"]
    present = (kp != 0).any(-1)
    want = torch.where(present, w - kp[..., 0], kp[..., 0])[..., list(perm)]
    torch.testing.assert_close(mirrored["keypoint"][0, ..., 0], want[0])
    assert model.make_input(batch, size=99).shape == (3, 1, 12, 22, 3)  # no heatmap size


# ----------------------------------------------------------------------------- parameters


def test_param_count_matches_hand_formula():
    layout = resolve_layout("imigue41")
    v = layout.num_joints
    A = torch.rand(3, v, v)
    block = STGCNBlock(64, 128, A, stride=2, residual=True)
    assert _n_params(block) == _block_params(64, 128, 3, v, stride=2, residual=True)
    same = STGCNBlock(64, 64, A, stride=1, residual=True)
    assert _n_params(same) == _block_params(64, 64, 3, v, stride=1, residual=True)
    first = STGCNBlock(3, 64, A, stride=1, residual=False)
    assert _n_params(first) == _block_params(3, 64, 3, v, stride=1, residual=False)

    model = STGCN(layout, num_classes=32, embed_dim=300)
    chans = [3, 64, 64, 64, 64, 128, 128, 128, 256, 256, 256]
    strides = [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    total = 2 * 3 * v  # data BN
    for i in range(10):
        total += _block_params(chans[i], chans[i + 1], 3, v, stride=strides[i], residual=i > 0)
    total += 256 * 32 + 32 + 256 * 300 + 300  # fc_cls + embedding branch
    assert _n_params(model) == total


def test_pyskl_parameter_names():
    keys = set(STGCN("coco17", num_classes=60).state_dict())
    for key in (
        "backbone.gcn.0.gcn.A",
        "backbone.gcn.9.gcn.A",
        "backbone.data_bn.running_mean",
        "backbone.gcn.0.gcn.conv.weight",
        "backbone.gcn.0.gcn.PA",
        "backbone.gcn.0.gcn.bn.weight",
        "backbone.gcn.0.tcn.conv.weight",
        "backbone.gcn.4.residual.conv.weight",
        "backbone.gcn.7.residual.bn.running_var",
        "cls_head.fc_cls.weight",
    ):
        assert key in keys, key
    assert not any(k.startswith("backbone.gcn.0.residual") for k in keys)  # no residual in block 1
    assert not any(k.startswith("backbone.gcn.1.residual") for k in keys)  # identity residual
    assert not any("embed" in k for k in keys)
    assert "backbone.A" not in keys  # one partition per block, as PYSKL


def test_graph_conv_matches_loops():
    torch.manual_seed(1)
    A = torch.rand(2, 4, 4)
    layer = GraphConv(2, 3, A).eval()
    with torch.no_grad():
        layer.PA.uniform_(0.5, 1.5)
    x = torch.randn(1, 2, 5, 4)
    out = layer(x)
    w = layer.conv.weight.detach()[:, :, 0, 0]  # [K*C_out, C_in]
    b = layer.conv.bias.detach()
    pa = layer.PA.detach()
    expected = torch.zeros(1, 3, 5, 4)
    for k in range(2):
        for c in range(3):
            for t in range(5):
                for j in range(4):  # target joint
                    acc = 0.0
                    for i in range(4):  # source joint
                        z = float(w[k * 3 + c] @ x[0, :, t, i]) + float(b[k * 3 + c])
                        acc += z * float(A[k, i, j] * pa[k, i, j])
                    expected[0, c, t, j] += acc
    expected = torch.relu(expected / math.sqrt(1 + layer.bn.eps))  # BN in eval: mean 0, var 1
    torch.testing.assert_close(out.detach(), expected, rtol=1e-5, atol=1e-5)


def test_gradients_reach_all_parameters():
    torch.manual_seed(2)
    model = STGCN("imigue22", num_classes=4, embed_dim=6, dropout=0.2, **TINY)
    x = torch.randn(3, 2, 10, 22, 3)
    logits, embedding = model(x)
    (logits.square().sum() + embedding.square().sum()).backward()
    A = model.backbone.A  # every block holds the same fixed partition
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert bool(torch.isfinite(param.grad).all()), name
        if name.endswith(".PA"):
            # entries outside the graph (A == 0) cannot receive gradient; every edge does
            assert float(param.grad[A == 0].abs().max()) == 0.0
            assert bool((param.grad[A != 0] != 0).all()), name
        else:
            assert float(param.grad.abs().max()) > 0, name


# ----------------------------------------------------------------------------- buffers / devices


def test_partition_buffer_follows_to():
    layout = resolve_layout("imigue41")
    model = STGCN(layout, **TINY)
    expected = torch.from_numpy(graph_partitions(layout, "spatial"))
    for block in model.backbone.gcn:
        torch.testing.assert_close(block.gcn.A, expected, rtol=0, atol=0)
    assert "backbone.gcn.0.gcn.A" in dict(model.named_buffers())
    assert all(p is not model.backbone.A for p in model.parameters())
    model.to(torch.float64)
    assert all(block.gcn.A.dtype == torch.float64 for block in model.backbone.gcn)
    assert model(torch.randn(1, 1, 8, 41, 3, dtype=torch.float64)).logits.dtype == torch.float64
    batch_out = model(_batch(2, 9, 41))  # the batch input follows the model
    assert batch_out.logits.dtype == torch.float64
    meta = STGCN(layout, **TINY).to("meta")
    assert meta.backbone.A.device.type == "meta"


def test_partition_choices():
    layout = resolve_layout("imigue22")
    uniform = STGCN(layout, partition="uniform", **TINY)
    assert uniform.backbone.A.shape == (1, 22, 22)
    custom = np.stack([np.eye(22, dtype=np.float64)] * 2)
    model = STGCN(layout, partition=custom, **TINY)
    assert model.backbone.A.shape == (2, 22, 22) and model.backbone.A.dtype == torch.float32
    custom[0, 0, 0] = 5.0  # the model keeps its own copy
    assert float(model.backbone.A[0, 0, 0]) == 1.0
    assert model(torch.randn(2, 1, 8, 22, 3)).logits.shape == (2, 32)


@pytest.mark.cuda
def test_cuda_forward_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.manual_seed(3)
    model = STGCN("imigue41", num_classes=7, **TINY).eval()
    batch = _batch(2, 20, 41)
    with torch.no_grad():
        cpu = model(batch).logits
        gpu_batch = {k: (v.cuda() if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        gpu = model.cuda()(gpu_batch).logits
    assert model.backbone.A.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- input preparation


def test_make_input_normalises_by_image_size():
    model = STGCN("coco17", clip_len=6, **TINY)
    batch = _batch(2, 6, 17, hw=(120, 200))
    batch["img_shape"][1] = torch.tensor([50, 80])
    batch["keypoint"][1] *= torch.tensor([80 / 200, 50 / 120])
    batch["keypoint"][0, 0, 2, 3] = float("nan")
    x = model.make_input(batch)  # T == clip_len: alignment is the identity
    kp, sc = batch["keypoint"], batch["keypoint_score"]
    for n, (h, w) in enumerate([(120, 200), (50, 80)]):
        exp_x = 2 * kp[n, ..., 0] / w - 1
        exp_y = 2 * kp[n, ..., 1] / h - 1
        mask = torch.isfinite(exp_x)
        torch.testing.assert_close(x[n, ..., 0][mask], exp_x[mask])
        torch.testing.assert_close(x[n, ..., 1][mask], exp_y[mask])
        torch.testing.assert_close(x[n, ..., 2][mask], sc[n][mask])
    assert float(x[..., :2].abs().max()) <= 1.0
    # the missing point becomes (0, 0) with score 0
    assert x[0, 0, 2, 3].tolist() == [0.0, 0.0, 0.0]
    assert bool(torch.isfinite(x).all())
    # an explicit size overrides the batch's img_shape
    fixed = STGCN("coco17", clip_len=6, size=(120, 200), **TINY)
    del batch["img_shape"]
    torch.testing.assert_close(fixed.make_input(batch)[0], x[0])


def test_make_input_defaults_for_score_and_length():
    model = STGCN("coco17", clip_len=4, size=(10, 10), **TINY)
    kp = torch.full((1, 1, 4, 17, 2), 5.0)
    x = model.make_input({"keypoint": kp})
    assert x.shape == (1, 1, 4, 17, 3)
    torch.testing.assert_close(x[..., :2], torch.zeros(1, 1, 4, 17, 2))  # image centre -> 0
    torch.testing.assert_close(x[..., 2], torch.ones(1, 1, 4, 17))


def test_persons_are_averaged():
    torch.manual_seed(4)
    model = STGCN("imigue22", num_classes=6, **TINY).eval()
    one = torch.randn(2, 1, 8, 22, 3)
    two = torch.cat([one, one], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(two).logits, model(one).logits, rtol=1e-5, atol=1e-6)


def test_embedding_is_taken_before_dropout():
    torch.manual_seed(5)
    model = STGCN("imigue22", num_classes=6, embed_dim=5, dropout=0.9, **TINY).train()
    x = torch.randn(4, 1, 8, 22, 3)
    logits_a, emb_a = model(x)
    logits_b, emb_b = model(x)
    torch.testing.assert_close(emb_a, emb_b)
    assert not torch.allclose(logits_a, logits_b)


# ----------------------------------------------------------------------------- training


def test_tiny_overfit_with_semantic_loss():
    torch.manual_seed(6)
    k, n, v, t = 4, 8, 22, 12
    x = torch.randn(n, 1, t, v, 3)
    labels = torch.arange(n) % k
    x[..., 0] += labels.view(n, 1, 1, 1).float() * 0.5  # a learnable class signal
    table = torch.nn.functional.normalize(torch.randn(k, 8), dim=1)
    model = STGCN("imigue22", num_classes=k, embed_dim=8, **TINY)
    loss_fn = SemanticEmbeddingLoss(table, weight=20.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        opt.zero_grad()
        logits, embedding = model(x)
        loss = loss_fn(logits, labels, embedding)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    model.eval()
    with torch.no_grad():
        logits, embedding = model(x)
    assert bool((logits.argmax(1) == labels).all())
    assert loss.item() < 0.2 * first
    # the embedding branch learned the label table
    cos = torch.nn.functional.cosine_similarity(embedding, table[labels], dim=1)
    assert float(cos.min()) > 0.8


# ----------------------------------------------------------------------------- errors


def test_errors():
    model = STGCN("imigue22", num_classes=3, **TINY)
    with pytest.raises(ValueError, match=r"expected V=22 joints for layout 'imigue22'"):
        model(torch.randn(1, 1, 8, 17, 3))
    with pytest.raises(ValueError, match=r"batch\['keypoint'\]: expected V=22 joints"):
        model(_batch(1, 8, 17))
    with pytest.raises(ValueError, match=r"expected C=3 channels"):
        model(torch.randn(1, 1, 8, 22, 2))
    with pytest.raises(ValueError, match=r"x: expected a Tensor \[N, M, T, V, C\]"):
        model(torch.randn(1, 8, 22, 3))
    assert model(torch.randn(1, 1, 8, 22, 3)).embedding is None  # no branch, no embedding
    with pytest.raises(TypeError, match="x: expected a batch dict or a Tensor"):
        model([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"batch\['keypoint'\]: expected a Tensor \[N, M, T, V, 2\]"
    ):
        model({"keypoint": np.zeros((1, 1, 8, 22, 2))})
    batch = _batch(2, 8, 22)
    del batch["img_shape"]
    with pytest.raises(ValueError, match=r"batch\['img_shape'\]: expected \[N, 2\] \(H, W\)"):
        model(batch)
    batch["img_shape"] = torch.tensor([[0, 10], [10, 10]])
    with pytest.raises(ValueError, match=r"expected a positive \[N, 2\] = \[2, 2\] \(H, W\)"):
        model(batch)
    with pytest.raises(ValueError, match=r"partition: expected shape \[K, 22, 22\]"):
        STGCN("imigue22", partition=np.ones((3, 17, 17), np.float32))
    with pytest.raises(TypeError, match="layout must be a Skeleton or a layout name, got int"):
        STGCN(22)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="down_blocks: expected 1-based indices"):
        STGCN("imigue22", num_blocks=4, down_blocks=(5,))
    with pytest.raises(ValueError, match="num_classes must be a positive int, got 0"):
        STGCN("imigue22", num_classes=0)
    with pytest.raises(ValueError, match="strategy: expected one of"):
        STGCN("imigue22", strategy="random")
    with pytest.raises(ValueError, match="size: expected None or a positive"):
        STGCN("imigue22", size=(0, 5))
    two_channel = STGCN("imigue22", in_channels=2, **TINY)
    with pytest.raises(ValueError, match="batch input builds 3 channels"):
        two_channel(_batch(1, 8, 22))


def test_state_dict_of_pymg_0_1_with_one_shared_partition_loads() -> None:
    """pymg < 0.2 saved one ``backbone.A``; ``load_state_dict`` spreads it over the blocks."""
    src = STGCN("imigue22", num_classes=3, **TINY)
    state = {k: v for k, v in src.state_dict().items() if not k.endswith(".gcn.A")}
    state["backbone.A"] = torch.from_numpy(
        graph_partitions(resolve_layout("imigue22"), "spatial_exact")
    )
    dst = STGCN("imigue22", num_classes=3, **TINY)
    dst.load_state_dict(state)  # strict
    for block in dst.backbone.gcn:
        torch.testing.assert_close(block.gcn.A, state["backbone.A"], rtol=0, atol=0)
    assert not torch.equal(dst.backbone.A, src.backbone.A)  # the old default differs on imigue22


def test_stgcn_plus_plus_structure() -> None:
    from pymg.models.stgcn import MultiScaleTCN, stgcn_plus_plus

    model = stgcn_plus_plus("coco17", num_classes=4, num_blocks=4, down_blocks=(3,))
    names = dict(model.named_parameters())
    assert all(f"backbone.gcn.{i}.gcn.A" in names for i in range(4))  # learned partitions
    assert "backbone.gcn.0.gcn.PA" not in names
    assert isinstance(model.backbone.gcn[1].tcn, MultiScaleTCN)
    assert "backbone.gcn.2.gcn.down.0.weight" in names  # 64 -> 128 inside the graph conv
    torch.testing.assert_close(
        model.backbone.A,
        torch.from_numpy(graph_partitions(resolve_layout("coco"), "inward_outward")),
    )
    x = torch.randn(2, 1, 9, 17, 3)
    assert model.eval()(x).logits.shape == (2, 4)
    assert model.backbone(x).shape == (2, 1, 128, 5, 17)
    with pytest.raises(ValueError, match="tcn_type: expected one of"):
        STGCN("coco17", tcn_type="tcn")
    with pytest.raises(ValueError, match="adaptive: expected one of"):
        STGCN("coco17", gcn_adaptive="learned")
    with pytest.raises(ValueError, match="inflate_blocks: expected 1-based indices"):
        STGCN("coco17", num_blocks=4, down_blocks=(2,), inflate_blocks=(7,))
