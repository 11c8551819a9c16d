"""Long-tail strategies: samplers (alone and sharded), class weights, logit adjustment, cRT,
exact resume with each strategy, best-checkpoint selection, TensorBoard (skipped without the
package) and the command line (tiny CPU runs)."""

from __future__ import annotations

import builtins
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pymg.data.samplers import ClassAwareSampler, class_probabilities, sampler_power
from pymg.engine import ConfigError, load_checkpoint, load_config, train
from pymg.engine.builders import build_datasets
from pymg.engine.tensorboard import TensorBoardLog, confusion_image
from pymg.losses import SemanticEmbeddingLoss
from pymg.losses_longtail import (
    adjust_probabilities,
    class_counts,
    class_weights,
    log_class_priors,
    logit_adjustment,
)

# 32 long-tailed classes (the iMiGUE-like set): 63 training clips, 2 to 9 per class
TINY = [
    "data.source=synthetic_imigue",
    "data.synthetic_clips=96",
    "data.train_size=16",
    "data.test_size=16",
    "data.num_workers=0",
    "model.num_classes=32",
    "model.clip_len=4",
    "model.base_channels=4",
    "model.stage_blocks=[1, 1, 1]",
    "optim.batch_size=8",
    "optim.lr=0.05",
    "schedule.epochs=2",
    "loss.semantic=true",
    "test.val_interval=1",
    "test.num_clips=1",
    "test.batch_size=32",
    "runtime.progress=false",
    "runtime.log_interval=2",
]


def tiny(work_dir: Path, *extra: str):  # noqa: ANN201 - a Config
    return load_config("demo", [*TINY, f"runtime.work_dir={json.dumps(str(work_dir))}", *extra])


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# ----------------------------------------------------------------------------- samplers
COUNTS = np.array([400, 100, 25, 4, 1])
LABELS = np.repeat(np.arange(5), COUNTS)


def test_class_probabilities_by_hand() -> None:
    np.testing.assert_allclose(
        class_probabilities([100, 25, 4, 0], 0.5), [10 / 17, 5 / 17, 2 / 17, 0]
    )
    np.testing.assert_allclose(class_probabilities([3, 1, 0], 0.0), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(class_probabilities([3, 1], 1.0), [0.75, 0.25])
    assert [sampler_power("progressive", e, 5) for e in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert sampler_power("progressive", 0, 1) == 0.0
    assert (sampler_power("sqrt", 3, 9), sampler_power("class_balanced", 0, 2)) == (0.5, 0.0)
    with pytest.raises(ValueError, match="sampler must be one of"):
        sampler_power("balanced", 0, 1)
    with pytest.raises(ValueError, match=r"power must lie in \[0, 1\]"):
        class_probabilities([1, 2], 1.5)
    with pytest.raises(ValueError, match="counts >= 0, not all 0"):
        class_probabilities([0, 0], 0.5)


def _class_frequencies(sampler: ClassAwareSampler, epochs: range) -> np.ndarray:
    drawn = []
    for epoch in epochs:
        sampler.set_epoch(epoch)
        drawn.extend(iter(sampler))
    return np.bincount(LABELS[drawn], minlength=len(COUNTS)) / len(drawn)


@pytest.mark.parametrize(
    ("kind", "power"), [("instance", 1.0), ("sqrt", 0.5), ("class_balanced", 0.0)]
)
def test_sampler_class_frequencies_over_many_draws(kind: str, power: float) -> None:
    sampler = ClassAwareSampler(LABELS, kind, seed=3)
    assert len(sampler) == len(LABELS)
    freq = _class_frequencies(sampler, range(40))  # 40 epochs x 530 draws
    expected = class_probabilities(COUNTS, power)
    sigma = np.sqrt(expected * (1 - expected) / (40 * len(LABELS)))
    assert np.all(np.abs(freq - expected) <= 5 * sigma + 1e-12), (freq, expected)
    sampler.set_epoch(7)
    assert list(sampler) == list(sampler)  # one epoch = one fixed draw (exact resume)
    sampler.set_epoch(8)
    first = list(sampler)
    sampler.set_epoch(7)
    assert first != list(sampler)


def test_progressive_sampler_moves_from_instance_to_class_balanced() -> None:
    sampler = ClassAwareSampler(LABELS, "progressive", seed=0, epochs=3)
    for epoch, power in ((0, 1.0), (1, 0.5), (2, 0.0)):
        sampler.set_epoch(epoch)
        per_index = sampler.sample_weights()
        expected = class_probabilities(COUNTS, power)
        np.testing.assert_allclose(np.bincount(LABELS, weights=per_index), expected)
        freq = _class_frequencies(sampler, [epoch] * 1)  # one epoch: 530 draws
        assert abs(freq[0] - expected[0]) < 5 * math.sqrt(expected[0] / len(LABELS))


@pytest.mark.parametrize("world", [2, 3])
def test_ddp_shards_together_keep_the_distribution(world: int) -> None:
    shards = [
        ClassAwareSampler(LABELS, "class_balanced", num_replicas=world, rank=r, seed=5)
        for r in range(world)
    ]
    alone = ClassAwareSampler(LABELS, "class_balanced", num_replicas=1, rank=0, seed=5)
    drawn: list[int] = []
    for epoch in range(40):
        parts = []
        for s in shards:
            s.set_epoch(epoch)
            parts.append(list(s))
        assert {len(p) for p in parts} == {math.ceil(len(LABELS) / world)} == {len(shards[0])}
        assert parts[0] != parts[1]  # each rank its own share of the draw
        drawn.extend(i for p in parts for i in p)
    freq = np.bincount(LABELS[drawn], minlength=5) / len(drawn)
    sigma = np.sqrt(0.2 * 0.8 / len(drawn))
    assert np.all(np.abs(freq - 0.2) <= 5 * sigma), freq
    # the shards interleave into one global draw (rank r holds draws r, r + W, ...)
    alone.set_epoch(0)
    for s in shards:
        s.set_epoch(0)
    merged = [i for group in zip(*(list(s) for s in shards), strict=True) for i in group]
    gen = torch.Generator().manual_seed((5 * 1_000_003 + 0 * 7919 + 29) % 2**63)
    weights = torch.from_numpy(alone.sample_weights())
    assert merged == torch.multinomial(weights, len(merged), True, generator=gen).tolist()


def test_sampler_errors() -> None:
    with pytest.raises(ValueError, match="labels must be a non-empty 1-D array"):
        ClassAwareSampler(np.array([0, -1]), "sqrt")
    with pytest.raises(ValueError, match="sampler must be one of"):
        ClassAwareSampler(LABELS, "uniform")
    with pytest.raises(ValueError, match=r"rank must lie in \[0, 2\)"):
        ClassAwareSampler(LABELS, "sqrt", num_replicas=2, rank=2)


# ----------------------------------------------------------------------------- loss weights
def test_class_weights_by_hand() -> None:
    counts = [100, 25, 4]
    # inverse: 1/100, 1/25, 1/4 = 0.01, 0.04, 0.25 (sum 0.3), scaled to sum 3
    np.testing.assert_allclose(class_weights(counts, "inverse"), [0.1, 0.4, 2.5])
    # 1/sqrt: 0.1, 0.2, 0.5 (sum 0.8), scaled to sum 3
    np.testing.assert_allclose(class_weights(counts, "sqrt_inverse"), [0.375, 0.75, 1.875])
    raw = [0.1 / (1 - 0.9**100), 0.1 / (1 - 0.9**25), 0.1 / (1 - 0.9**4)]
    np.testing.assert_allclose(
        class_weights(counts, "effective", beta=0.9), np.array(raw) * 3 / sum(raw)
    )
    np.testing.assert_allclose(class_weights(counts, "effective", beta=0.0), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        class_weights(counts, "effective", beta=1 - 1e-9),
        class_weights(counts, "inverse"),
        rtol=1e-5,
    )
    np.testing.assert_allclose(class_weights(counts, "none"), [1.0, 1.0, 1.0])
    # a class without training clips gets 0; the others sum to the classes present
    np.testing.assert_allclose(class_weights([1, 0, 3], "inverse"), [1.5, 0.0, 0.5])
    with pytest.raises(ValueError, match="class weights must be one of"):
        class_weights(counts, "balanced")
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\)"):
        class_weights(counts, "effective", beta=1.0)
    np.testing.assert_array_equal(class_counts([0, 2, 2, 2], 4), [1, 0, 3, 0])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        class_counts([0, 3], 3)


def test_weighted_cross_entropy_against_the_formula() -> None:
    torch.manual_seed(0)
    logits, labels = torch.randn(7, 3), torch.tensor([0, 1, 2, 2, 1, 0, 2])
    w = torch.tensor([0.1, 0.4, 2.5])
    loss = SemanticEmbeddingLoss(None, class_weights=w)(logits, labels)
    per_sample = -logits.log_softmax(-1)[torch.arange(7), labels]
    expected = (w[labels] * per_sample).sum() / w[labels].sum()
    torch.testing.assert_close(loss, expected)


# ----------------------------------------------------------------------------- logit adjustment
def test_logit_adjusted_loss_against_the_formula() -> None:
    torch.manual_seed(1)
    counts = np.array([60, 30, 9, 1])
    tau = 1.5
    priors = counts / counts.sum()
    offsets = torch.tensor(tau * np.log(priors), dtype=torch.float32)
    torch.testing.assert_close(
        torch.tensor(logit_adjustment(counts, tau), dtype=torch.float32), offsets
    )
    logits, labels = torch.randn(6, 4), torch.tensor([0, 3, 2, 1, 3, 0])
    table = torch.randn(4, 5)
    embedding = torch.randn(6, 5)
    loss_fn = SemanticEmbeddingLoss(table, weight=2.0, scale="none", logit_adjustment=offsets)
    loss = loss_fn(logits, labels, embedding)
    z = logits + tau * torch.log(torch.tensor(priors, dtype=torch.float32))
    ce = -(z.log_softmax(-1)[torch.arange(6), labels]).mean()
    expected = ce + 2.0 * F.mse_loss(embedding, table[labels])  # the semantic term still there
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(loss_fn.last["ce"], ce)
    with pytest.raises(ValueError, match=r"expected K=4 classes \(rows of logit_adjustment\)"):
        SemanticEmbeddingLoss(None, logit_adjustment=offsets)(torch.randn(2, 3), labels[:2])
    with pytest.raises(ValueError, match=r"class_weights: expected K=4 values, got 3"):
        SemanticEmbeddingLoss(table, class_weights=torch.ones(3))


def test_post_hoc_adjustment_against_the_formula() -> None:
    rng = np.random.default_rng(2)
    counts = np.array([500, 80, 12, 3, 0])
    logits = rng.normal(size=(50, 5)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for tau in (0.5, 1.0, 2.0):
        out = adjust_probabilities(probs, counts, tau)
        assert out.dtype == np.float32 and out.shape == (50, 5)
        np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
        pi = np.maximum(counts, 1) / np.maximum(counts, 1).sum()
        target = logits - tau * np.log(pi)
        np.testing.assert_array_equal(out.argmax(1), target.argmax(1))
        expected = np.exp(target - target.max(1, keepdims=True))
        np.testing.assert_allclose(out, expected / expected.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(log_class_priors([3, 1]), np.log([0.75, 0.25]))
    with pytest.raises(ValueError, match=r"probabilities must be \[N, K\]"):
        adjust_probabilities(probs[:, :4], counts, 1.0)


# ----------------------------------------------------------------------------- training runs
@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("base")
    train(tiny(work), final_test=False)
    return work


def test_crt_freezes_the_backbone_and_changes_the_head(base_run: Path, tmp_path: Path) -> None:
    before = load_checkpoint(base_run / "latest.pt")
    result = train(tiny(tmp_path), finetune_head=base_run / "latest.pt")
    after = load_checkpoint(tmp_path / "latest.pt")
    head = [k for k in before["model"] if k.startswith("cls_head.")]
    assert set(head) == {
        f"cls_head.{n}.{p}" for n in ("fc_cls", "embed") for p in ("weight", "bias")
    }
    for key, value in before["model"].items():
        if key in head:
            assert not torch.equal(value, after["model"][key]), key
        else:  # every backbone parameter and buffer (BatchNorm statistics too)
            torch.testing.assert_close(value, after["model"][key], rtol=0, atol=0, msg=key)
    # only the head's parameters are optimized
    assert len(after["optimizer"]["state"]) == len(head)
    assert after["finetune_head"] == str(base_run / "latest.pt")
    assert result["test"]["shots"]["few"] is not None


def test_crt_errors(base_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lies in the work dir"):
        train(tiny(base_run), finetune_head=base_run / "latest.pt")
    train(tiny(tmp_path, "schedule.epochs=1"), final_test=False)
    with pytest.raises(ValueError, match="without --finetune-head; resume it the same way"):
        train(tiny(tmp_path), resume=True, finetune_head=base_run / "latest.pt")
    with pytest.raises(ValueError, match="does not fit the model"):
        train(tiny(tmp_path / "b", "loss.semantic=false"), finetune_head=base_run / "latest.pt")


STRATEGIES = [
    ["data.sampler=class_balanced"],
    ["data.sampler=progressive", "data.repeat=2"],
    ["data.sampler=sqrt", "loss.class_weights=effective", "loss.effective_beta=0.99"],
    ["loss.class_weights=sqrt_inverse", "schedule.select_by=mean_class_accuracy"],
    ["loss.logit_adjust_tau=1.0", "test.logit_adjust=1.0"],
    ["crt"],
]


@pytest.mark.parametrize("extra", STRATEGIES, ids=lambda e: "+".join(e))
def test_resume_is_exact_with_each_strategy(
    extra: list[str], base_run: Path, tmp_path: Path
) -> None:
    head = base_run / "latest.pt" if extra == ["crt"] else None
    sets = [] if extra == ["crt"] else extra
    straight, split = tmp_path / "straight", tmp_path / "split"
    full_result = train(tiny(straight, *sets), final_test=False, finetune_head=head)
    train(tiny(split, *sets), final_test=False, stop_after=1, finetune_head=head)
    resumed = train(tiny(split, *sets), resume=True, final_test=False, finetune_head=head)
    full, again = load_checkpoint(straight / "latest.pt"), load_checkpoint(split / "latest.pt")
    _states_equal(full["model"], again["model"])
    assert resumed["last_loss"] == full_result["last_loss"]
    assert again["best"] == full["best"]
    logs = [[json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
            for d in (straight, split)]  # fmt: skip
    strip = [[{k: v for k, v in e.items() if k not in ("seconds", "clips_per_s")} for e in log]
             for log in logs]  # fmt: skip
    assert strip[0] == strip[1]


def test_val_records_and_best_by_mean_class_accuracy(tmp_path: Path) -> None:
    result = train(tiny(tmp_path, "schedule.select_by=mean_class_accuracy", "schedule.epochs=3"))
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    vals = [e for e in events if e["event"] == "val"]
    assert len(vals) == 3
    for e in vals:
        assert set(e["shots"]) == {"many", "medium", "few"}
        assert len(e["classes"]) == 32 and len(e["per_class"]) == 32
        assert set(e["classes"][0]) == {
            "name", "accuracy", "precision", "recall", "support", "train_count", "group"
        }  # fmt: skip
    best = max(vals, key=lambda e: (e["mean_class_accuracy"], -e["epoch"]))
    assert result["best"] == {
        "metric": "mean_class_accuracy",
        "value": best["mean_class_accuracy"],
        "epoch": best["epoch"],
    }
    test = json.loads((tmp_path / "test_metrics.json").read_text())
    assert test["shot_thresholds"] == {"many": 100, "few": 20}
    train_set, _, _ = build_datasets(tiny(tmp_path))
    counts = [c["train_count"] for c in test["classes"]]
    assert counts == np.bincount(train_set.labels, minlength=32).tolist()
    assert all(c["group"] == "few" for c in test["classes"])  # 2 to 9 clips per class
    header = (tmp_path / "test_per_class.csv").read_text().splitlines()[0]
    assert header == "class,name,accuracy,precision,recall,support,train_count,group"


def test_bad_long_tail_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="data.sampler must be one of instance, class_balanced"):
        tiny(tmp_path, "data.sampler=balanced")
    with pytest.raises(ConfigError, match="loss.class_weights must be one of none, inverse"):
        tiny(tmp_path, "loss.class_weights=inv")
    with pytest.raises(ConfigError, match="schedule.select_by must be one of top1"):
        tiny(tmp_path, "schedule.select_by=top5")
    with pytest.raises(ConfigError, match="loss.logit_adjust_tau must be >= 0"):
        train(tiny(tmp_path, "loss.logit_adjust_tau=-1.0"))


# ----------------------------------------------------------------------------- TensorBoard
def test_confusion_image_by_hand() -> None:
    image = confusion_image(np.array([[3, 1], [0, 0]]), cell=2)
    assert image.shape == (4, 4, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [round(255 + 0.75 * (8 - 255)), round(255 + 0.75 * (48 - 255)),
                                     round(255 + 0.75 * (107 - 255))]  # fmt: skip
    assert image[3, 3].tolist() == [255, 255, 255]  # an absent class stays white
    with pytest.raises(ValueError, match="square matrix"):
        confusion_image(np.zeros((2, 3)))


def test_missing_tensorboard_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith(("torch.utils.tensorboard", "tensorboard")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ImportError, match=r"pip install 'pymg-microgesture\[tensorboard\]'"):
        TensorBoardLog(tmp_path, ["a"])


def test_a_run_writes_every_curve(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny(tmp_path, "log.tensorboard=true"))
    files = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    expected = {"train/loss", "train/ce", "train/semantic", "train/weighted_semantic",
                "train/lr", "epoch/loss", "val/top1", "val/top5", "val/mean_class_accuracy",
                "val/few_shot", "test/top1", "test/few_shot"}  # fmt: skip
    assert expected <= scalars, expected - scalars
    log = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    present = [v for v in log[-1]["per_class"].values() if v is not None]
    per_class = [t for t in scalars if t.startswith("val_class_accuracy/")]
    # one tag per class with test clips (a class without any has no accuracy to draw)
    assert len(per_class) == len(present) >= 30
    assert len(events.Scalars("val/top1")) == 2  # one per evaluation
    assert [e.value for e in events.Scalars("val/top1")][-1] == pytest.approx(
        json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-2])["top1"]
    )
    assert {"val/confusion", "test/confusion"} <= set(events.Tags()["images"])
    image = events.Images("val/confusion")[0]
    assert (image.width, image.height) == (256, 256)  # 32 classes x 8 pixels


# ----------------------------------------------------------------------------- command line
def test_pymg_test_reports_per_class_and_adjusts(
    base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pymg.cli import main
    from pymg.engine.evaluate import adjust_scores, load_scores
    from pymg.engine.metrics import summarize

    ck = base_run / "latest.pt"
    assert main(["test", str(ck), "--out", str(tmp_path / "plain")]) == 0
    assert (
        main(["test", str(ck), "--out", str(tmp_path / "la"), "--set", "test.logit_adjust=1.0"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("many / medium / few-shot classes: - / - / ") == 2
    plain = load_scores(tmp_path / "plain" / "latest_test_scores.npz")
    counts = load_checkpoint(ck)["class_counts"]
    expected = adjust_scores(plain, counts, 1.0)
    adjusted = load_scores(tmp_path / "la" / "latest_test_scores.npz")
    np.testing.assert_allclose(adjusted.scores, expected.scores, atol=1e-6)
    metrics = json.loads((tmp_path / "la" / "latest_test_metrics.json").read_text())
    assert metrics["top1"] == summarize(expected.scores, expected.labels)["top1"]
    rows = (tmp_path / "la" / "latest_test_per_class.csv").read_text().splitlines()
    assert len(rows) == 33 and rows[0].endswith("train_count,group")
    # a checkpoint from before the counts were stored: post hoc adjustment cannot run
    old = load_checkpoint(ck)
    del old["class_counts"]
    torch.save(old, tmp_path / "old.pt")
    assert main(["test", str(tmp_path / "old.pt"), "--set", "test.logit_adjust=1.0"]) == 2
    assert "does not store" in capsys.readouterr().err


def test_pymg_train_finetune_head_and_tensorboard_flags(base_run: Path, tmp_path: Path) -> None:
    from pymg.cli import main

    sets = [arg for item in TINY for arg in ("--set", item)]
    flags = ["--tensorboard"] if _has_tensorboard() else []
    argv = ["train", "demo", *sets, "--work-dir", str(tmp_path), "--no-test", *flags]
    assert main([*argv, "--finetune-head", str(base_run / "latest.pt")]) == 0
    ck = load_checkpoint(tmp_path / "latest.pt")
    assert ck["finetune_head"] == str(base_run / "latest.pt")
    assert ck["config"]["log"]["tensorboard"] is bool(flags)
    assert (tmp_path / "tensorboard").is_dir() is bool(flags)


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True
