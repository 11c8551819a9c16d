"""PoseC3D speed per clip: forward and forward+backward, fp32 / channels_last_3d / bf16 autocast.

Run: ``pytest benchmarks/bench_models.py --benchmark-only`` (add ``-m "not slow"`` for the reduced
cases only). Reduced size = the full ResNet3dSlowOnly on ``[1, C, 16, 32, 32]`` (runs on 2 cores);
full size = ``[1, C, 48, 56, 56]`` (marked ``slow``; skipped unless ``--bench-full`` is given when
benchmarks/conftest.py defines that option). On a CUDA machine the same cases run on the GPU
(marked ``cuda``). ``from_keypoints`` adds the heatmap generation from a keypoint batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import torch

from pymg.models.posec3d import PoseC3D

REDUCED = {"clip_len": 16, "size": 32}
FULL = {"clip_len": 48, "size": 56}
MODES = ("fp32", "channels_last", "bf16")
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
        ],
    ),
]


def _full_enabled(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("--bench-full"))
    except ValueError:  # option not defined: the `slow` marker alone selects the full cases
        return True


def _autocast(mode: str, device: str) -> contextlib.AbstractContextManager[None]:
    if mode == "bf16":
        return torch.autocast(device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _setup(
    layout: str, stream: str, mode: str, device: str, sizes: dict[str, int]
) -> tuple[PoseC3D, dict[str, torch.Tensor], torch.Tensor]:
    torch.manual_seed(0)
    heatmap_dtype = torch.bfloat16 if mode == "bf16" else None
    model = PoseC3D(layout, stream=stream, heatmap_dtype=heatmap_dtype, **sizes).to(device)
    if mode == "channels_last":
        model = model.to(memory_format=torch.channels_last_3d)
    v = model.layout.num_joints
    s = sizes["size"]
    g = torch.Generator().manual_seed(0)
    batch = {
        "keypoint": (torch.rand(1, 1, 60, v, 2, generator=g) * (s - 1)).to(device),
        "keypoint_score": torch.ones(1, 1, 60, v, device=device),
        "length": torch.tensor([60], device=device),
    }
    heat = model.make_heatmaps(batch)
    return model, batch, heat


def _sync(device: str) -> Callable[[], None]:
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None


@contextlib.contextmanager
def _quiet_ops() -> Iterator[None]:
    import pymg.ops as ops

    with ops.use_impl("auto" if ops.native_available("cpu") else "reference"):
        yield


def _run(benchmark, layout, stream, mode, device, sizes, backward, from_keypoints, rounds):  # type: ignore[no-untyped-def]
    with _quiet_ops():
        model, batch, heat = _setup(layout, stream, mode, device, sizes)
        sync = _sync(device)
        model.train(backward)

        def step() -> None:
            with _autocast(mode, device):
                if backward:
                    model.zero_grad(set_to_none=True)
                    out = model(batch) if from_keypoints else model(heat)
                    out.logits.float().sum().backward()
                else:
                    with torch.no_grad():
                        model(batch) if from_keypoints else model(heat)
            sync()

        benchmark.extra_info.update(
            {"layout": layout, "stream": stream, "mode": mode, "input": tuple(heat.shape)}
        )
        benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward_backward"])
def test_posec3d_reduced(benchmark, device: str, mode: str, backward: bool) -> None:  # type: ignore[no-untyped-def]
    """Joint stream, imigue41 (C=41), one clip [1, 41, 16, 32, 32]."""
    _run(benchmark, "imigue41", "joint", mode, device, REDUCED, backward, False, rounds=5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("stream", ["joint", "limb"])
def test_posec3d_reduced_from_keypoints(benchmark, device: str, stream: str) -> None:  # type: ignore[no-untyped-def]
    """Keypoint batch -> alignment -> heatmaps -> forward, fp32, imigue41."""
    _run(benchmark, "imigue41", stream, "fp32", device, REDUCED, False, True, rounds=5)


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward_backward"])
@pytest.mark.parametrize("layout", ["coco17", "imigue41"])
def test_posec3d_full(
    benchmark, request, layout: str, device: str, mode: str, backward: bool
) -> None:  # type: ignore[no-untyped-def]
    """Full size one clip [1, C, 48, 56, 56] (C = 17 or 41)."""
    if not _full_enabled(request.config):
        pytest.skip("full-size benchmarks need --bench-full")
    rounds = 10 if device == "cuda" else 2
    _run(benchmark, layout, "joint", mode, device, FULL, backward, False, rounds=rounds)
