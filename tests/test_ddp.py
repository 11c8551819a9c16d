"""Two-process DistributedDataParallel run on loopback (gloo) through the real launcher:
``torchrun --nproc-per-node 2 -m pymg train ...``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pymg.engine import Recognizer, load_checkpoint, load_config
from pymg.engine.builders import build_datasets
from pymg.engine.distributed import DistContext, init_distributed
from pymg.engine.evaluate import predict_dataset

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)

DDP = [  # on top of the tiny training: two epochs, validation, two flipped test views
    "schedule.epochs=2",
    "test.num_clips=2",
    "test.flip=true",
    "test.val_interval=1",
    "runtime.device=cpu",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_single_process_context_without_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    assert ctx.device == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda'"):
        init_distributed("tpu")


def test_torchrun_two_processes_gloo(tmp_path: Path, tiny_training: list[str]) -> None:
    work = tmp_path / "ddp"
    overrides = [*tiny_training, *DDP]
    args = [arg for item in overrides for arg in ("--set", item)]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        "-m", "pymg", "train", "demo", "--work-dir", str(work), *args, *_tensorboard_flag(),
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # only rank 0 speaks (the log lines go to stderr) and writes
    assert proc.stderr.count("epoch 1/2  loss") == 1 and proc.stderr.count("epoch 2/2  loss") == 1
    assert proc.stderr.count("pymg train: demo") == 1
    events = [json.loads(x) for x in (work / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    cfg = load_config("demo", [*overrides, f"runtime.work_dir={json.dumps(str(work))}"])
    train_set, test_set, names = build_datasets(cfg)
    ck = load_checkpoint(work / "latest.pt")
    # a DistributedSampler splits the clips: each rank runs half the iterations per epoch
    per_rank = -(-len(train_set) // 2)
    steps = per_rank // 4 if per_rank > 4 else 1
    assert ck["iteration"] == 2 * steps
    assert len(ck["rng"]) == 2  # both ranks' RNG states are kept for an exact resume
    # evaluation was sharded over the ranks and gathered in dataset order
    scores = np.load(work / "test_scores.npz")
    assert [str(c) for c in scores["clip_ids"]] == test_set.names
    rec = Recognizer.from_checkpoint(work / "latest.pt")
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    alone = predict_dataset(rec.model, test_set, names, ctx, num_clips=2, flip=True, size=16)
    np.testing.assert_allclose(scores["scores"], alone.scores, rtol=1e-5, atol=1e-6)
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert metrics["num_samples"] == len(test_set)
    if _tensorboard_flag():  # rank 0 alone writes TensorBoard events
        assert len(list((work / "tensorboard").glob("events.out.tfevents.*"))) == 1


def _tensorboard_flag() -> list[str]:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return []
    return ["--tensorboard"]
