"""collate: shapes, zero padding of frames, lengths, labels and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymg.data import collate


def item(t, m=1, v=5, label=0, seed=0, length=None):
    rng = np.random.default_rng(seed)
    return {
        "keypoint": rng.uniform(1, 50, size=(m, t, v, 2)).astype(np.float32),
        "keypoint_score": rng.uniform(0.1, 1, size=(m, t, v)).astype(np.float32),
        "label": label,
        "length": t if length is None else length,
        "img_shape": (60, 80 + seed),
        "frame_dir": f"x{seed}",
        "meta": {"index": seed},
    }


def test_collate_pads_and_stacks():
    samples = [item(3, m=2, label=1, seed=0), item(7, m=2, label=4, seed=1), item(1, m=2, seed=2)]
    b = collate(samples)
    assert b["keypoint"].shape == (3, 2, 7, 5, 2) and b["keypoint"].dtype == torch.float32
    assert b["keypoint_score"].shape == (3, 2, 7, 5) and b["keypoint_score"].dtype == torch.float32
    assert b["length"].tolist() == [3, 7, 1] and b["length"].dtype == torch.int64
    assert b["label"].tolist() == [1, 4, 0] and b["label"].dtype == torch.int64
    assert b["frame_dir"] == ["x0", "x1", "x2"] and b["meta"] == [{"index": i} for i in range(3)]
    assert b["img_shape"].tolist() == [[60, 80], [60, 81], [60, 82]]
    assert b["img_shape"].dtype == torch.int64
    for n, s in enumerate(samples):
        t = s["keypoint"].shape[1]
        np.testing.assert_array_equal(b["keypoint"][n, :, :t].numpy(), s["keypoint"])
        np.testing.assert_array_equal(b["keypoint_score"][n, :, :t].numpy(), s["keypoint_score"])
        assert not b["keypoint"][n, :, t:].any() and not b["keypoint_score"][n, :, t:].any()


def test_collate_defaults_and_errors():
    s = item(4)
    del s["length"], s["meta"], s["img_shape"], s["frame_dir"]
    b = collate([s])
    assert b["length"].tolist() == [4] and b["meta"] == [{}] and b["frame_dir"] == [None]
    assert "img_shape" not in b
    with pytest.raises(ValueError, match="at least one sample"):
        collate([])
    with pytest.raises(ValueError, match=r"samples\[1\] has M=2 persons but samples\[0\] has 1"):
        collate([item(3), item(3, m=2)])
    with pytest.raises(ValueError, match=r"samples\[1\] has V=6 joints but samples\[0\] has 5"):
        collate([item(3), item(3, v=6)])
    with pytest.raises(
        ValueError, match=r"samples\[0\] lacks keys \['keypoint_score', 'label'\] \(the scores are"
    ):
        collate([{"keypoint": np.zeros((1, 1, 1, 2)), "score": np.zeros((1, 1, 1))}])
    with pytest.raises(ValueError, match=r"samples\[1\]: label must be an int class index >= 0"):
        collate([item(3), item(3, label=-2)])
    with pytest.raises(ValueError, match=r"samples\[0\]: label must be an int"):
        collate([dict(item(3), label=1.5)])
    with pytest.raises(ValueError, match=r"samples\[1\] lacks 'img_shape' \(H, W\)"):
        collate([item(3), {k: v for k, v in item(3).items() if k != "img_shape"}])
    with pytest.raises(ValueError, match=r"samples\[0\]: img_shape must be a positive \(H, W\)"):
        collate([dict(item(3), img_shape=(0, 4))])
    with pytest.raises(ValueError, match=r"length 9 outside \[0, T=3\]"):
        collate([item(3, length=9)])
    bad_score = r"samples\[0\]: keypoint_score must have shape \[M, T, V\] = \[1, 3, 5\]"
    with pytest.raises(ValueError, match=bad_score):
        collate([dict(item(3), keypoint_score=np.zeros((1, 2, 5)))])
    with pytest.raises(TypeError, match=r"samples\[0\] must be a dict"):
        collate([[1, 2]])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"samples\[0\]: keypoint must have shape \[M, T, V, 2\]"):
        collate([dict(item(3), keypoint=np.zeros((1, 3, 5, 3)))])
