"""The detector: streaming = offline, window batching, frame scores, bounded memory, latency."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymg.data.synthetic_untrimmed import SyntheticUntrimmed
from pymg.engine.detector import Detector, OnlineDetector, WindowParams
from pymg.engine.segments import SegmentParams, sort_segments
from pymg.models import STGCN, PoseC3D

NAMES = [f"g{i}" for i in range(4)] + ["background"]


@pytest.fixture(scope="module")
def recording():
    rec = SyntheticUntrimmed(3, seconds=12, classes=(3, 7, 16, 31), layout="imigue22")[0]
    t = rec["total_frames"]
    # a second, less confident person on some frames and nobody on others
    kp = np.concatenate([rec["keypoint"], rec["keypoint"] + 40.0])
    sc = np.concatenate([rec["keypoint_score"], rec["keypoint_score"] * 0.3])
    kp[1, ::3], sc[1, ::3] = 0.0, 0.0
    kp[:, 50:60], sc[:, 50:60] = 0.0, 0.0
    rec.update(keypoint=kp.astype(np.float32), keypoint_score=sc.astype(np.float32))
    assert t == 300
    return rec


def _model(arch: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if arch == "posec3d":
        return PoseC3D("imigue22", num_classes=5, clip_len=8, size=16, base_channels=4,
                       stage_blocks=(1, 1, 1), dropout=0.0)  # fmt: skip
    return STGCN("imigue22", num_classes=5, clip_len=8, base_channels=8, num_blocks=2,
                 down_blocks=(), inflate_blocks=())  # fmt: skip


def _detector(arch: str, recording, **windows) -> Detector:
    """A random model whose thresholds sit inside its own score range, so segments occur."""
    wp = WindowParams(**{"window": 24, "stride": 6, "batch_windows": 3, **windows})
    det = Detector(_model(arch), NAMES, "imigue22", windows=wp, size=16)
    scores = det.run(recording, keep_scores=True)[1].scores[:, :-1]
    high = float(np.quantile(scores, 0.9))
    det.segments = SegmentParams((high,), hysteresis=float(np.ptp(scores)) / 10, min_len=2,
                                 merge_gap=2, max_len=40)  # fmt: skip
    return det


def _stream(det: Detector, recording) -> tuple[list, OnlineDetector, list[int]]:
    """Push one frame at a time with only the persons that are seen in it (M varies, 0 too)."""
    stream = det.stream(recording["img_shape"], keep_scores=True)
    out, when = [], []
    kp, sc = recording["keypoint"], recording["keypoint_score"]
    for f in range(kp.shape[1]):
        seen = sc[:, f].sum(-1) > 0
        for seg in stream.push(kp[seen, f], sc[seen, f]):
            out.append(seg)
            when.append(f)
    out += stream.flush()
    return out, stream, when


@pytest.mark.parametrize("arch", ["posec3d", "stgcn"])
def test_streaming_equals_offline_exactly(arch, recording):
    det = _detector(arch, recording)
    offline, off_stream = det.run(recording, keep_scores=True)
    online, stream, _ = _stream(det, recording)
    assert offline, "the thresholds should give segments"
    assert sort_segments(online) == offline  # same frames, labels and float scores
    np.testing.assert_array_equal(stream.scores, off_stream.scores)


def test_every_window_of_a_group_goes_through_one_model_input_call(recording, monkeypatch):
    det = _detector("posec3d", recording, batch_windows=4, stride=7)
    calls = []
    make_input = det.model.make_input

    def counting(batch, **kw):
        calls.append(tuple(batch["keypoint"].shape))
        return make_input(batch, **kw)

    monkeypatch.setattr(det.model, "make_input", counting)
    windows = []
    det.run(recording, on_window=lambda s, n, p: windows.append((s, n)))
    t, w, s = 300, 24, 7
    full = (t - w) // s + 1  # 40 windows; the last ends at frame 297
    assert [x for x, _ in windows[:full]] == list(range(0, full * s, s))
    assert windows[full:] == [(t - w, w)]  # frames after the last full window: one tail window
    sizes = [c[0] for c in calls]
    assert sizes == [4] * (full // 4) + [full % 4 + 1]  # groups of 4, the rest with the tail
    assert all(c[1:] == (1, w, 22, 2) for c in calls)


def test_batched_windows_match_windows_scored_alone(recording):
    det = _detector("posec3d", recording)
    m = recording["keypoint"][:1, :48]
    kp = np.stack([m[:, i : i + 24] for i in (0, 6, 12, 24)])
    sc = np.stack([recording["keypoint_score"][:1, i : i + 24] for i in (0, 6, 12, 24)])
    length = np.array([24, 24, 24, 24])
    together = det.score_windows(kp, sc, length, recording["img_shape"])
    alone = np.concatenate(
        [det.score_windows(kp[i : i + 1], sc[i : i + 1], length[:1], recording["img_shape"])
         for i in range(4)]
    )  # fmt: skip
    assert together.shape == (4, 5) and together.dtype == np.float32
    np.testing.assert_allclose(together.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert np.abs(together[0] - together[3]).max() > 1e-6  # windows are not mixed up


def test_frame_scores_are_the_mean_of_the_covering_windows(recording):
    det = _detector("posec3d", recording, stride=7)
    windows = []
    _, stream = det.run(
        recording, keep_scores=True, on_window=lambda s, n, p: windows.append((s, n, p))
    )
    total = np.zeros((300, 5))
    count = np.zeros(300)
    full = len(windows) - 1  # 40 full windows at 0, 7, ..., 273, then the tail at 276
    assert windows[-1][:2] == (276, 24)
    for i, (s, n, p) in enumerate(windows):
        lo = s if i < full else max(s, full * 7)  # the tail adds to frames 280.. only
        total[lo : s + n] += p
        count[lo : s + n] += 1
    np.testing.assert_allclose(stream.scores, total / count[:, None], rtol=1e-6)


def test_memory_is_bounded_by_the_window_and_latency_by_the_stated_bound(recording):
    det = _detector("posec3d", recording)
    long = {k: v for k, v in recording.items()}
    long["keypoint"] = np.concatenate([recording["keypoint"]] * 4, axis=1)
    long["keypoint_score"] = np.concatenate([recording["keypoint_score"]] * 4, axis=1)
    long["total_frames"] = 1200
    online, stream, when = _stream(det, long)
    assert stream.buffered_frames <= 24 + 3 * 6
    assert when and max(f - s.start for f, s in zip(when, online, strict=False)) <= (
        stream.latency_bound
    )
    assert stream.latency_bound == 24 - 1 + 2 * 6 + det.segments.settle
