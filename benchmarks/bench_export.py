"""The exported recognizer on the CPU: onnxruntime vs torch eager vs ``torch.compile``.

Run: ``pytest benchmarks/bench_export.py --benchmark-only`` (exports and compiles first, outside
the timing; a few minutes on 2 cores). The model is the recipe's PoseC3D (imigue41 joints, 48
frames, 56 x 56 heatmaps, base_channels 32, stage_blocks 4-6-3, K = 32, random weights), one
temporal view without the flip (``--single-view``); inputs are clips of 100 frames, one person.
Groups, each with three rows:

* ``onnxruntime``: the ONNX file of :func:`pymg.engine.export_recognizer` (standard operators:
  the pure-torch alignment and heatmap formulas) in an onnxruntime CPU session;
* ``eager``: the same graph in torch with pymg's custom ops (the native kernels), what
  ``Recognizer.predict`` runs after its data pipeline, and what the pt2 file holds;
* ``compiled``: that module under ``torch.compile`` (inductor; the custom ops stay opaque).

``batch 1`` is the latency of one clip, ``batch 16`` the time of 16 clips (throughput = 16 /
time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from pymg.engine import Recognizer, load_config
from pymg.engine.builders import build_model
from pymg.engine.export import build_graph, export_recognizer
from pymg.ops.timing import synthetic_keypoints
from pymg.topology import resolve_layout

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

RUNTIMES = ["onnxruntime", "eager", "compiled"]
BATCHES = [1, 16]
FRAMES = 100


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The recipe PoseC3D, its ONNX file and its eager / compiled graphs (built once)."""
    cfg = load_config("imigue41_posec3d_joint", ["data.test_size=56", "test.num_clips=1"])
    layout = resolve_layout(cfg.data.layout)
    torch.manual_seed(0)
    model = build_model(cfg, layout).eval()
    names = [f"class {i}" for i in range(cfg.model.num_classes)]
    rec = Recognizer(model, cfg, names, layout, torch.device("cpu"))
    path = tmp_path_factory.mktemp("bench_export") / "recipe.onnx"
    export_recognizer(rec, path, format="onnx", single_view=True)
    eager = build_graph([rec], ops="custom", single_view=True)
    torch._dynamo.reset()
    return {
        "session": ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]),
        "eager": eager,
        "compiled": torch.compile(eager),
        "num_joints": layout.num_joints,
    }


def _inputs(n: int, v: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    kp, sc = synthetic_keypoints("imigue41", n, 1, FRAMES, (720, 1280))
    assert kp.shape[3] == v
    return kp, sc, torch.tensor([[720, 1280]] * n, dtype=torch.int64)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_export_runtime(benchmark, recipe: dict[str, Any], runtime: str, batch: int) -> None:
    kp, sc, shape = _inputs(batch, recipe["num_joints"])
    if runtime == "onnxruntime":
        session = recipe["session"]
        feed = {"keypoint": kp.numpy(), "keypoint_score": sc.numpy(), "img_shape": shape.numpy()}

        def run() -> np.ndarray:
            return session.run(None, feed)[0]

    else:
        graph = recipe[runtime]

        def run() -> np.ndarray:
            with torch.no_grad():
                return graph(kp, sc, shape).numpy()

    out = run()  # warm-up (and compilation)
    assert out.shape == (batch, 32)
    benchmark.group = f"recognizer batch {batch} (T={FRAMES} -> 48 x 56 x 56, V=41)"
    rounds = 10 if batch == 1 else 3
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
