"""torch.compile(fullgraph=True) of pymg.ops and PoseC3D: no graph break, results equal eager ones.

On the CPU (inductor's C++ backend; the PoseC3D case compiles a tiny model, 20-40 s on 2 cores)
and, where a device exists, on CUDA.
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo

import pymg.ops as ops
from pymg.models import PoseC3D
from pymg.topology import get_layout

LAYOUT = get_layout("coco17")


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A keypoint batch [3, 2, 20, 17, 2] with scores and lengths 20, 7, 1."""
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(3, 2, 20, 17, 2, generator=g) * 20 - 2
    sc = torch.rand(3, 2, 20, 17, generator=g)
    kp[0, 1, 3:6, 4] = float("nan")
    return kp, sc, torch.tensor([20, 7, 1])


def make_inputs(kp: torch.Tensor, sc: torch.Tensor, lengths: torch.Tensor):
    """Aligns a keypoint batch to 8 frames and draws joint (fp32) and limb (bf16) heatmaps."""
    k, s = ops.align_frames(kp, sc, lengths, 8, num_clips=2)
    joints = ops.joint_heatmaps(k, s, size=(16, 18))
    limbs = ops.limb_heatmaps(k, s, limbs=LAYOUT.limbs, size=(16, 18), dtype=torch.bfloat16)
    flipped = ops.flip_heatmaps(joints, LAYOUT.joint_flip_perm)
    return k, s, joints, limbs, flipped


def break_count(fn, *args) -> int:  # type: ignore[no-untyped-def]
    torch._dynamo.reset()
    explained = torch._dynamo.explain(fn)(*args)
    assert explained.break_reasons == []
    return int(explained.graph_break_count)


@pytest.mark.parametrize("impl", [pytest.param("native", marks=pytest.mark.native), "reference"])
def test_align_and_heatmaps_compile_without_breaks(impl: str) -> None:
    kp, sc, lengths = inputs()
    with ops.use_impl(impl):
        assert break_count(make_inputs, kp, sc, lengths) == 0
        torch._dynamo.reset()
        compiled = torch.compile(make_inputs, fullgraph=True)
        got = compiled(kp, sc, lengths)
        want = make_inputs(kp, sc, lengths)
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype
            assert torch.equal(g.nan_to_num(-7.0), w.nan_to_num(-7.0))
        # new values with the same shapes reuse the graph and still match eager
        kp2, sc2, _ = inputs(seed=1)
        again = compiled(kp2, sc2, torch.tensor([5, 20, 2]))
        assert torch.equal(again[2], make_inputs(kp2, sc2, torch.tensor([5, 20, 2]))[2])


def test_dynamic_shapes_reuse_one_graph() -> None:
    """Batch size and input length change between calls: the fake kernels take symbolic sizes."""
    torch._dynamo.reset()
    compiled = torch.compile(make_inputs, fullgraph=True, dynamic=True, backend="aot_eager")
    g = torch.Generator().manual_seed(3)
    for n, t in ((3, 20), (5, 11), (2, 30)):
        kp = torch.rand(n, 2, t, 17, 2, generator=g) * 16
        sc = torch.rand(n, 2, t, 17, generator=g)
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        got, want = compiled(kp, sc, lengths), make_inputs(kp, sc, lengths)
        assert got[2].shape == (2 * n, 17, 8, 16, 18)
        assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_compiled_ops_raise_the_eager_errors() -> None:
    kp, sc, _ = inputs()
    torch._dynamo.reset()
    compiled = torch.compile(make_inputs, fullgraph=True)
    with pytest.raises(ValueError, match=r"lengths must be <= T = 20, got a maximum of 21"):
        compiled(kp, sc, torch.tensor([21, 3, 3]))


def tiny_posec3d(stream: str) -> PoseC3D:
    torch.manual_seed(0)
    return PoseC3D(LAYOUT, stream=stream, num_classes=5, clip_len=8, size=16, base_channels=8,
                   stage_blocks=(1, 1, 1), dropout=0.0)  # fmt: skip


def test_posec3d_training_forward_has_no_breaks() -> None:
    model = tiny_posec3d("limb").train()
    kp, sc, lengths = inputs()
    assert break_count(model, {"keypoint": kp, "keypoint_score": sc, "length": lengths}) == 0


def test_posec3d_compiles_end_to_end_and_equals_eager() -> None:
    model = tiny_posec3d("joint").eval()
    kp, sc, lengths = inputs()
    batch = {"keypoint": kp, "keypoint_score": sc, "length": lengths}
    assert break_count(model, batch) == 0
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        got, want = compiled(batch).logits, model(batch).logits
    assert got.shape == (3, 5)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.cuda
@pytest.mark.native
def test_compile_on_cuda_equals_eager_without_host_syncs() -> None:
    pytest.importorskip("triton", reason="inductor compiles CUDA code with triton")
    kp, sc, lengths = inputs()
    kp, sc = kp.cuda(), sc.cuda()  # lengths stay on the CPU, as a data loader gives them
    torch._dynamo.reset()
    compiled = torch.compile(make_inputs, fullgraph=True)
    got = compiled(kp, sc, lengths)
    want = make_inputs(kp, sc, lengths)
    for g, w in zip(got, want, strict=True):
        assert g.device.type == "cuda" and g.shape == w.shape and g.dtype == w.dtype
        assert torch.equal(g.nan_to_num(-7.0), w.nan_to_num(-7.0))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        compiled(kp, sc, lengths)
        make_inputs(kp, sc, lengths)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
