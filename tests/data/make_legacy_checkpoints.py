"""Write the legacy-checkpoint fixtures of tests/test_model_registry.py (run once, with pymg 0.x).

The checkpoints are written by the code of the release that still had the flat ``[model]`` table
(``stream``, ``gcn_channels``, ``gcn_adaptive = "none"``...), through its ``save_checkpoint``, with
the payload its trainer writes; next to each, ``<name>_expected.pt`` holds a fixed input and the
logits that release computed for it. Run from the repository root:
``PYTHONPATH=. python tests/data/make_legacy_checkpoints.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pymg.engine.builders import build_model, class_names_for, skeleton_to_dict
from pymg.engine.checkpointing import save_checkpoint
from pymg.engine.config import config_from_dict, config_to_dict

HERE = Path(__file__).parent

CASES = {
    "legacy_posec3d": {
        "data": {"layout": "imigue22", "train_size": 16, "test_size": 16},
        "model": {
            "arch": "posec3d",
            "stream": "limb",
            "num_classes": 5,
            "clip_len": 6,
            "base_channels": 4,
            "stage_blocks": [1, 1, 1],
            "dropout": 0.0,
            "embed_dim": 3,
        },
    },  # fmt: skip
    "legacy_stgcn": {
        "data": {"layout": "imigue22"},
        "model": {
            "arch": "stgcn",
            "num_classes": 4,
            "clip_len": 8,
            "gcn_channels": 8,
            "num_blocks": 4,
            "down_blocks": [3],
            "inflate_blocks": [3],
            "gcn_adaptive": "none",
            "partition": "spatial",
            "dropout": 0.0,
        },
    },  # fmt: skip
}


def make(name: str, values: dict) -> None:
    torch.manual_seed(sum(map(ord, name)))
    cfg = config_from_dict({"name": name, "loss": {"semantic": False}, **values})
    from pymg.topology import resolve_layout

    layout = resolve_layout(cfg.data.layout)
    model = build_model(cfg, layout).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong rebuild shows in the logits
        for key, tensor in model.state_dict().items():
            if key.endswith("running_mean"):
                tensor.normal_(0, 0.1)
            elif key.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
        model.cls_head.fc_cls.weight.normal_(0, 1.0)  # logits far from 0
    g = torch.Generator().manual_seed(1)
    v = layout.num_joints
    x = {  # a keypoint batch: exercises alignment, heatmap size, normalisation and the network
        "keypoint": torch.rand(2, 1, 11, v, 2, generator=g) * 16,
        "keypoint_score": torch.rand(2, 1, 11, v, generator=g),
        "length": torch.tensor([11, 7]),
        "img_shape": torch.tensor([[16, 16], [16, 16]]),
    }
    with torch.no_grad():
        logits = model(x).logits
    payload = {
        "config": config_to_dict(cfg),
        "layout": skeleton_to_dict(layout),
        "class_names": class_names_for(cfg.model.num_classes),
        "model": model.state_dict(),
        "epoch": 1,
        "iteration": 1,
        "best": {"metric": "top1", "value": None, "epoch": None},
    }
    save_checkpoint(payload, HERE / f"{name}.pt")
    torch.save({"input": x, "logits": logits}, HERE / f"{name}_expected.pt")


if __name__ == "__main__":
    for case, spec in CASES.items():
        make(case, spec)
