"""Every validation error of the public ops, and the native fallback / forcing behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest
import torch

import pymg.ops as ops
from pymg.limits import SizeLimitError
from pymg.ops import backend

KP = torch.zeros(2, 1, 3, 4, 2)
SC = torch.ones(2, 1, 3, 4)
LEN = torch.tensor([3, 2])
POS = torch.zeros(2, 1, 5)


def joints(**kw: Any) -> torch.Tensor:
    args: dict[str, Any] = {"keypoints": KP, "scores": SC, "size": (8, 8)}
    args.update(kw)
    return ops.joint_heatmaps(args.pop("keypoints"), args.pop("scores"), **args)


def limbs(**kw: Any) -> torch.Tensor:
    args: dict[str, Any] = {"keypoints": KP, "scores": SC, "size": (8, 8), "limbs": [(0, 1)]}
    args.update(kw)
    return ops.limb_heatmaps(args.pop("keypoints"), args.pop("scores"), **args)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"keypoints": KP.numpy()}, TypeError, "keypoints must be a torch.Tensor"),
        ({"keypoints": KP.long()}, TypeError, "keypoints must have a floating dtype"),
        ({"keypoints": KP[0]}, ValueError, r"keypoints must have shape \[N, M, T, V, 2\]"),
        ({"keypoints": torch.zeros(2, 1, 3, 4, 3)}, ValueError, "keypoints must have shape"),
        ({"keypoints": KP[:, :, :0], "scores": SC[:, :, :0]}, ValueError, "T, V >= 1"),
        ({"keypoints": KP[..., :0, :], "scores": SC[..., :0]}, ValueError, "T, V >= 1"),
        ({"scores": SC[:, :, :2]}, ValueError, r"scores must have shape \[N, M, T, V\]"),
        ({"scores": SC.int()}, TypeError, "scores must have a floating dtype"),
        ({"scores": [1.0]}, TypeError, "scores must be a torch.Tensor"),
        ({"size": 8}, TypeError, r"size must be a pair of ints \(H, W\)"),
        ({"size": (8, 8, 8)}, TypeError, "size must be a pair of ints"),
        ({"size": (8.0, 8)}, TypeError, "size must be a pair of ints"),
        ({"size": (True, 8)}, TypeError, "size must be a pair of ints"),
        ({"size": (0, 8)}, ValueError, "size must be positive"),
        ({"sigma": 0.0}, ValueError, "sigma must be finite and > 0"),
        ({"sigma": float("nan")}, ValueError, "sigma must be finite"),
        ({"sigma": "0.6"}, TypeError, "sigma must be a real number"),
        ({"sigma": 9e-4}, ValueError, r"sigma must be >= MIN_SIGMA = 0.001 pixels, got 0.0009"),
        ({"sigma": 1e-30}, ValueError, "sigma must be >= MIN_SIGMA"),
        ({"sigma": float("inf")}, ValueError, "sigma must be finite"),
        ({"eps": -1e-3}, ValueError, "eps must be finite and >= 0"),
        ({"dtype": torch.float64}, TypeError, "dtype must be one of"),
        ({"dtype": "float16"}, TypeError, "dtype must be one of"),
        ({"impl": "cuda"}, ValueError, "impl must be one of"),
    ],
)
def test_joint_heatmap_errors(kw: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        joints(**kw)


@pytest.mark.parametrize(
    ("limb_arg", "error", "match"),
    [
        ([(0, 4)], ValueError, r"limbs indices must be in \[0, V\) = \[0, 4\)"),
        ([(-1, 0)], ValueError, "limbs indices must be in"),
        ([(0, 1, 2)], ValueError, r"limbs must have shape \[L, 2\]"),
        ([], ValueError, r"limbs must have shape \[L, 2\] with L >= 1"),
        ([(0, 1), (2,)], ValueError, r"limbs must have shape \[L, 2\]"),
        ([(0.0, 1.0)], TypeError, "limbs must hold ints"),
        (torch.tensor([[0.0, 1.0]]), TypeError, "limbs must hold integers"),
        (torch.tensor([0, 1]), ValueError, r"limbs must have shape \[L, 2\]"),
        ("01", TypeError, "limbs must be a sequence or tensor of ints"),
    ],
)
def test_limb_errors(limb_arg: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        limbs(limbs=limb_arg)


def test_limbs_accept_numpy_and_tensors() -> None:
    import numpy as np

    want = limbs(limbs=[(0, 1), (2, 3)], impl="reference")
    for form in (np.array([[0, 1], [2, 3]]), torch.tensor([[0, 1], [2, 3]], dtype=torch.int32)):
        assert torch.equal(limbs(limbs=form, impl="reference"), want)


@pytest.mark.parametrize(
    ("heatmaps", "perm", "error", "match"),
    [
        (torch.zeros(1, 3, 1, 2, 2), [0, 1], ValueError, r"perm must have length C = 3"),
        (torch.zeros(1, 3, 1, 2, 2), [0, 1, 1], ValueError, r"perm must be a permutation of range"),
        (torch.zeros(1, 3, 1, 2, 2), [0, 1, 3], ValueError, "perm must be a permutation"),
        (torch.zeros(1, 3, 1, 2, 2), [0.0, 1, 2], TypeError, "perm must hold ints"),
        (torch.zeros(3, 1, 2, 2), [0, 1, 2], ValueError, r"heatmaps must have shape \[N, C, T"),
        ([0.0], [0], TypeError, "heatmaps must be a torch.Tensor"),
    ],
)
def test_flip_errors(heatmaps: Any, perm: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ops.flip_heatmaps(heatmaps, perm)


@pytest.mark.parametrize(
    ("args", "kw", "error", "match"),
    [
        ((torch.tensor([3.0]), 4), {}, TypeError, "lengths must have an integer dtype"),
        (([3], 4), {}, TypeError, "lengths must be an integer torch.Tensor"),
        ((torch.tensor([[3]]), 4), {}, ValueError, r"lengths must have shape \[N\]"),
        ((torch.tensor([3, 0]), 4), {}, ValueError, "lengths must be >= 1"),
        ((LEN, 0), {}, ValueError, "clip_len must be an int >= 1, got 0"),
        ((LEN, 4.0), {}, TypeError, "clip_len must be an int"),
        ((LEN, 4), {"num_clips": 0}, ValueError, "num_clips must be an int >= 1, got 0"),
        ((LEN, 4), {"strategy": "random"}, ValueError, "strategy must be one of"),
        ((LEN, 4), {"training": 1}, TypeError, "training must be a bool"),
        ((LEN, 4), {"generator": 0}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_frame_positions_errors(
    args: tuple[Any, ...], kw: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ops.frame_positions(*args, **kw)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"lengths": torch.tensor([4, 2])}, ValueError, r"lengths must be <= T = 3"),
        ({"lengths": torch.tensor([3])}, ValueError, r"lengths must have shape \[N\] = \[2\]"),
        ({"lengths": torch.tensor([0, 2])}, ValueError, "lengths must be >= 1"),
        ({"positions": POS.long()}, TypeError, "positions must have a floating dtype"),
        ({"positions": POS[0]}, ValueError, r"positions must have shape \[N, K, T'\]"),
        ({"positions": POS[:1]}, ValueError, "with N = 2"),
        ({"positions": POS[:, :, :0]}, ValueError, "T' >= 1"),
        ({"positions": [0.0]}, TypeError, "positions must be a floating torch.Tensor"),
        ({"mode": "cubic"}, ValueError, "mode must be one of"),
        ({"eps": -1.0}, ValueError, "eps must be finite and >= 0"),
        ({"scores": SC[:1]}, ValueError, "scores must have shape"),
        ({"keypoints": KP[..., :1]}, ValueError, "keypoints must have shape"),
    ],
)
def test_gather_errors(kw: dict[str, Any], error: type[Exception], match: str) -> None:
    args: dict[str, Any] = {"keypoints": KP, "scores": SC, "lengths": LEN, "positions": POS}
    args.update(kw)
    with pytest.raises(error, match=match):
        ops.gather_frames(
            args.pop("keypoints"), args.pop("scores"), args.pop("lengths"), args.pop("positions"),
            **args,
        )  # fmt: skip


def test_align_errors() -> None:
    with pytest.raises(ValueError, match=r"lengths must be <= T = 3"):
        ops.align_frames(KP, SC, torch.tensor([5, 1]), 4)
    with pytest.raises(ValueError, match="strategy must be one of"):
        ops.align_frames(KP, SC, LEN, 4, strategy="pad")
    with pytest.raises(ValueError, match="mode must be one of"):
        ops.align_frames(KP, SC, LEN, 4, mode="cubic")


def test_device_mismatch_is_reported() -> None:
    meta_scores = torch.ones(2, 1, 3, 4, device="meta")
    with pytest.raises(ValueError, match="scores is on meta but keypoints are on cpu"):
        joints(scores=meta_scores)
    with pytest.raises(ValueError, match="lengths is on meta"):
        ops.gather_frames(KP, SC, torch.tensor([3, 2], device="meta"), POS)
    with pytest.raises(ValueError, match="positions is on meta"):
        ops.gather_frames(KP, SC, LEN, POS.to("meta"))


def test_use_impl_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="impl must be one of"), ops.use_impl("fast"):
        pass


@pytest.fixture
def no_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the extension is missing and the warning was not given yet."""
    monkeypatch.setattr(backend, "_native_unusable", lambda device: "pymg._C: test stand-in")
    monkeypatch.setattr(backend, "_warned", False)


@pytest.mark.usefixtures("no_native")
def test_fallback_warns_once_and_matches_reference() -> None:
    with pytest.warns(ops.NativeFallbackWarning, match=r"unavailable: pymg._C: test stand-in"):
        first = joints()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = joints()  # no second warning in this process
        limbs()
        ops.gather_frames(KP, SC, LEN, POS)
    assert torch.equal(first, second)
    assert torch.equal(first, joints(impl="reference"))


@pytest.mark.usefixtures("no_native")
def test_forced_native_raises_when_missing() -> None:
    with pytest.raises(RuntimeError, match="impl='native' was requested but pymg._C: test"):
        joints(impl="native")
    with pytest.raises(RuntimeError, match="impl='native'"), ops.use_impl("native"):
        ops.gather_frames(KP, SC, LEN, POS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        joints(impl="reference")  # forcing the reference never warns


def test_native_available_reports_a_bool() -> None:
    assert isinstance(ops.native_available("cpu"), bool)
    assert ops.native_available("meta") is False


def test_missing_extension_in_a_fresh_process() -> None:
    """With pymg._C unimportable the ops still work and warn exactly once."""
    code = textwrap.dedent(
        """
        import sys, warnings
        sys.modules["pymg._C"] = None  # makes `import pymg._C` raise ImportError
        import torch
        import pymg.ops as ops
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kp = torch.rand(1, 1, 2, 3, 2) * 8
            ops.joint_heatmaps(kp, size=(8, 8))
            ops.limb_heatmaps(kp, limbs=[(0, 1)], size=(8, 8))
            ops.align_frames(kp, None, torch.tensor([2]), 4)
        assert not ops.native_available()
        messages = [str(w.message) for w in caught if w.category is ops.NativeFallbackWarning]
        assert len(messages) == 1, messages
        assert "pymg._C is not loaded (ModuleNotFoundError" in messages[0], messages[0]
        print("ok")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("impl", ["reference", "native"])
def test_huge_outputs_refused_at_the_public_op(impl, monkeypatch):
    """Sizes that would allocate tens of GB fail before allocating, naming size, bytes and cap."""
    if impl == "native" and not ops.native_available():
        pytest.skip("needs pymg._C")
    kp = torch.zeros(1, 1, 1, 2, 2)
    joint = r"joint_heatmaps: size: an output of shape \[1, 2, 1, 100000, 100000\] and dtype "
    with pytest.raises(SizeLimitError, match=joint + r"torch.float32 needs 80000000000 bytes .*"
                       r"cap of 2147483648 bytes .*PYMG_MAX_ARRAY_BYTES"):  # fmt: skip
        ops.joint_heatmaps(kp, size=(100_000, 100_000), impl=impl)
    limb = r"limb_heatmaps: size: an output of shape \[1, 1, 1, 100000, 100000\] and dtype "
    with pytest.raises(SizeLimitError, match=limb + r"torch.float16 needs 20000000000 bytes"):
        ops.limb_heatmaps(kp, limbs=[(0, 1)], size=(100_000, 100_000), dtype=torch.float16)
    align = r"align_frames: clip_len: an output of shape \[1, 1, 100000000, 2, 2\] .* needs "
    with pytest.raises(SizeLimitError, match=align + r"1600000000 bytes .*cap of 1000000 "):
        monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", "1000000")
        ops.align_frames(kp, None, torch.tensor([1]), 100_000_000, impl=impl)
    monkeypatch.setenv("PYMG_MAX_ARRAY_BYTES", "64")  # [1, 2, 1, 2, 2] float32: 32 bytes
    assert ops.joint_heatmaps(kp, size=(2, 2), impl=impl).shape == (1, 2, 1, 2, 2)
