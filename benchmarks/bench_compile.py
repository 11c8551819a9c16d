"""Effect of ``torch.compile`` (inductor, fullgraph) on the input pipeline and on PoseC3D, CPU.

Run: ``pytest benchmarks/bench_compile.py --benchmark-only`` (compiles first, outside the timing;
about 2-3 minutes on 2 cores). Groups, each ``eager`` beside ``compiled``:

* ``inputs``: ``align_frames`` + ``joint_heatmaps`` of a keypoint batch (N = 8 clips of 100 frames,
  V = 17, to 48 x 56 x 56): the pymg custom ops are opaque to inductor, so this shows what
  compiling costs or saves around them;
* ``posec3d``: the reduced-size PoseC3D (iMiGUE-41 joints, ``[1, 41, 16, 32, 32]``) from keypoints
  to logits, inference (``eval``, no grad).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import pymg.ops as ops
from pymg.models import PoseC3D
from pymg.ops.timing import synthetic_keypoints

MODES = ["eager", "compiled"]


def _inputs(kp: torch.Tensor, sc: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    k, s = ops.align_frames(kp, sc, lengths, 48)
    return ops.joint_heatmaps(k, s, size=(56, 56))


def _maybe_compile(fn: Callable[..., Any], mode: str) -> Callable[..., Any]:
    if mode == "eager":
        return fn
    torch._dynamo.reset()
    return torch.compile(fn, fullgraph=True)


@pytest.mark.parametrize("mode", MODES)
def test_inputs(benchmark, mode: str) -> None:
    kp, sc = synthetic_keypoints("coco17", 8, 1, 100, (56, 56))
    lengths = torch.randint(40, 101, (8,), generator=torch.Generator().manual_seed(0))
    fn = _maybe_compile(_inputs, mode)
    fn(kp, sc, lengths)  # compiles
    benchmark.group = "inputs N=8 T=100->48 V=17 56x56"
    benchmark.pedantic(fn, args=(kp, sc, lengths), rounds=15, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("mode", MODES)
def test_posec3d(benchmark, mode: str) -> None:
    torch.manual_seed(0)
    model = PoseC3D("imigue41", clip_len=16, size=32).eval()
    kp, sc = synthetic_keypoints("imigue41", 1, 1, 60, (32, 32))
    batch = {"keypoint": kp, "keypoint_score": sc, "length": torch.tensor([60])}
    fn = _maybe_compile(model, mode)

    def run() -> torch.Tensor:
        with torch.no_grad():
            out: torch.Tensor = fn(batch)
        return out

    run()  # compiles
    benchmark.group = "posec3d imigue41 joint [1, 41, 16, 32, 32] from keypoints, eval"
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=2)
