"""Detection speed on the CPU: frames per second of ``Detector.detect`` at the default W/S.

Run: ``pytest benchmarks/bench_detect.py --benchmark-only --benchmark-json detect.json``.

Cases: the quick model (the ``detect_demo`` config: small PoseC3D, 12 frames, 32x32 heatmaps) and
the recipe model (``detect_imigue41_posec3d_joint``: ResNet3dSlowOnly, 48 frames, 64x64 heatmaps),
each with 1 and 2 torch threads, on a synthetic recording (imigue41 layout, 1280x720) at the
config's window / stride / batch_windows. Weights are random (speed does not depend on them).

``extra_info`` of each case: ``fps`` (recording frames per second of wall time), ``realtime``
(fps / 25, the real-time factor against a 25 fps stream: > 1 is faster than real time) and the
shares of the time spent in the model's input (temporal alignment + heatmaps, ``make_input``), in
the network (``forward_input``) and in the rest (per-window crop, scores, segments).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from pymg.data.synthetic_untrimmed import SyntheticUntrimmed
from pymg.engine import load_config
from pymg.engine.builders import build_model, config_layout
from pymg.engine.detector import Detector, segment_params, window_params

CASES = {
    "quick": ("detect_demo", 20.0),  # config, seconds of recording
    "recipe": ("detect_imigue41_posec3d_joint", 4.0),
}


def _timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tic = time.perf_counter()
        out = fn(*args, **kwargs)
        sink.append(time.perf_counter() - tic)
        return out

    return wrapper


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_detect_speed(benchmark: Any, case: str, threads: int) -> None:
    name, seconds = CASES[case]
    cfg = load_config(name, ['model.pretrained=""'] if name != "detect_demo" else [])
    layout = config_layout(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, layout)
    if cfg.runtime.channels_last:
        model.to(memory_format=torch.channels_last_3d)
    names = [f"g{i}" for i in range(cfg.model.num_classes - 1)] + ["background"]
    det = Detector(model, names, layout, windows=window_params(cfg.detect),
                   segments=segment_params(cfg.detect), size=cfg.data.test_size)  # fmt: skip
    rec = SyntheticUntrimmed(3, seconds=max(seconds, 10.0), layout=cfg.data.layout)[0]
    frames = int(seconds * 25)
    rec = {**rec, "keypoint": rec["keypoint"][:, :frames],
           "keypoint_score": rec["keypoint_score"][:, :frames], "total_frames": frames,
           "segments": np.zeros((0, 3), np.int64)}  # fmt: skip
    inputs: list[float] = []
    network: list[float] = []
    model.make_input = _timed(model.make_input, inputs)  # type: ignore[method-assign]
    model.forward_input = _timed(model.forward_input, network)  # type: ignore[method-assign]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        det.detect(rec)  # warm-up
        inputs.clear()
        network.clear()
        tic = time.perf_counter()
        benchmark.pedantic(det.detect, args=(rec,), rounds=2, iterations=1)
        total = time.perf_counter() - tic
    finally:
        torch.set_num_threads(before)
    fps = 2 * frames / total
    benchmark.extra_info.update(
        frames=frames,
        fps=fps,
        realtime=fps / 25.0,
        heatmap_share=sum(inputs) / total,
        network_share=sum(network) / total,
        other_share=1.0 - (sum(inputs) + sum(network)) / total,
        window=det.windows.window,
        stride=det.windows.stride,
        batch_windows=det.windows.batch_windows,
    )
