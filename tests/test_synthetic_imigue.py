"""The iMiGUE-like synthetic set: class frequencies, motion amplitude, noise, subject split."""

from __future__ import annotations

import numpy as np
import pytest

from pymg.data import PoseDataset, SyntheticIMiGUE
from pymg.data.synthetic_imigue import (
    IMIGUE_TRAIN_COUNTS,
    JITTER_PX,
    NOISE_RATES,
    SUBTLE_PEAK_PX,
    imigue_class_counts,
)
from pymg.labels import IMIGUE_CLASSES
from pymg.topology import get_layout


@pytest.fixture(scope="module")
def ds() -> SyntheticIMiGUE:
    return SyntheticIMiGUE(num_clips=600, layout="imigue41", seed=0)


def test_class_frequencies_follow_imigue(ds: SyntheticIMiGUE) -> None:
    counts = np.bincount(ds.labels, minlength=32)
    assert counts.sum() == len(ds) == 600
    assert ds.class_names == IMIGUE_CLASSES and ds.num_classes == 32
    assert counts.min() >= 3
    assert int(np.argmax(counts)) == 31  # "illustrative body language" is the majority class
    reference = np.asarray(IMIGUE_TRAIN_COUNTS, dtype=np.float64)
    freq = reference / reference.sum()
    big = freq * 600 > 10  # classes well above the floor keep iMiGUE's share
    np.testing.assert_allclose(counts[big] / 600, freq[big], rtol=0.1)
    # the long tail's order is kept (rank correlation over all classes)
    ranks = np.argsort(np.argsort(counts, kind="stable"))
    ref_ranks = np.argsort(np.argsort(reference, kind="stable"))
    assert np.corrcoef(ranks, ref_ranks)[0, 1] > 0.9
    assert imigue_class_counts(13670, 1) == list(IMIGUE_TRAIN_COUNTS)
    with pytest.raises(ValueError, match="num_clips must be an int >= 96"):
        SyntheticIMiGUE(num_clips=95)


def test_subjects_are_the_split_unit(ds: SyntheticIMiGUE) -> None:
    splits = ds.splits
    subject = {ds.frame_dir(i): s for i, s in enumerate(ds.subjects)}
    label = {ds.frame_dir(i): y for i, y in enumerate(ds.labels)}
    train = {subject[n] for n in splits["train"]}
    test = {subject[n] for n in splits["test"]}
    assert train.isdisjoint(test) and len(train) >= 2 and len(test) >= 2
    assert all(s % 3 == 0 for s in test)
    assert len(splits["train"]) + len(splits["test"]) == len(ds)
    assert 0.6 < len(splits["train"]) / len(ds) < 0.72  # about two thirds train
    for k in range(32):  # every class is both trained and tested
        assert any(label[n] == k for n in splits["train"])
        assert any(label[n] == k for n in splits["test"])
    item = ds[5]
    assert item["subject"] == ds.subjects[5] and item["frame_dir"] == ds.frame_dir(5)


def test_clip_lengths_have_imigue_like_spread(ds: SyntheticIMiGUE) -> None:
    seconds = np.array([ds[i]["total_frames"] for i in range(len(ds))]) / 25.0
    assert 2.0 < seconds.mean() < 3.0
    assert 1.6 < np.median(seconds) < 2.4
    assert seconds.std() > 1.0 and seconds.min() >= 0.4 and seconds.max() <= 12.0


def _displacement(ds: SyntheticIMiGUE, i: int) -> np.ndarray:
    """[T, V] pixel displacement of the gesture at points visible with and without it."""
    a, b = ds.generate(i), ds.generate(i, gesture=False)
    seen = (a["keypoint_score"][0] > 0) & (b["keypoint_score"][0] > 0)
    d = np.linalg.norm(a["keypoint"][0] - b["keypoint"][0], axis=-1)
    return np.where(seen, d, 0.0)


def test_motion_amplitude_is_a_few_pixels_for_subtle_classes(ds: SyntheticIMiGUE) -> None:
    lo, hi = SUBTLE_PEAK_PX
    for k, kind in enumerate(ds.kinds):
        clips = [i for i, y in enumerate(ds.labels) if y == k][:3]
        peaks = [_displacement(ds, i).max() for i in clips]
        if kind in ("face", "subtle"):
            assert all(lo * 0.5 <= p <= hi + 1e-3 for p in peaks), (IMIGUE_CLASSES[k], peaks)
        else:  # hand-to-body movements travel to the touched part, within the frame
            assert max(peaks) > hi and max(peaks) < 720, (IMIGUE_CLASSES[k], peaks)


def test_face_gestures_move_the_22_joint_face_points_too(ds: SyntheticIMiGUE) -> None:
    face = [k for k, kind in enumerate(ds.kinds) if kind == "face"]
    assert {IMIGUE_CLASSES[k] for k in face} == {"bulging face, deep breath", "pressing lips"}
    names = get_layout("imigue41").joints
    head22 = [names.index(n) for n in ("nose", "eye_r", "eye_l", "ear_r", "ear_l") if n in names]
    assert len(head22) >= 3
    for k in face:
        i = ds.labels.index(k)
        d = _displacement(ds, i)
        assert d[:, head22].max() > 0.2  # visible but small
        assert d[:, 22:].max() > d[:, head22].max()  # the face-70 points move most


def test_openpose_like_noise() -> None:
    clean = SyntheticIMiGUE(num_clips=300, noise=0.0, seed=1)
    noisy = SyntheticIMiGUE(num_clips=300, noise=1.0, seed=1)
    frames = lost_frames = no_face = swapped_clips = clean_lost = clean_points = 0
    jitter = []
    fingers_r, fingers_l = np.arange(12, 17), np.arange(17, 22)  # imigue41 fingertips
    for i in range(len(noisy)):
        a, b = noisy[i], clean[i]
        sa, sb = a["keypoint_score"][0], b["keypoint_score"][0]
        clean_lost += int((sb == 0).sum())  # noise=0: only points outside the frame
        clean_points += sb.size
        frames += sa.shape[0]
        lost_frames += int((sa == 0).all(axis=1).sum())
        no_face += int(((sa[:, 22:] == 0).all(axis=1) & (sa[:, :22] > 0).any(axis=1)).sum())
        seen = (sa > 0).all(axis=1)
        ka, kb = a["keypoint"][0], b["keypoint"][0]
        right = np.linalg.norm(ka[:, fingers_r] - kb[:, fingers_r], axis=-1).mean(axis=1)
        cross = np.linalg.norm(ka[:, fingers_r] - kb[:, fingers_l], axis=-1).mean(axis=1)
        swapped_clips += bool((seen & (cross < right)).any())
        body = (sa[:, :5] > 0).all(axis=1)
        jitter.append((ka[body, :5] - kb[body, :5]).reshape(-1))
    assert clean_lost / clean_points < 0.01
    assert lost_frames / frames == pytest.approx(NOISE_RATES["frame_drop"], abs=0.01)
    assert 0.01 < no_face / frames < 0.15
    assert 0.02 < swapped_clips / len(noisy) < 0.2
    std = float(np.concatenate(jitter).std())
    assert 0.6 * JITTER_PX["body"] < std < 1.4 * JITTER_PX["body"]


def test_layouts_agree_and_clips_are_deterministic() -> None:
    a = SyntheticIMiGUE(num_clips=100, layout="imigue41", seed=3)
    b = SyntheticIMiGUE(num_clips=100, layout="imigue22", seed=3)
    src41 = list(get_layout("imigue41").source_indices or ())
    src22 = list(get_layout("imigue22").source_indices or ())
    where = [src41.index(s) for s in src22]
    for i in (0, 17, 99):
        x, y = a[i], b[i]
        np.testing.assert_array_equal(x["keypoint"][:, :, where], y["keypoint"])
        np.testing.assert_array_equal(x["keypoint"], a.generate(i)["keypoint"])
    assert not np.array_equal(a[0]["keypoint"], SyntheticIMiGUE(100, seed=4)[0]["keypoint"])


def test_pose_dataset_reads_it(ds: SyntheticIMiGUE) -> None:
    train = PoseDataset(ds, split="train", layout="imigue22")
    test = PoseDataset(ds, split="test", layout="imigue41")
    assert len(train) + len(test) == len(ds)
    assert train.num_classes == 32 and train.class_names == list(IMIGUE_CLASSES)
    assert train[0]["keypoint"].shape[2] == 22 and test[0]["keypoint"].shape[2] == 41
