"""Training loop, exact resume, checkpoints, test-time views and the Recognizer (tiny CPU runs)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pymg.engine import (
    ConfigError,
    LRSchedule,
    Recognizer,
    load_checkpoint,
    load_config,
    predict_batch,
    save_checkpoint,
    train,
)
from pymg.engine.builders import build_datasets, build_model, resolve_layout
from pymg.engine.distributed import DistContext
from pymg.engine.evaluate import predict_dataset

ENGINE = [  # on top of the tiny training: two epochs, warm-up, validation, two test views
    "optim.lr=0.05",
    "schedule.epochs=2",
    "schedule.warmup_epochs=0.5",
    "test.val_interval=1",
    "test.num_clips=2",
    "test.batch_size=8",
    "runtime.log_interval=1",
]


@pytest.fixture(scope="session")
def tiny(tiny_config: Callable[..., Any]) -> Callable[..., Any]:
    """``tiny(work_dir, *overrides)``: the tiny ``demo`` config of these tests."""
    return lambda work_dir, *extra: tiny_config(work_dir, *ENGINE, *extra)


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# ----------------------------------------------------------------------------- schedule
def test_lr_schedule_by_hand() -> None:
    s = LRSchedule(1.0, 10, warmup_iters=2, warmup_factor=0.1, min_lr=0.0)
    assert s(0) == pytest.approx(0.1)
    assert s(1) == pytest.approx(0.55)
    assert s(2) == pytest.approx(1.0)
    assert s(6) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert s(10) == pytest.approx(0.0, abs=1e-12)
    values = [s(i) for i in range(2, 11)]
    assert all(x >= y for x, y in zip(values, values[1:], strict=False))
    c = LRSchedule(0.3, 5, policy="constant", min_lr=0.1)
    assert [c(i) for i in range(5)] == [0.3] * 5
    m = LRSchedule(1.0, 4, min_lr=0.2)
    assert m(0) == 1.0 and m(4) == pytest.approx(0.2)


def test_lr_schedule_errors() -> None:
    with pytest.raises(ValueError, match="total_iters must be >= 1"):
        LRSchedule(0.1, 0)
    with pytest.raises(ValueError, match="policy must be 'cosine' or 'constant'"):
        LRSchedule(0.1, 5, policy="step")
    with pytest.raises(ValueError, match=r"warmup_iters must lie in \[0, 5\]"):
        LRSchedule(0.1, 5, warmup_iters=6)


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def straight_run(tiny, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("straight")
    result = train(tiny(work), final_test=True)
    return work, result


def test_two_epochs_equal_one_plus_resume_plus_one(
    tiny, straight_run: tuple[Path, dict], tmp_path: Path
) -> None:
    work, result = straight_run
    full = load_checkpoint(work / "latest.pt")
    first = train(tiny(tmp_path), final_test=False, stop_after=1)
    assert first["epochs_run"] == 1
    half = load_checkpoint(tmp_path / "latest.pt")
    assert half["epoch"] == 1 and half["iteration"] * 2 == full["iteration"]
    resumed = train(tiny(tmp_path), resume=True, final_test=False)
    assert resumed["epochs_run"] == 1
    again = load_checkpoint(tmp_path / "latest.pt")
    assert again["epoch"] == 2
    # the resumed log reads like the uninterrupted one (same records, same losses)
    logs = [
        [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
        for d in (work, tmp_path)
    ]
    strip = [[{k: v for k, v in e.items() if k not in ("seconds", "clips_per_s")} for e in log
              if e["event"] != "test"] for log in logs]  # fmt: skip
    assert strip[0] == strip[1]
    _states_equal(full["model"], again["model"])
    _states_equal(full["optimizer"]["state"][0], again["optimizer"]["state"][0])
    assert resumed["last_loss"] == result["last_loss"]
    assert again["best"] == full["best"]


def test_a_different_seed_gives_different_weights(
    tiny, straight_run: tuple[Path, dict], tmp_path: Path
) -> None:
    work, _ = straight_run
    train(tiny(tmp_path, "runtime.seed=1", "schedule.epochs=1"), final_test=False)
    a = load_checkpoint(work / "latest.pt")["model"]
    b = load_checkpoint(tmp_path / "latest.pt")["model"]
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


def test_work_dir_files(tiny, straight_run: tuple[Path, dict]) -> None:
    work, result = straight_run
    for name in ("config.toml", "metrics.jsonl", "latest.pt", "best.pt", "test_scores.npz",
                 "test_metrics.json", "test_predictions.csv"):  # fmt: skip
        assert (work / name).is_file(), name
    assert load_config(work / "config.toml") == tiny(work)
    events = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds.count("epoch") == 2 and kinds.count("val") == 2 and kinds[-1] == "test"
    train_events = [e for e in events if e["event"] == "train"]
    assert [e["iter"] for e in train_events] == list(range(1, len(train_events) + 1))
    assert all(np.isfinite(e["loss"]) and e["lr"] > 0 for e in train_events)
    ck = load_checkpoint(work / "latest.pt")
    assert ck["class_names"] == ["touching cheek", "pressing lips", "raising eyebrows"]
    assert ck["layout"]["name"] == "imigue41" and len(ck["layout"]["joints"]) == 41
    assert ck["best"]["metric"] == "top1" and ck["best"]["epoch"] in (1, 2)
    best = load_checkpoint(work / "best.pt")
    assert best["epoch"] == ck["best"]["epoch"]
    test = json.loads((work / "test_metrics.json").read_text())
    assert result["test"]["top1"] == test["top1"]
    assert test["num_samples"] == len(build_datasets(tiny(work), train=False)[1])


def test_semantic_loss_with_a_custom_table(tiny, tmp_path: Path) -> None:
    table = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.save(tmp_path / "emb.npy", table)
    cfg = tiny(
        tmp_path / "run",
        "loss.semantic=true",
        f"loss.embeddings={json.dumps(str(tmp_path / 'emb.npy'))}",
        "schedule.epochs=1",
        "test.val_interval=0",
        "runtime.channels_last=true",
    )
    out = train(cfg, final_test=False)
    assert np.isfinite(out["last_loss"])
    state = load_checkpoint(tmp_path / "run" / "latest.pt")["model"]
    # base_channels 4 -> last stage planes 16 x Bottleneck expansion 4 = 64 pooled features
    assert tuple(state["cls_head.embed.weight"].shape) == (5, 64)
    events = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    parts = json.loads(events[0])["parts"]
    assert parts["loss"] == pytest.approx(parts["ce"] + 20.0 * parts["semantic"], rel=1e-5)


def test_bad_setups_fail_clearly(tiny, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        train(tiny(tmp_path), resume=True)
    with pytest.raises(FileNotFoundError, match="dataset file not found"):
        train(tiny(tmp_path, 'data.source="missing.npz"'))
    with pytest.raises(ConfigError, match="has shape"):
        train(tiny(tmp_path, "loss.semantic=true"))  # iMiGUE table has 32 rows, K = 3
    with pytest.raises(ConfigError, match="unknown layout 'nope'"):
        train(tiny(tmp_path, "data.layout=nope"))
    with pytest.raises(ConfigError, match="model.num_classes = 2"):
        train(tiny(tmp_path, "model.num_classes=2"))
    other = tmp_path / "wide"
    train(tiny(other, "model.base_channels=8", "schedule.epochs=1"), final_test=False)
    mismatch = (
        r"latest.pt does not fit the model: shape mismatch 'backbone.conv1.conv.weight' is "
        r"\(8, 41, 1, 7, 7\) in the file, \(4, 41, 1, 7, 7\) in the model"
    )
    with pytest.raises(ValueError, match=mismatch):
        train(tiny(other, "schedule.epochs=2"), resume=True)
    directory = r"is a directory; expected .*best.pt or .*latest.pt"
    with pytest.raises(IsADirectoryError, match=directory):
        train(tiny(tmp_path), resume=other)
    (tmp_path / "pickled.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*pickled.pt: not a torch"):
        train(tiny(tmp_path), resume=tmp_path / "pickled.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a pymg checkpoint"):
        train(tiny(tmp_path), resume=tmp_path / "other.pt")
    with pytest.raises(TypeError, match="cfg must be a pymg.engine.Config"):
        train({"optim": {}})  # type: ignore[arg-type]


def test_atomic_checkpoint_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = save_checkpoint({"x": torch.ones(2)}, tmp_path / "c.pt")

    class Boom:
        def __reduce__(self) -> tuple:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint({"x": Boom()}, path)
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt"]  # no temporary left behind


# ----------------------------------------------------------------------------- evaluation
def test_predict_batch_views_by_hand(straight_run: tuple[Path, dict]) -> None:
    from pymg.data import collate
    from pymg.ops import flip_heatmaps

    work, _ = straight_run
    rec = Recognizer.from_checkpoint(work / "latest.pt")
    cfg = rec.cfg
    _, test_set, _ = build_datasets(cfg, train=False)
    batch = collate([test_set[i] for i in range(3)])
    model = rec.model
    probs = predict_batch(model, batch, num_clips=1, flip=False, size=16)
    with torch.no_grad():
        ref = model(batch).logits.softmax(-1)
        torch.testing.assert_close(probs, ref)
        heat = model.make_input(batch)
        flipped = model(flip_heatmaps(heat, model.layout.joint_flip_perm)).logits
        ref_flip = (ref + flipped.softmax(-1)) / 2
    torch.testing.assert_close(predict_batch(model, batch, flip=True, size=16), ref_flip)
    three = predict_batch(model, batch, num_clips=3, flip=True, size=16)
    assert three.shape == (3, 3)
    torch.testing.assert_close(three.sum(-1), torch.ones(3))
    with pytest.raises(ValueError, match="num_clips must be a positive int, got 0"):
        predict_batch(model, batch, num_clips=0)


def test_recognizer_matches_the_test_pipeline(straight_run: tuple[Path, dict]) -> None:
    from pymg.data import SyntheticMicroGestures, collate

    work, _ = straight_run
    rec = Recognizer.from_checkpoint(work / "latest.pt")
    assert rec.num_classes == 3 and rec.layout.name == "imigue41"
    _, test_set, names = build_datasets(rec.cfg, train=False)
    ctx = DistContext(0, 1, 0, torch.device("cpu"))
    views = {"num_clips": rec.cfg.test.num_clips, "flip": rec.cfg.test.flip}
    assert views == {"num_clips": 2, "flip": False}  # predict() defaults to the config's views
    ref = predict_dataset(rec.model, test_set, names, ctx, size=16, **views)
    synth = SyntheticMicroGestures(num_classes=3, num_clips=30, layout="imigue41", seed=0)
    raw = {synth.frame_dir(i): synth[i] for i in range(len(synth))}
    clip = raw[ref.clip_ids[0]]
    pred = rec.predict(clip["keypoint"], clip["keypoint_score"], img_shape=clip["img_shape"])
    assert pred.probabilities.shape == (1, 3) and pred.probabilities.dtype == np.float32
    np.testing.assert_allclose(pred.probabilities[0], ref.scores[0], rtol=1e-5, atol=1e-6)
    assert pred.top_names == [names[int(ref.scores[0].argmax())]]
    same_len = [c for c in raw.values() if c["total_frames"] == clip["total_frames"]][:2]
    if len(same_len) == 2:
        kp = np.stack([c["keypoint"] for c in same_len])
        batch_pred = rec.predict(torch.from_numpy(kp), None, (720, 1280), num_clips=1, flip=False)
        assert batch_pred.probabilities.shape == (2, 3)
    with pytest.raises(ValueError, match=r"expected V=41 joints of layout 'imigue41' or the 137"):
        rec.predict(np.zeros((1, 5, 17, 2)))
    # the clip dict itself, and the raw OpenPose-137 points the layout selects from
    np.testing.assert_allclose(rec.predict(clip).probabilities, pred.probabilities, rtol=1e-6)
    raw137 = np.zeros((*clip["keypoint"].shape[:2], 137, 2), np.float32)
    raw137[:, :, list(rec.layout.source_indices)] = clip["keypoint"]
    score137 = np.zeros(raw137.shape[:-1], np.float32)
    score137[:, :, list(rec.layout.source_indices)] = clip["keypoint_score"]
    pred137 = rec.predict(raw137, score137, img_shape=clip["img_shape"])
    np.testing.assert_allclose(pred137.probabilities, pred.probabilities, rtol=1e-6)
    batch = collate([test_set[0]])  # a collated batch is used as it is
    np.testing.assert_allclose(rec.predict(batch).probabilities[0], ref.scores[0], rtol=1e-5)
    with pytest.raises(ValueError, match="scores: a clip dict carries its scores"):
        rec.predict(clip, np.ones((1, 2, 41)))
    with pytest.raises(ValueError, match="scores must have shape"):
        rec.predict(clip["keypoint"], np.ones((1, 2, 41)))


def test_stgcn_flip_view_equals_a_mirrored_clip(tiny, tmp_path: Path) -> None:
    from pymg.data import collate

    cfg = tiny(tmp_path, "model.arch=stgcn", "data.layout=imigue22", "model.clip_len=8")
    layout = resolve_layout("imigue22")
    torch.manual_seed(0)
    model = build_model(cfg, layout).eval()
    _, test_set, _ = build_datasets(cfg, train=False)
    batch = collate([test_set[i] for i in range(2)])
    both = predict_batch(model, batch, flip=True)
    plain = predict_batch(model, batch, flip=False)
    width = batch["img_shape"][0, 1]
    kp, sc = batch["keypoint"].clone(), batch["keypoint_score"].clone()
    present = (kp != 0).any(-1)
    kp[..., 0] = torch.where(present, width - kp[..., 0], kp[..., 0])
    perm = torch.tensor(layout.joint_flip_perm)
    mirrored = dict(batch, keypoint=kp[:, :, :, perm], keypoint_score=sc[:, :, :, perm])
    torch.testing.assert_close(both, (plain + predict_batch(model, mirrored)) / 2)


def test_dataloader_workers_do_not_change_the_result(
    tiny, straight_run: tuple[Path, dict], tmp_path: Path
) -> None:
    work, _ = straight_run
    train(tiny(tmp_path, "data.num_workers=2"), final_test=False)
    _states_equal(
        load_checkpoint(work / "latest.pt")["model"],
        load_checkpoint(tmp_path / "latest.pt")["model"],
    )


def test_divergence_is_reported(tiny, tmp_path: Path) -> None:
    with pytest.raises(FloatingPointError, match="training diverged: the mean loss of epoch 1"):
        train(tiny(tmp_path, "optim.lr=1e30", "optim.grad_clip=0", "schedule.epochs=1"))


def test_stgcn_config_trains_and_tests(tiny, tmp_path: Path) -> None:
    cfg = tiny(
        tmp_path, "model.arch=stgcn", "data.layout=imigue22", "model.clip_len=8",
        "schedule.epochs=1", "test.flip=true",
    )  # fmt: skip
    result = train(cfg)
    assert result["test"] is not None and 0.0 <= result["test"]["top1"] <= 1.0
    rec = Recognizer.from_checkpoint(tmp_path / "latest.pt")
    assert type(rec.model).__name__ == "STGCN" and rec.layout.name == "imigue22"
    probs = rec.predict(np.full((1, 10, 22, 2), 50.0, np.float32), img_shape=(100, 100))
    np.testing.assert_allclose(probs.probabilities.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("arch", ["posec3d", "stgcn"])
def test_build_model_passes_the_alignment_strategy(tiny, tmp_path: Path, arch: str) -> None:
    cfg = tiny(tmp_path, f"model.arch={arch}", "model.strategy=crop_pad")
    model = build_model(cfg, resolve_layout(cfg.data.layout))
    assert model.strategy == "crop_pad"


def test_top_level_recognizer_is_lazy() -> None:
    import pymg

    assert pymg.Recognizer is Recognizer
    with pytest.raises(AttributeError, match="module 'pymg' has no attribute 'Nope'"):
        _ = pymg.Nope
