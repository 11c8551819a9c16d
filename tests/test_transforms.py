"""Keypoint transforms: hand-computed points, a PYSKL-style sequential reference, composition,
missing points, flips and seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymg.data.transforms import (
    Compose,
    Flip,
    PoseCompact,
    PoseTransform,
    RandomResizedCrop,
    Resize,
    as_numpy_rng,
    test_transform,
    train_transform,
)
from pymg.topology import get_layout

LAYOUT = get_layout("imigue41")


def sample_of(kp, img_shape=(720, 1280), score=None):
    kp = np.asarray(kp, np.float32)
    if score is None:
        score = np.linspace(0.1, 1.0, kp[..., 0].size, dtype=np.float32).reshape(kp.shape[:3])
    return {"keypoint": kp, "score": score, "img_shape": img_shape}


def random_clip(seed, m=2, t=9, v=41, lo=(300, 150), hi=(900, 600)):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(lo, hi, size=(m, t, v, 2)).astype(np.float32)
    return sample_of(kp, score=rng.uniform(0.05, 1, size=(m, t, v)).astype(np.float32))


# ------------------------------------------------------------------ a PYSKL-style reference
def ref_compact(kp, img_shape, padding=0.25, threshold=10, hw_ratio=1.0, allow_imgpad=True):
    """Sequential float32 reference written from the PoseCompact rule (per-coordinate != 0)."""
    kp = kp.copy()
    h, w = img_shape
    x, y = kp[..., 0], kp[..., 1]
    min_x, max_x = np.min(x[x != 0], initial=np.inf), np.max(x[x != 0], initial=-np.inf)
    min_y, max_y = np.min(y[y != 0], initial=np.inf), np.max(y[y != 0], initial=-np.inf)
    if max_x - min_x < threshold or max_y - min_y < threshold:
        return kp, img_shape
    cx, cy = (max_x + min_x) / 2, (max_y + min_y) / 2
    hw, hh = (max_x - min_x) / 2 * (1 + padding), (max_y - min_y) / 2 * (1 + padding)
    if hw_ratio is not None:
        rh, rw = (hw_ratio, hw_ratio) if np.isscalar(hw_ratio) else hw_ratio
        hh = max(rh * hw, hh)
        hw = max(1 / rw * hh, hw)
    x0, x1, y0, y1 = cx - hw, cx + hw, cy - hh, cy + hh
    if allow_imgpad:
        x0, y0, x1, y1 = int(x0), int(y0), int(x1), int(y1)
    else:
        x0, y0, x1, y1 = int(max(0, x0)), int(max(0, y0)), int(min(w, x1)), int(min(h, y1))
    x[x != 0] -= x0
    y[y != 0] -= y0
    return kp, (y1 - y0, x1 - x0)


def ref_resize(kp, img_shape, new_hw):
    (h, w), (nh, nw) = img_shape, new_hw
    return kp * np.array([nw / w, nh / h], np.float32), (nh, nw)


def ref_train(sample, rng_seed, size=56):
    kp, shape = ref_compact(sample["keypoint"], sample["img_shape"])
    h, w = shape
    f = 64 / min(h, w)
    kp, shape = ref_resize(kp, shape, (int(h * f + 0.5), int(w * f + 0.5)))
    rng = np.random.default_rng(rng_seed)
    x0, y0, x1, y1 = RandomResizedCrop().crop_box(shape, rng)
    kp, shape = kp - np.array([x0, y0], np.float32), (y1 - y0, x1 - x0)
    kp, shape = ref_resize(kp, shape, (size, size))
    score = sample["score"]
    if rng.random() < 0.5:
        kp[..., 0] = shape[1] - kp[..., 0]
        perm = list(LAYOUT.joint_flip_perm)
        kp, score = kp[:, :, perm], score[:, :, perm]
    return kp, score, shape


# ------------------------------------------------------------------ PoseCompact
def test_pose_compact_hand_computed():
    kp = np.zeros((1, 2, 3, 2), np.float32)
    kp[0, 0, 0] = (100, 200)
    kp[0, 0, 1] = (300, 260)
    kp[0, 1, 2] = (150, 230)
    # box x 100..300, y 200..260 -> centre (200, 230), half (125, 37.5) -> square 125
    out = PoseCompact()(sample_of(kp))
    assert out["img_shape"] == (250, 250)
    np.testing.assert_allclose(out["keypoint"][0, 0, 0], (100 - 75, 200 - 105))
    np.testing.assert_allclose(out["keypoint"][0, 1, 2], (150 - 75, 230 - 105))
    assert (out["keypoint"][0, 0, 2] == 0).all() and (out["keypoint"][0, 1, :2] == 0).all()


def test_pose_compact_truncates_toward_zero_and_imgpad():
    kp = np.array([[[[2.6, 100.6], [42.6, 140.6]]]], np.float32)
    # x0 = int(22.6 - 25) = int(-2.4) = -2 (not floor -3); x1 = int(47.6) = 47
    out = PoseCompact()(sample_of(kp, (720, 45)))
    assert out["img_shape"] == (145 - 95, 47 + 2)
    np.testing.assert_allclose(out["keypoint"][0, 0, 0], (2.6 + 2, 100.6 - 95), atol=1e-5)
    clamp = PoseCompact(allow_imgpad=False)(sample_of(kp, (720, 45)))
    assert clamp["img_shape"] == (50, 45)  # x0 -> 0, x1 -> min(45, 47.6)
    np.testing.assert_allclose(clamp["keypoint"][0, 0, 0], (2.6, 5.6), atol=1e-5)


def test_pose_compact_threshold_and_ratio():
    kp = np.array([[[[100, 100], [105, 300]]]], np.float32)
    out = PoseCompact()(sample_of(kp))
    assert out["img_shape"] == (720, 1280)
    np.testing.assert_array_equal(out["keypoint"], kp)
    kp = np.array([[[[100, 100], [140, 300]]]], np.float32)
    free = PoseCompact(hw_ratio=None)(sample_of(kp))
    want_kp, want_shape = ref_compact(kp, (720, 1280), hw_ratio=None)
    assert free["img_shape"] == want_shape == (325 - 75, 145 - 95)
    np.testing.assert_allclose(free["keypoint"], want_kp, atol=1e-4)


@pytest.mark.parametrize("seed", range(6))
def test_pose_compact_matches_reference_random(seed):
    s = random_clip(seed, lo=(-50, -40), hi=(400, 900))
    s["keypoint"][0, 1, 3] = 0  # a missing point
    for kwargs in ({}, {"allow_imgpad": False}, {"hw_ratio": (0.5, 2.0)}, {"padding": 0.0}):
        ours = PoseCompact(**kwargs)(s)
        want, shape = ref_compact(s["keypoint"], s["img_shape"], **kwargs)
        assert ours["img_shape"] == shape
        np.testing.assert_allclose(ours["keypoint"], want, atol=1e-4)


# ------------------------------------------------------------------ Resize / crop
def test_resize_short_side_and_fixed():
    kp = np.array([[[[100.0, 50.0], [0.0, 0.0]]]], np.float32)
    out = Resize((-1, 64))(sample_of(kp, (250, 500)))
    assert out["img_shape"] == (64, 128)
    np.testing.assert_allclose(out["keypoint"][0, 0, 0], (100 * 128 / 500, 50 * 64 / 250), 1e-6)
    assert (out["keypoint"][0, 0, 1] == 0).all()
    assert Resize(64)(sample_of(kp, (500, 250)))["img_shape"] == (128, 64)
    out = Resize((56, 40))(sample_of(kp, (250, 500)))
    assert out["img_shape"] == (40, 56)
    np.testing.assert_allclose(out["keypoint"][0, 0, 0], (100 * 56 / 500, 50 * 40 / 250), 1e-6)
    assert Resize((100, 50), keep_ratio=True).new_size((250, 500)) == (50, 100)
    assert Resize((-1, 64)).new_size((101, 333)) == (64, int(333 * 64 / 101 + 0.5))


def test_random_resized_crop_properties():
    crop = RandomResizedCrop()
    for seed in range(50):
        x0, y0, x1, y1 = crop.crop_box((64, 90), np.random.default_rng(seed))
        w, h = x1 - x0, y1 - y0
        assert 0 <= x0 and x1 <= 90 and 0 <= y0 and y1 <= 64
        assert 0.5 <= w * h / (64 * 90) <= 1.02 and 0.7 <= w / h <= 1.4
    s = random_clip(0, lo=(1, 1), hi=(60, 60))
    s["img_shape"] = (64, 64)
    full = RandomResizedCrop((1.0, 1.0), (1.0, 1.0))(s, rng=1)
    np.testing.assert_allclose(full["keypoint"], s["keypoint"], atol=1e-5)
    assert full["img_shape"] == (64, 64)
    # impossible aspect -> centred square fallback
    odd = RandomResizedCrop(aspect_ratio_range=(9, 9))
    assert odd.crop_box((64, 100), np.random.default_rng(0)) == (18, 0, 82, 64)
    rng = np.random.default_rng(4)
    x0, y0, _, _ = RandomResizedCrop().crop_box((64, 90), np.random.default_rng(4))
    out = RandomResizedCrop()(sample_of(np.full((1, 1, 1, 2), 30.0), (64, 90)), rng=rng)
    np.testing.assert_allclose(out["keypoint"][0, 0, 0], (30 - x0, 30 - y0))


# ------------------------------------------------------------------ Flip
def test_flip_permutes_joints_and_scores():
    s = random_clip(1)
    s["keypoint"][0, 0, 5] = 0  # missing
    perm = np.array(LAYOUT.joint_flip_perm)
    out = Flip(1.0, LAYOUT)(s)
    w = s["img_shape"][1]
    want = s["keypoint"].copy()
    want[..., 0] = w - want[..., 0]
    want[0, 0, 5] = 0
    np.testing.assert_allclose(out["keypoint"], want[:, :, perm], atol=1e-4)
    np.testing.assert_array_equal(out["score"], s["score"][:, :, perm])
    assert (out["keypoint"][0, 0, perm.tolist().index(5)] == 0).all() and out["flip"]
    back = Flip(1.0, "imigue41")(out)
    np.testing.assert_allclose(back["keypoint"], s["keypoint"], atol=1e-4)
    assert not back["flip"]
    same = Flip(0.0, LAYOUT)(s)
    np.testing.assert_array_equal(same["keypoint"], s["keypoint"])
    assert not same["flip"]


# ------------------------------------------------------------------ composition
@pytest.mark.parametrize("seed", range(5))
def test_composition_equals_sequential(seed):
    s = random_clip(seed)
    s["keypoint"][1, 2, 7] = 0
    steps = [
        PoseCompact(),
        Resize((-1, 64)),
        RandomResizedCrop(),
        Resize((56, 56)),
        Flip(0.5, LAYOUT),
    ]
    folded = Compose(steps)(s, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    seq = s
    for step in steps:
        seq = step(seq, rng=rng)
    assert folded["img_shape"] == seq["img_shape"] == (56, 56)
    np.testing.assert_allclose(folded["keypoint"], seq["keypoint"], atol=1e-4)
    np.testing.assert_array_equal(folded["score"], seq["score"])
    assert folded["flip"] == seq["flip"]


@pytest.mark.parametrize("seed", range(8))
def test_train_preset_matches_reference(seed):
    s = random_clip(seed)
    out = train_transform(LAYOUT)(s, rng=np.random.default_rng(seed))
    kp, score, shape = ref_train(s, seed)
    assert out["img_shape"] == shape == (56, 56)
    np.testing.assert_allclose(out["keypoint"], kp, atol=2e-3)
    np.testing.assert_array_equal(out["score"], score)
    assert out["keypoint"].dtype == np.float32 and out["keypoint"].shape == s["keypoint"].shape


def test_test_preset_matches_reference():
    s = random_clip(3)
    out = test_transform(size=64)(s)
    kp, shape = ref_compact(s["keypoint"], s["img_shape"])
    kp, shape = ref_resize(kp, shape, (64, 64))
    assert out["img_shape"] == shape == (64, 64)
    np.testing.assert_allclose(out["keypoint"], kp, atol=1e-3)
    assert 0 <= out["keypoint"].min() and out["keypoint"].max() < 64


def test_missing_points_stay_zero():
    s = random_clip(2)
    s["keypoint"][0, :, 4] = 0
    s["keypoint"][1, 3, 9] = np.nan
    for seed in range(10):
        out = train_transform(LAYOUT)(s, rng=seed)
        perm = list(LAYOUT.joint_flip_perm) if out["flip"] else list(range(41))
        j4, j9 = perm.index(4), perm.index(9)
        assert (out["keypoint"][0, :, j4] == 0).all()
        assert (out["keypoint"][1, 3, j9] == 0).all() and out["score"][1, 3, j9] == 0
        assert np.isfinite(out["keypoint"]).all()
        assert (out["keypoint"] != 0).any(-1).sum() == 2 * 9 * 41 - 9 - 1


def test_seeds_reproduce():
    s = random_clip(5)
    t = train_transform(LAYOUT)
    a, b = t(s, rng=11), t(s, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    outs = {t(s, rng=k)["keypoint"].tobytes() for k in range(6)}
    assert len(outs) > 1
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    np.testing.assert_array_equal(t(s, rng=g1)["keypoint"], t(s, rng=g2)["keypoint"])
    held = train_transform(LAYOUT, generator=7)  # one stream: successive calls differ
    stream = np.random.default_rng(7)
    for _ in range(3):
        np.testing.assert_array_equal(held(s)["keypoint"], t(s, rng=stream)["keypoint"])
    assert s["keypoint"].dtype == np.float32  # input untouched
    np.testing.assert_array_equal(s["keypoint"], random_clip(5)["keypoint"])


def test_argument_errors():
    with pytest.raises(ValueError, match="padding must be >= 0"):
        PoseCompact(padding=-1)
    with pytest.raises(ValueError, match="hw_ratio must be > 0"):
        PoseCompact(hw_ratio=0)
    with pytest.raises(ValueError, match="scale must hold positive sizes"):
        Resize((0, 5))
    with pytest.raises(ValueError, match="scale must be an int or a"):
        Resize((1, 2, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="area_range must satisfy"):
        RandomResizedCrop(area_range=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"flip_ratio must be in \[0, 1\]"):
        Flip(2.0, LAYOUT)
    with pytest.raises(ValueError, match="permutation of range"):
        Flip(1.0, [0, 0, 1])
    with pytest.raises(ValueError, match="Flip permutation has 3 joints, data has 41"):
        Flip(1.0, [1, 0, 2])(random_clip(0))
    with pytest.raises(TypeError, match=r"transforms\[1\] must be a PoseTransform"):
        Compose([Resize(64), lambda s: s])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        as_numpy_rng("seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample needs 'img_shape'"):
        Resize(64)({"keypoint": np.zeros((1, 1, 1, 2))})
    with pytest.raises(ValueError, match="size must be a positive int"):
        train_transform(LAYOUT, size=0)


class _Rotate90(PoseTransform):
    """A custom step (not axis-aligned): x' = H - y, y' = x on an (W, H) image."""

    def update(self, state, rng):
        h, w = state.img_shape
        state.then(np.array([[0.0, -1.0, h], [1.0, 0.0, 0.0]]))
        state.img_shape = (w, h)


def test_custom_non_axis_aligned_step_composes():
    s = random_clip(7)
    s["keypoint"][0, 0, 0] = 0
    steps = [_Rotate90(), PoseCompact(), Resize((-1, 64)), Flip(1.0, LAYOUT)]
    folded = Compose(steps)(s)
    seq = s
    for step in steps:
        seq = step(seq)
    assert folded["img_shape"] == seq["img_shape"]
    np.testing.assert_allclose(folded["keypoint"], seq["keypoint"], atol=1e-4)
    rot = _Rotate90()(s)["keypoint"]
    np.testing.assert_allclose(
        rot[0, 1, 2], (720 - s["keypoint"][0, 1, 2, 1], s["keypoint"][0, 1, 2, 0])
    )
    assert (rot[0, 0, 0] == 0).all()
