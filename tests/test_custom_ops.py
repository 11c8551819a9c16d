"""The torch.library custom ops behind pymg.ops: schemas, fake (meta) kernels, empty batches.

Every backend (native CPU kernels, the torch reference and, where a device exists, the CUDA kernels)
must give an empty output for an empty batch (N = 0) and zeros for clips without a person (M = 0).
"""

from __future__ import annotations

import pytest
import torch

import pymg.ops as ops
from pymg.ops import custom_ops, pyskl_numpy

IMPLS = [pytest.param("native", marks=pytest.mark.native), "reference"]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
LIMBS = [(0, 1), (1, 2), (2, 3), (0, 3)]


def points(n: int, m: int, t: int, v: int, size: int = 12, seed: int = 0):
    """Keypoints [N, M, T, V, 2] around the image, some NaN, and scores [N, M, T, V]."""
    g = torch.Generator().manual_seed(seed)
    kp = torch.rand(n, m, t, v, 2, generator=g) * (size + 4) - 2
    sc = torch.rand(n, m, t, v, generator=g)
    if kp.numel():
        kp.view(-1, 2)[:: max(1, kp.numel() // 14), 0] = float("nan")
    return kp, sc


def op_args(kind: str, impl: str) -> tuple[object, tuple[object, ...]]:
    kp, sc = points(2, 2, 3, 4, seed=1)
    if kind == "joint":
        return torch.ops.pymg.joint_heatmaps.default, (
            kp,
            sc,
            9,
            7,
            0.8,
            1e-3,
            torch.bfloat16,
            impl,
        )
    if kind == "limb":
        flat = [i for pair in LIMBS for i in pair]
        args = (kp, sc, flat, 9, 7, 0.8, 1e-3, torch.float32, impl)
        return torch.ops.pymg.limb_heatmaps.default, args
    positions = torch.tensor([[[0.0, 0.5, 2.9, -1.0]], [[1.0, 1.5, 0.2, 3.0]]])
    sc[kp.isnan().any(-1)] = 0.0  # missing by score: opcheck compares outputs without NaN
    args = (kp.nan_to_num(0.0), sc, torch.tensor([3, 2]), positions, "linear", 1e-3, impl)
    return torch.ops.pymg.gather_frames.default, args


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["joint", "limb", "gather"])
def test_opcheck(kind: str, impl: str) -> None:
    """torch.library.opcheck: schema, fake kernel against the real one, AOT dispatch."""
    op, args = op_args(kind, impl)
    torch.library.opcheck(op, args)


def test_opcheck_frame_positions() -> None:
    op = torch.ops.pymg.frame_positions.default
    torch.library.opcheck(
        op, (torch.tensor([5, 2, 9]), 4, "uniform", 2, False, torch.device("cpu"))
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_ops_match_the_numpy_oracle(impl: str) -> None:
    kp, sc = points(2, 2, 3, 4, seed=2)
    flat = [i for pair in LIMBS for i in pair]
    joint = torch.ops.pymg.joint_heatmaps(kp, sc, 9, 7, 0.8, 1e-3, torch.float32, impl)
    limb = torch.ops.pymg.limb_heatmaps(kp, sc, flat, 9, 7, 0.8, 1e-3, torch.float32, impl)
    want_j = pyskl_numpy.batch_joint_heatmaps(kp.numpy(), sc.numpy(), (9, 7), sigma=0.8, eps=1e-3)
    want_l = pyskl_numpy.batch_limb_heatmaps(
        kp.numpy(), sc.numpy(), (9, 7), LIMBS, sigma=0.8, eps=1e-3
    )
    torch.testing.assert_close(joint, torch.from_numpy(want_j), atol=1e-5, rtol=0)
    torch.testing.assert_close(limb, torch.from_numpy(want_l), atol=1e-5, rtol=0)


def test_meta_tensors_give_shapes() -> None:
    kp, sc = points(3, 2, 5, 4)
    kp_m, sc_m = kp.to("meta"), sc.to("meta")
    joint = ops.joint_heatmaps(kp_m, sc_m, size=(9, 7), dtype=torch.float16)
    assert (joint.device.type, joint.shape, joint.dtype) == (
        "meta", (3, 4, 5, 9, 7), torch.float16
    )  # fmt: skip
    limb = ops.limb_heatmaps(kp_m, None, limbs=LIMBS, size=(9, 7))
    assert (limb.device.type, limb.shape, limb.dtype) == ("meta", (3, 4, 5, 9, 7), torch.float32)
    lengths = torch.tensor([5, 1, 3], device="meta")
    g_kp, g_sc = ops.gather_frames(kp_m, sc_m, lengths, torch.zeros(3, 2, 6, device="meta"))
    assert (g_kp.shape, g_sc.shape, g_kp.device.type) == ((6, 2, 6, 4, 2), (6, 2, 6, 4), "meta")
    a_kp, a_sc = ops.align_frames(kp_m, sc_m, torch.tensor([5, 1, 3]), 8, num_clips=2)
    assert (a_kp.shape, a_sc.shape, a_sc.dtype) == ((6, 2, 8, 4, 2), (6, 2, 8, 4), torch.float32)
    pos = ops.frame_positions(lengths, 6, num_clips=3)
    assert (pos.shape, pos.dtype, pos.device.type) == ((3, 3, 6), torch.float32, "meta")


def test_posec3d_on_meta_tensors() -> None:
    from pymg.models import PoseC3D

    model = PoseC3D("coco17", num_classes=5, clip_len=8, size=16, base_channels=8,
                    stage_blocks=(1, 1, 1), stream="limb").to("meta")  # fmt: skip
    batch = {
        "keypoint": torch.empty(2, 1, 30, 17, 2, device="meta"),
        "length": torch.tensor([30, 9]),
    }
    heat = model.make_heatmaps(batch, num_clips=2, flip=True)
    assert heat.shape == (8, 17, 8, 16, 16) and heat.device.type == "meta"
    logits = model(batch).logits
    assert logits.shape == (2, 5) and logits.device.type == "meta"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_heatmaps_of_empty_batch_and_no_person(impl: str, device: str, dtype: torch.dtype) -> None:
    kp, sc = points(0, 2, 3, 4)
    joint = ops.joint_heatmaps(kp.to(device), sc.to(device), size=(9, 7), dtype=dtype, impl=impl)
    limb = ops.limb_heatmaps(kp.to(device), None, limbs=LIMBS, size=(9, 7), dtype=dtype, impl=impl)
    assert (joint.shape, joint.dtype, joint.device.type) == ((0, 4, 3, 9, 7), dtype, device)
    assert (limb.shape, limb.dtype, limb.device.type) == ((0, 4, 3, 9, 7), dtype, device)
    kp, sc = points(2, 0, 3, 4)
    for out in (
        ops.joint_heatmaps(kp.to(device), sc.to(device), size=(9, 7), dtype=dtype, impl=impl),
        ops.limb_heatmaps(kp.to(device), sc.to(device), limbs=LIMBS, size=(9, 7), dtype=dtype,
                          impl=impl),
    ):  # fmt: skip
        assert (out.shape, out.dtype, out.device.type) == ((2, 4, 3, 9, 7), dtype, device)
        assert torch.equal(out.cpu(), torch.zeros(2, 4, 3, 9, 7, dtype=dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_gather_and_align_of_empty_batch_and_no_person(impl: str, device: str, mode: str) -> None:
    for n, m in ((0, 2), (3, 0)):
        kp, sc = points(n, m, 5, 4)
        lengths = torch.full((n,), 4)
        positions = torch.rand(n, 2, 6) * 5 - 0.5
        out_kp, out_sc = ops.gather_frames(kp.to(device), sc.to(device), lengths.to(device),
                                           positions.to(device), mode=mode, impl=impl)  # fmt: skip
        assert (out_kp.shape, out_sc.shape) == ((2 * n, m, 6, 4, 2), (2 * n, m, 6, 4))
        assert out_kp.dtype == out_sc.dtype == torch.float32 and out_kp.device.type == device
        al_kp, al_sc = ops.align_frames(kp.to(device), sc.to(device), lengths, 7, num_clips=3,
                                        mode=mode, impl=impl)  # fmt: skip
        assert (al_kp.shape, al_sc.shape) == ((3 * n, m, 7, 4, 2), (3 * n, m, 7, 4))
        assert al_kp.device.type == device
    assert ops.frame_positions(torch.zeros(0, dtype=torch.long), 5, num_clips=2).shape == (0, 2, 5)


@pytest.mark.parametrize("impl", IMPLS)
def test_gather_lengths_of_any_integer_dtype(impl: str) -> None:
    kp, sc = points(2, 1, 5, 4)
    kp = kp.nan_to_num(-1.0)
    positions = torch.tensor([[[0.0, 1.5, 4.0]], [[0.5, 2.0, 3.0]]])
    want_kp, want_sc = ops.gather_frames(kp, sc, torch.tensor([5, 3]), positions, impl="reference")
    for lengths in (
        torch.tensor([5, 3], dtype=torch.int32),
        torch.tensor([5, 3], dtype=torch.uint8),
    ):
        got_kp, got_sc = ops.gather_frames(kp, sc, lengths, positions, impl=impl)
        torch.testing.assert_close(got_kp, want_kp, atol=1e-6, rtol=0)
        torch.testing.assert_close(got_sc, want_sc, atol=1e-6, rtol=0)
    assert torch.equal(want_sc[1, 0, 2], torch.zeros(4))  # position 3.0 >= length 3: padding
    assert torch.equal(want_kp[0, 0, 2], kp[0, 0, 4])  # an integer position copies the frame
    with pytest.raises(ValueError, match=r"lengths must be <= T = 5, got a maximum of 6"):
        ops.gather_frames(kp, sc, torch.tensor([6, 3]), positions, impl=impl)


def test_limb_table_is_cached_and_flat() -> None:
    flat = [0, 1, 2, 3]
    table = custom_ops.limb_table(flat)
    assert table.dtype == torch.int32 and table.tolist() == [[0, 1], [2, 3]]
    assert custom_ops.limb_table(list(flat)) is table
    assert not table.is_pinned()


def test_check_limbs_and_perm_return_python_ints() -> None:
    from pymg.ops import _checks

    assert _checks.check_limbs([(0, 1), (3, 2)], 4) == [0, 1, 3, 2]
    assert _checks.check_limbs(torch.tensor([[0, 1]]), 2) == [0, 1]
    assert _checks.check_perm((1, 0, 2), 3) == [1, 0, 2]


@pytest.mark.cuda
def test_cuda_limb_table_is_pinned_and_ops_stay_on_device() -> None:
    kp, sc = points(2, 2, 3, 4)
    kp, sc = kp.cuda(), sc.cuda()
    limb = ops.limb_heatmaps(kp, sc, limbs=LIMBS, size=(9, 7), impl="native")
    flat = [i for pair in LIMBS for i in pair]
    assert custom_ops.limb_table(flat, pinned=True).is_pinned()
    want = ops.limb_heatmaps(kp.cpu(), sc.cpu(), limbs=LIMBS, size=(9, 7), impl="native")
    torch.testing.assert_close(limb.cpu(), want, atol=1e-6, rtol=0)
    out_kp, _ = ops.align_frames(kp, sc, torch.tensor([3, 2]), 5)
    assert out_kp.device == kp.device


@pytest.mark.cuda
@pytest.mark.native
@pytest.mark.parametrize("stream", ["joint", "limb"])
def test_cuda_posec3d_inputs_never_sync_the_host(stream: str) -> None:
    """Heatmaps from a CUDA keypoint batch with CPU lengths: no host synchronisation at all."""
    from pymg.models import PoseC3D

    model = PoseC3D("coco17", stream=stream, num_classes=5, clip_len=8, size=16, base_channels=8,
                    stage_blocks=(1, 1, 1), heatmap_dtype=torch.bfloat16).cuda()  # fmt: skip
    kp, sc = points(3, 2, 12, 17, size=16)
    batch = {"keypoint": kp.cuda(), "keypoint_score": sc.cuda(), "length": torch.tensor([12, 5, 1])}
    want = model.make_heatmaps(batch, num_clips=2, flip=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        got = model.make_heatmaps(batch, num_clips=2, flip=True)
        model.make_heatmaps(batch, training=True)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.equal(got, want) and got.dtype == torch.bfloat16 and got.shape[0] == 12
    cpu_batch = {k: v.cpu() for k, v in batch.items()}
    cpu = model.cpu().make_heatmaps(cpu_batch, num_clips=2, flip=True)
    # the same float32 values within 1e-6, so at most one bfloat16 step (2**-8) apart
    torch.testing.assert_close(got.cpu().float(), cpu.float(), atol=2**-8, rtol=0)
