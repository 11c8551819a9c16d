"""Temporal alignment: frame_positions strategies, gather_frames, align_frames."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import pymg.ops as ops

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_native = pytest.mark.skipif(not ops.native_available(), reason="needs pymg._C")


def positions(lengths: list[int], clip_len: int, **kw) -> torch.Tensor:
    return ops.frame_positions(torch.tensor(lengths), clip_len, **kw)


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


# ---------------------------------------------------------------- "uniform" (the paper's)


@pytest.mark.parametrize(
    ("t", "clip_len"), [(100, 48), (48, 48), (49, 48), (95, 48), (7, 3), (2, 2)]
)
def test_uniform_long_clips_keep_ends_and_round(t: int, clip_len: int) -> None:
    p = positions([t], clip_len)
    assert p.shape == (1, 1, clip_len) and p.dtype == torch.float32
    want = [round_half_up(Fraction(k * (t - 1), clip_len - 1)) for k in range(clip_len)]
    assert p[0, 0].tolist() == want
    assert want[0] == 0 and want[-1] == t - 1
    assert (p[0, 0, 1:] > p[0, 0, :-1]).all()  # strictly increasing: no frame repeats
    if t == clip_len:
        assert p[0, 0].tolist() == list(range(t))


@pytest.mark.parametrize(("t", "clip_len"), [(3, 5), (10, 48), (47, 48), (2, 7)])
def test_uniform_short_clips_interpolate(t: int, clip_len: int) -> None:
    p = positions([t], clip_len)[0, 0]
    want = torch.tensor([k * (t - 1) / (clip_len - 1) for k in range(clip_len)])
    assert torch.equal(p, want)
    assert p[0] == 0 and p[-1] == t - 1
    # on a linear ramp the interpolated values are the positions themselves
    ramp = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(1, 1, t, 1, 2)
    kp, sc = ops.gather_frames(ramp, None, torch.tensor([t]), p.view(1, 1, -1), impl="reference")
    torch.testing.assert_close(kp[0, 0, :, 0, 0], p, atol=1e-6, rtol=0)
    assert torch.equal(sc, torch.ones_like(sc))


def test_uniform_dyadic_ramp_is_exact() -> None:
    p = positions([3], 5)  # 0, 0.5, 1, 1.5, 2
    ramp = (torch.arange(3, dtype=torch.float32) * 4 + 1).view(1, 1, 3, 1, 1).repeat(1, 1, 1, 1, 2)
    for impl in ("reference", "auto"):
        kp, _ = ops.gather_frames(ramp, None, torch.tensor([3]), p, impl=impl)
        assert kp[0, 0, :, 0, 0].tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]


def test_uniform_degenerate_lengths() -> None:
    assert positions([1], 6).tolist() == [[[0.0] * 6]]
    assert positions([9, 10, 1], 1).flatten().tolist() == [4.0, 4.0, 0.0]  # middle (T-1)//2


def test_uniform_test_clips_shift_interior() -> None:
    t, clip_len, k = 100, 10, 4
    p = positions([t], clip_len, num_clips=k)[0]
    assert p.shape == (k, clip_len)
    step = Fraction(t - 1, clip_len - 1)
    for i in range(k):
        interior = [round_half_up((j + Fraction(i, k)) * step) for j in range(1, clip_len - 1)]
        assert p[i].tolist() == [0, *interior, t - 1]
    assert len({tuple(row) for row in p.tolist()}) == k  # the clips differ


def test_uniform_training_jitter(generator: torch.Generator) -> None:
    t, clip_len = 60, 12
    p = positions([t] * 50, clip_len, training=True, generator=generator)[:, 0]
    base = torch.tensor([j * (t - 1) / (clip_len - 1) for j in range(clip_len)])
    step = (t - 1) / (clip_len - 1)
    assert (p[:, 0] == 0).all() and (p[:, -1] == t - 1).all()
    assert ((p - base).abs() <= step / 2 + 0.5 + 1e-6).all()  # within half a step (+ rounding)
    assert (p[:, 1:] >= p[:, :-1]).all()
    assert (p == p.round()).all()  # T >= L: whole frames
    assert p[:, 1:-1].std(dim=0).min() > 0  # interior positions do move
    again = positions([t] * 50, clip_len, training=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[:, 0], p)
    short = positions([5] * 20, 9, training=True, generator=generator)[:, 0]
    assert ((short >= 0) & (short <= 4)).all() and (short != short.round()).any()


# ---------------------------------------------------------------- "pyskl" (UniformSampleFrames)


def pyskl_test_clips(n: int, clip_len: int, num_clips: int) -> np.ndarray:
    """PYSKL's test-mode rule with its global numpy seeding (state restored afterwards)."""
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(255)  # noqa: NPY002
        clips = []
        for i in range(num_clips):
            # PYSKL draws the p_interval ratio; its np.random.randint(1) draws nothing
            np.random.rand()  # noqa: NPY002
            if n < clip_len:
                start = i if n < num_clips else i * n // num_clips
                inds = np.arange(start, start + clip_len)
            elif n < 2 * clip_len:
                chosen = np.random.choice(clip_len + 1, n - clip_len, replace=False)  # noqa: NPY002
                offset = np.zeros(clip_len + 1, dtype=np.int64)
                offset[chosen] = 1
                inds = np.arange(clip_len) + np.cumsum(offset)[:-1]
            else:
                bids = np.array([i * n // clip_len for i in range(clip_len + 1)])
                inds = bids[:clip_len] + np.random.randint(np.diff(bids))  # noqa: NPY002
            clips.append(np.mod(inds, n))
        return np.stack(clips)
    finally:
        np.random.set_state(state)  # noqa: NPY002


@pytest.mark.parametrize("n", [1, 3, 20, 47, 48, 70, 95, 96, 200])
def test_pyskl_test_mode_replays_pyskl(n: int) -> None:
    torch.manual_seed(123)
    np.random.seed(321)  # noqa: NPY002
    got = positions([n, n], 48, strategy="pyskl", num_clips=5)
    want = pyskl_test_clips(n, 48, 5)
    assert got[0].tolist() == want.tolist() and got[1].tolist() == want.tolist()
    torch.manual_seed(7)
    np.random.seed(8)  # noqa: NPY002
    assert torch.equal(positions([n, n], 48, strategy="pyskl", num_clips=5), got)


def test_pyskl_short_clip_test_starts() -> None:
    p = positions([10], 16, strategy="pyskl", num_clips=5)[0]
    assert p[:, 0].tolist() == [i * 10 // 5 for i in range(5)]
    assert ((p[:, 1:] - p[:, :-1]) % 10 == 1).all()  # consecutive frames, looping


def test_pyskl_training_rules(generator: torch.Generator) -> None:
    n_short, n_mid, n_long, clip_len = 7, 60, 150, 48
    p = positions([n_short, n_mid, n_long], clip_len, strategy="pyskl", num_clips=3, training=True,
                  generator=generator)  # fmt: skip
    short, mid, long = p[0], p[1], p[2]
    assert ((short[:, 1:] - short[:, :-1]) % n_short == 1).all()
    steps = mid[:, 1:] - mid[:, :-1]
    assert ((steps == 1) | (steps == 2)).all() and (mid[:, -1] <= n_mid - 1).all()
    assert ((steps == 2).sum(dim=1) <= n_mid - clip_len).all()
    edges = torch.tensor([i * n_long // clip_len for i in range(clip_len + 1)], dtype=torch.float32)
    assert ((long >= edges[:-1]) & (long < edges[1:])).all()  # one frame per bin
    assert not torch.equal(long[0], long[1])
    again = positions([n_short, n_mid, n_long], clip_len, strategy="pyskl", num_clips=3,
                      training=True, generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert torch.equal(again, p)  # the fixture's generator is seeded with 0 too


# ---------------------------------------------------------------- "crop_pad" (ST-GCN)


def test_crop_pad(generator: torch.Generator) -> None:
    p = positions([10, 4], 6, strategy="crop_pad")
    assert p[0, 0].tolist() == [2, 3, 4, 5, 6, 7]  # centre crop
    assert p[1, 0].tolist() == [0, 1, 2, 3, 4, 5]  # 4 and 5 are padding
    multi = positions([10], 6, strategy="crop_pad", num_clips=3)[0]
    assert multi[:, 0].tolist() == [0, 2, 4]
    train = positions([10] * 30, 6, strategy="crop_pad", training=True, generator=generator)
    starts = train[:, 0, 0]
    assert ((starts >= 0) & (starts <= 4)).all() and len(set(starts.tolist())) > 1
    assert ((train[:, 0, 1:] - train[:, 0, :-1]) == 1).all()
    kp = torch.ones(1, 1, 4, 1, 2)
    out_kp, out_sc = ops.align_frames(kp, None, torch.tensor([4]), 6, strategy="crop_pad")
    assert out_sc[0, 0, :, 0].tolist() == [1, 1, 1, 1, 0, 0]
    assert out_kp[0, 0, 4:].abs().sum() == 0


# ---------------------------------------------------------------- gather_frames


def loop_gather(kp, sc, lengths, pos, mode: str, eps: float):
    """Per-element python oracle of gather_frames' documented rule."""
    n, m, _, v, _ = kp.shape
    k, j = pos.shape[1:]
    out_kp = torch.zeros(n * k, m, j, v, 2)
    out_sc = torch.zeros(n * k, m, j, v)

    def ok(x: torch.Tensor, s: torch.Tensor) -> bool:
        return bool(torch.isfinite(x).all()) and float(s) >= eps

    for a in range(n):
        length = int(lengths[a])
        for c in range(k):
            for q in range(j):
                p = float(pos[a, c, q])
                if not (0 <= p < length):
                    continue
                if mode == "nearest":
                    i0 = i1 = min(math.floor(np.float32(p) + np.float32(0.5)), length - 1)
                    w = 0.0
                else:
                    i0 = math.floor(p)
                    i1 = min(i0 + 1, length - 1)
                    w = 0.0 if i1 == i0 else float(np.float32(p) - np.float32(i0))
                for b in range(m):
                    for u in range(v):
                        xa, xb = kp[a, b, i0, u], kp[a, b, i1, u]
                        sa, sb = sc[a, b, i0, u], sc[a, b, i1, u]
                        both = ok(xa, sa) and ok(xb, sb)
                        row = a * k + c
                        if w == 0 or (not both and w < 0.5):
                            out_kp[row, b, q, u], out_sc[row, b, q, u] = xa, sa
                        elif not both:
                            out_kp[row, b, q, u], out_sc[row, b, q, u] = xb, sb
                        else:
                            ww = torch.tensor(w, dtype=torch.float32)
                            out_kp[row, b, q, u] = (1 - ww) * xa + ww * xb
                            out_sc[row, b, q, u] = (1 - ww) * sa + ww * sb
    return out_kp, out_sc


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("impl", ["reference", "auto"])
def test_gather_matches_loop_oracle(mode: str, impl: str, generator: torch.Generator) -> None:
    n, m, t, v = 2, 2, 6, 3
    kp = torch.rand(n, m, t, v, 2, generator=generator) * 10
    sc = torch.rand(n, m, t, v, generator=generator)
    sc[sc < 0.3] = 0.0
    kp[0, 0, 2, 1, 0] = float("nan")
    kp[1, 1, 3, 2, 1] = float("inf")
    lengths = torch.tensor([6, 4])
    pos = torch.rand(n, 2, 9, generator=generator) * 8 - 1
    pos[0, 0, :6] = torch.tensor([0.5, 1.5, 2.5, 5.5, 5.0, -0.0])
    pos[1, 1, :4] = torch.tensor([3.5, 3.999, 4.0, float("nan")])
    got_kp, got_sc = ops.gather_frames(kp, sc, lengths, pos, mode=mode, impl=impl)
    want_kp, want_sc = loop_gather(kp, sc, lengths, pos, mode, 1e-3)
    assert got_kp.shape == (n * 2, m, 9, v, 2) and got_sc.shape == (n * 2, m, 9, v)
    torch.testing.assert_close(got_kp, want_kp, atol=1e-6, rtol=0, equal_nan=True)
    torch.testing.assert_close(got_sc, want_sc, atol=1e-6, rtol=0)


def test_gather_never_blends_missing_points() -> None:
    kp = torch.tensor([0.0, 10.0, 20.0]).view(1, 1, 3, 1, 1).repeat(1, 1, 1, 1, 2)
    sc = torch.tensor([1.0, 0.0, 1.0]).view(1, 1, 3, 1)  # frame 1 is missing
    pos = torch.tensor([0.3, 0.5, 0.7, 1.2, 1.6, 0.0, 2.0]).view(1, 1, 7)
    out_kp, out_sc = ops.gather_frames(kp, sc, torch.tensor([3]), pos, impl="reference")
    # nearer frame copied unchanged; tie (w = 0.5) goes to the later frame
    assert out_kp[0, 0, :, 0, 0].tolist() == [0.0, 10.0, 10.0, 10.0, 20.0, 0.0, 20.0]
    assert out_sc[0, 0, :, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    nan_kp = kp.clone()
    nan_kp[0, 0, 1, 0, 0] = float("nan")
    out_kp, out_sc = ops.gather_frames(nan_kp, None, torch.tensor([3]), pos, impl="reference")
    assert out_kp[0, 0, 0, 0].tolist() == [0.0, 0.0]
    assert math.isnan(out_kp[0, 0, 2, 0, 0].item()) and out_kp[0, 0, 4, 0, 0].item() == 20.0


def test_gather_padding_and_tail() -> None:
    kp = torch.arange(1.0, 5.0).view(1, 1, 4, 1, 1).repeat(1, 1, 1, 1, 2)
    pos = torch.tensor([-0.5, 2.0, 2.5, 2.75, 3.0, 3.5]).view(1, 1, 6)
    out_kp, out_sc = ops.gather_frames(kp, None, torch.tensor([3]), pos, impl="reference")
    # length 3: p < 0 and p >= 3 give zeros; p in (2, 3) takes frame 2 (no frame 3 exists)
    assert out_kp[0, 0, :, 0, 0].tolist() == [0.0, 3.0, 3.0, 3.0, 0.0, 0.0]
    assert out_sc[0, 0, :, 0].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    near_kp, _ = ops.gather_frames(kp, None, torch.tensor([4]), pos, mode="nearest")
    assert near_kp[0, 0, :, 0, 0].tolist() == [0.0, 3.0, 4.0, 4.0, 4.0, 4.0]


def test_align_frames_identity_and_clip_rows() -> None:
    g = torch.Generator().manual_seed(3)
    kp = torch.rand(2, 1, 8, 4, 2, generator=g)
    sc = torch.rand(2, 1, 8, 4, generator=g) + 0.1
    out_kp, out_sc = ops.align_frames(kp, sc, torch.tensor([8, 8]), 8)
    assert torch.equal(out_kp, kp) and torch.equal(out_sc, sc)  # T == L: identity
    multi_kp, _ = ops.align_frames(kp, sc, torch.tensor([8, 5]), 4, num_clips=3)
    assert multi_kp.shape == (6, 1, 4, 4, 2)
    pos = positions([8, 5], 4, num_clips=3)
    direct, _ = ops.gather_frames(kp, sc, torch.tensor([8, 5]), pos)
    assert torch.equal(multi_kp, direct)
    assert torch.equal(multi_kp[3, 0, 0], kp[1, 0, 0])  # sample 1's first clip at row 1 * K


@pytest.mark.native
@needs_native
def test_native_gather_matches_reference(generator: torch.Generator) -> None:
    kp = torch.rand(3, 2, 7, 5, 2, generator=generator) * 20
    sc = torch.rand(3, 2, 7, 5, generator=generator)
    sc[sc < 0.2] = 0
    kp[kp > 19] = float("nan")
    lengths = torch.tensor([7, 3, 1])
    pos = torch.rand(3, 4, 11, generator=generator) * 9 - 1
    for mode in ("linear", "nearest"):
        a = ops.gather_frames(kp, sc, lengths, pos, mode=mode, impl="native")
        b = ops.gather_frames(kp, sc, lengths, pos, mode=mode, impl="reference")
        torch.testing.assert_close(a, b, atol=0, rtol=0, equal_nan=True)


@pytest.mark.cuda
@needs_cuda
def test_cuda_align_matches_cpu() -> None:
    g = torch.Generator().manual_seed(4)
    kp = torch.rand(2, 2, 9, 5, 2, generator=g) * 20
    sc = torch.rand(2, 2, 9, 5, generator=g)
    lengths = torch.tensor([9, 4])
    for impl in ("reference", "auto"):
        cpu = ops.align_frames(kp, sc, lengths, 12, num_clips=2, impl=impl)
        gpu = ops.align_frames(kp.cuda(), sc.cuda(), lengths, 12, num_clips=2, impl=impl)
        assert gpu[0].device.type == "cuda"
        torch.testing.assert_close((gpu[0].cpu(), gpu[1].cpu()), cpu, atol=1e-6, rtol=0)
