"""Experiment configuration: small dataclasses, TOML files and ``--set key=value`` overrides.

A config has nine sections (``data``, ``model``, ``optim``, ``schedule``, ``loss``, ``test``,
``runtime``, ``log``, ``detect``), each a flat dataclass of plain values, so a TOML file maps
onto it one to one::

    name = "imigue41_posec3d_joint"
    [data]
    source = "data/imigue41.pkl"
    [optim]
    lr = 0.0333333

Unknown sections or keys are an error that names the key (with a close-match suggestion), and
every value is checked against the field's type. Shipped configs live in ``pymg/configs/*.toml``
(package data) and are found by name: ``load_config("imigue41_posec3d_joint")``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymg.data.samplers import SAMPLERS
from pymg.engine.runtime import AMP_MODES
from pymg.engine.segments import SegmentParams
from pymg.losses_longtail import CLASS_WEIGHTS
from pymg.topology import DEFAULT_LAYOUT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "LogConfig",
    "DetectConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RuntimeConfig",
    "ScheduleConfig",
    "TestConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "config_to_toml",
    "list_configs",
    "load_config",
]


class ConfigError(ValueError):
    """A config file or override is invalid (unknown key, wrong type, missing file)."""


@dataclass
class DataConfig:
    """Where clips come from and how they are augmented (keypoint space, on the CPU).

    ``source`` is a PYSKL ``.pkl`` / pymg ``.npz`` dataset file, ``"synthetic"`` for the
    built-in :class:`pymg.data.SyntheticMicroGestures` set (sized by the ``synthetic_*`` keys) or
    ``"synthetic_imigue"`` for the iMiGUE-like :class:`pymg.data.SyntheticIMiGUE` set (32 classes,
    long-tailed; ``synthetic_clips`` and ``synthetic_seed`` apply, ``synthetic_classes`` does not).
    ``repeat`` lists the training set that many times per epoch (PYSKL's ``RepeatDataset``: its
    PoseC3D configs train 24 epochs of a 10x repeated set); every copy gets its own augmentation.
    Clips are cropped to ``train_size`` x ``train_size`` pixels for training (a random resized
    crop unless ``random_crop`` is false, then a horizontal flip with ``flip_prob``) and resized
    to ``test_size`` x ``test_size`` for evaluation; heatmaps are drawn at that size on the device.
    ``sampler`` picks how training clips are drawn (:mod:`pymg.data.samplers`): ``"instance"``
    (shuffle), ``"class_balanced"``, ``"sqrt"`` or ``"progressive"`` (class probability
    ``n_c^q``, ``q`` = 1, 0, 1/2, or 1 -> 0 over the epochs).
    """

    source: str = ""
    train_split: str = "train"
    test_split: str = "test"
    layout: str = DEFAULT_LAYOUT
    num_persons: int = 1
    train_size: int = 56
    test_size: int = 64
    flip_prob: float = 0.5
    random_crop: bool = True
    num_workers: int = 2
    synthetic_classes: int = 8
    synthetic_clips: int = 400
    synthetic_seed: int = 0
    repeat: int = 1
    # "instance" as before; Kang et al. (ICLR 2020) train cRT's classifier "class_balanced"
    sampler: str = "instance"


@dataclass
class ModelConfig:
    """The network: ``arch`` names a model family, ``options`` are its constructor's arguments.

    ``arch`` is a key of :data:`pymg.models.registry.MODELS` (``"posec3d"``, ``"stgcn"``,
    ``"stgcnpp"``, ``"posec3d_two_stream"``); in TOML every other key of ``[model]`` is an option,
    passed verbatim to that constructor (:mod:`pymg.engine.model_options` checks them against
    its signature). ``pretrained`` optionally names a PYSKL/mmaction2 checkpoint to start from.
    Unset options take the constructor's defaults; ``layout``, PoseC3D's ``size`` and
    ``embed_dim`` come from ``data.layout``, ``data.train_size`` and the label-embedding table.
    """

    arch: str = "posec3d"
    options: dict[str, Any] = field(default_factory=dict)
    pretrained: str = ""

    def option(self, name: str) -> Any:
        """The value of constructor argument ``name``: as set, else the constructor's default.

        Raises:
            KeyError: the family's constructor has no such argument.
        """
        if name in self.options:
            return self.options[name]
        from pymg.models.registry import family_parameters

        params = family_parameters(self.arch)
        if name not in params:
            raise KeyError(f"model family {self.arch!r} has no argument {name!r}")
        return params[name].default

    @property
    def num_classes(self) -> int:
        """K (every family has ``num_classes``)."""
        return int(self.option("num_classes"))

    @property
    def clip_len(self) -> int:
        """Frames after temporal alignment (every family has ``clip_len``)."""
        return int(self.option("clip_len"))


@dataclass
class OptimConfig:
    """SGD settings. ``batch_size`` is per process; ``grad_clip <= 0`` disables clipping.

    ``lr_batch_size > 0`` declares ``lr`` as given for that total batch: the rate used is then
    ``lr * batch_size * world_size / lr_batch_size`` (linear scaling rule), so a config keeps its
    recipe when run on another number of processes. ``0`` uses ``lr`` as it is.
    """

    lr: float = 0.1 / 3
    momentum: float = 0.9
    weight_decay: float = 3e-4
    nesterov: bool = False
    batch_size: int = 24
    grad_clip: float = 40.0
    lr_batch_size: int = 0


@dataclass
class ScheduleConfig:
    """Per-iteration learning-rate schedule: ``policy`` is ``"cosine"`` or ``"constant"``.

    ``warmup_epochs`` (may be fractional) ramps linearly from ``warmup_factor * lr`` to ``lr``;
    the cosine then anneals from ``lr`` to ``min_lr`` at the last iteration.
    ``select_by`` picks the validation metric that chooses ``best.pt``: ``"top1"`` or
    ``"mean_class_accuracy"`` (better on long-tailed data, where top-1 rewards the head classes).
    """

    epochs: int = 24
    policy: str = "cosine"
    warmup_epochs: float = 0.0
    warmup_factor: float = 0.1
    min_lr: float = 0.0
    select_by: str = "top1"


@dataclass
class LossConfig:
    """Cross-entropy plus, when ``semantic`` is true, ``weight`` x the semantic embedding loss.

    ``embeddings`` is ``"imigue"`` (the shipped label-embedding table) or a path to a ``.npy``
    table of shape [K, D]. ``embedding_scale`` is ``"recipe"`` (rescale the table to the
    published table's magnitude, mean square 0.077 per element, so that ``weight * MSE`` starts
    near 1.5 as in the recipe), ``"none"`` (the table as stored) or a factor such as ``"2.5"``;
    see :func:`pymg.labels.scale_label_embeddings`.

    Long-tail options (:mod:`pymg.losses_longtail`), all off by default: ``class_weights`` is
    ``"none"``, ``"inverse"`` (1/n_c), ``"sqrt_inverse"`` (1/sqrt(n_c)) or ``"effective"`` (Cui et
    al. 2019, with ``effective_beta``); ``logit_adjust_tau > 0`` trains with the logit-adjusted
    cross-entropy (logits + tau * log(prior); Menon et al. 2021 use tau = 1).
    """

    semantic: bool = True
    weight: float = 20.0
    distance: str = "mse"
    embeddings: str = "imigue"
    label_smoothing: float = 0.0
    embedding_scale: str = "recipe"
    class_weights: str = "none"
    # Cui et al., CVPR 2019, search beta in {0.9, 0.99, 0.999, 0.9999}
    effective_beta: float = 0.999
    # 0 = plain cross-entropy; Menon et al., ICLR 2021: tau = 1
    logit_adjust_tau: float = 0.0


@dataclass
class TestConfig:
    """Evaluation: ``num_clips`` temporal views (+ horizontal flip) averaged on softmax scores.

    ``val_*`` are the cheaper settings used for the evaluation after every ``val_interval``
    epochs during training (``0`` = only the final test).

    ``logit_adjust > 0`` adjusts the test scores post hoc by the training priors,
    ``softmax(log p - tau * log(prior))`` (Menon et al. 2021, tau = 1), in validation, the final
    test and ``pymg test``. Classes with more than ``many_shot`` training clips are "many-shot",
    with fewer than ``few_shot`` "few-shot", the rest "medium" (the usual 100 / 20 of
    long-tail benchmarks, Liu et al. 2019); the report gives the accuracy of each group.
    """

    num_clips: int = 10
    flip: bool = True
    batch_size: int = 4
    val_interval: int = 1
    val_num_clips: int = 1
    val_flip: bool = False
    # post-hoc logit adjustment tau: 0 = off; Menon et al., ICLR 2021: tau = 1
    logit_adjust: float = 0.0
    many_shot: int = 100
    few_shot: int = 20


@dataclass
class RuntimeConfig:
    """Where and how a run executes.

    ``device`` is ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``; ``amp`` is ``"auto"``
    (bf16 on CUDA, off on CPU), ``"bf16"``, ``"fp16"`` or ``"off"``. ``threads = 0`` keeps torch's
    default number of CPU threads. ``progress`` shows a tqdm bar when stderr is a terminal.
    ``channels_last`` stores the weights in the model's ``channels_last_format`` (PoseC3D:
    ``torch.channels_last_3d``, often faster on CPUs and tensor-core GPUs; same results up to
    rounding; models without one are left as they are). ``dist_timeout`` is how many seconds
    a process of a distributed run waits for its peers in one collective (gradient all-reduce,
    barrier, gather) before the run ends with an error naming the ranks that stopped answering
    (default 1800, torch's own default; a stopped or hung peer otherwise hangs the job).
    """

    work_dir: str = "runs/default"
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    threads: int = 0
    channels_last: bool = False
    progress: bool = True
    log_interval: int = 20
    deterministic: bool = False
    dist_timeout: float = 1800.0


@dataclass
class LogConfig:
    """What a run records besides ``metrics.jsonl``.

    ``tensorboard = true`` (or ``pymg train --tensorboard``) writes TensorBoard event files to
    ``<work_dir>/tensorboard`` (rank 0 only; needs
    ``pip install 'pymg-microgesture[tensorboard]'``): the loss
    and each of its terms, the learning rate, top-1 / top-5 / mean class accuracy, many / medium /
    few-shot accuracy, per-class accuracy and the confusion matrix as an image at every evaluation.
    """

    tensorboard: bool = False


@dataclass
class DetectConfig:
    """Detection in untrimmed recordings: training on windows, sliding windows at test time.

    With ``train = true`` the training set is windows of ``window`` frames cut from recordings
    (``data.source`` is an untrimmed file or ``"synthetic_untrimmed"``): ``windows_per_gesture``
    windows centred inside each gesture take the class of the gesture they overlap most, and
    ``background_ratio`` times as many windows that overlap no gesture take the extra class K
    ("background", the last class: ``model.num_classes`` = gesture classes + 1).
    ``synthetic_recordings`` / ``synthetic_seconds`` / ``synthetic_classes`` size the synthetic
    set (:class:`pymg.data.SyntheticUntrimmed`; ``synthetic_classes = 0``: all 32 classes).

    At test time windows of ``window`` frames start every ``stride`` frames; ``batch_windows`` of
    them go through one heatmap call and one network call (``num_clips`` views, ``flip``); a
    frame's class scores are the mean of the softmax of the windows covering it. Segments follow
    from ``thresholds`` (one hysteresis level each, ``low = high - hysteresis``), ``min_len``,
    ``merge_gap``, ``max_len`` and per-class NMS at ``nms_iou`` (:mod:`pymg.engine.segments`).
    """

    train: bool = False
    window: int = 48
    stride: int = 8
    windows_per_gesture: int = 3
    background_ratio: float = 1.0
    batch_windows: int = 8
    num_clips: int = 1
    flip: bool = False
    thresholds: tuple[float, ...] = SegmentParams.thresholds  # the post-process defaults,
    hysteresis: float = SegmentParams.hysteresis  # defined once in pymg.engine.segments
    min_len: int = SegmentParams.min_len
    merge_gap: int = SegmentParams.merge_gap
    max_len: int = SegmentParams.max_len
    nms_iou: float = SegmentParams.nms_iou
    synthetic_recordings: int = 12
    synthetic_seconds: float = 120.0
    synthetic_classes: int = 8


@dataclass
class Config:
    """A whole experiment: ``name`` plus the nine sections."""

    name: str = "experiment"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    test: TestConfig = field(default_factory=TestConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    log: LogConfig = field(default_factory=LogConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)


_SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "loss": LossConfig,
    "test": TestConfig,
    "runtime": RuntimeConfig,
    "log": LogConfig,
    "detect": DetectConfig,
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "schedule.policy": ("cosine", "constant"),
    "loss.distance": ("mse", "cosine"),
    "runtime.device": ("auto", "cpu", "cuda"),
    "runtime.amp": AMP_MODES,
    "data.sampler": SAMPLERS,
    "loss.class_weights": CLASS_WEIGHTS,
    "schedule.select_by": ("top1", "mean_class_accuracy"),
}


def unknown_key(kind: str, key: str, known: Iterable[str]) -> str:
    """``"unknown <kind> '<key>'; did you mean ...?"`` (or the known keys when none is close)."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
    return f"unknown {kind} {key!r}{hint}"


def _unknown(kind: str, key: str, known: Iterable[str]) -> ConfigError:
    return ConfigError(unknown_key(kind, key, known))


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a field type (str, int, float, bool, tuple[int, ...])."""
    origin = typing.get_origin(annotation)
    if origin is tuple:
        (item_type, _) = typing.get_args(annotation)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} expects a list of {item_type.__name__}, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):  # pragma: no cover - no optional fields yet
        raise ConfigError(f"{key}: unsupported field type {annotation}")
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} expects true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} expects an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} expects a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} expects a string, got {value!r}")
        choices = _CHOICES.get(key)
        if choices is not None and value not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported field type {annotation}")  # pragma: no cover


def _field_types(section_type: type) -> dict[str, Any]:
    return typing.get_type_hints(section_type)


def _build_section(section: str, section_type: type, values: Mapping[str, Any]) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{section}] must be a table of key = value pairs, got {values!r}")
    if section_type is ModelConfig:
        from pymg.engine.model_options import check_model_table

        return check_model_table(values)
    hints = _field_types(section_type)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise _unknown("config key", f"{section}.{key}", (f"{section}.{k}" for k in hints))
        kwargs[key] = _coerce(f"{section}.{key}", value, hints[key])
    return section_type(**kwargs)


def config_from_dict(values: Mapping[str, Any]) -> Config:
    """Build a :class:`Config` from nested plain values (as read from TOML), checking every key.

    Missing sections and keys keep their defaults. Raises :class:`ConfigError` naming the first
    unknown section/key or badly typed value.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"a config must be a table, got {type(values).__name__}")
    sections = {}
    name = "experiment"
    for key, value in values.items():
        if key == "name":
            name = _coerce("name", value, str)
        elif key in _SECTIONS:
            sections[key] = _build_section(key, _SECTIONS[key], value)
        else:
            raise _unknown("config section", key, ["name", *_SECTIONS])
    cfg = Config(name=name, **sections)
    from pymg.engine.config_ranges import check_ranges

    check_ranges(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Nested plain dict of ``cfg`` (tuples become lists); inverse of :func:`config_from_dict`."""
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a pymg.engine.Config, got {type(cfg).__name__}")
    out: dict[str, Any] = {"name": cfg.name}
    for section in _SECTIONS:
        if section == "model":
            values = {"arch": cfg.model.arch, **cfg.model.options}
            values["pretrained"] = cfg.model.pretrained
        else:
            values = dataclasses.asdict(getattr(cfg, section))
        out[section] = {k: _plain(v) for k, v in values.items()}
    return out


def _plain(value: Any) -> Any:
    """A TOML-ready value: tuples as lists, None as ``"none"`` (TOML has no null)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return "none" if value is None else value


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")  # pragma: no cover


def config_to_toml(cfg: Config) -> str:
    """The TOML text of ``cfg`` (every key written), readable back by :func:`load_config`."""
    values = config_to_dict(cfg)
    lines = [f"name = {_toml_value(values.pop('name'))}"]
    for section, table in values.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items())
    return "\n".join(lines) + "\n"


def list_configs() -> list[str]:
    """Names of the configs shipped in ``pymg/configs`` (usable with :func:`load_config`)."""
    root = importlib.resources.files("pymg.configs")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _read_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None


def load_config(name_or_path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load a config from a TOML file path or a shipped config name, then apply ``overrides``.

    Args:
        name_or_path: a ``.toml`` path, or a name from :func:`list_configs`
            (e.g. ``"imigue41_posec3d_joint"``; a trailing ``.toml`` is allowed).
        overrides: ``"section.key=value"`` strings, see :func:`apply_overrides`.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: missing file/name, invalid TOML, unknown key or wrongly typed value.
    """
    if not isinstance(name_or_path, str | Path):
        raise TypeError(f"name_or_path must be a str or Path, got {type(name_or_path).__name__}")
    path = Path(name_or_path)
    if path.is_file():
        values = _read_toml(path.read_text(encoding="utf-8"), str(path))
    else:
        name = path.name[:-5] if path.name.endswith(".toml") else path.name
        resource = importlib.resources.files("pymg.configs") / f"{name}.toml"
        if path.parent != Path(".") or not resource.is_file():
            kind = "config (no such file or shipped name)"
            raise _unknown(kind, str(name_or_path), list_configs())
        values = _read_toml(resource.read_text(encoding="utf-8"), f"shipped config {name!r}")
    return apply_overrides(config_from_dict(values), overrides)


def _parse_value(text: str) -> Any:
    """Parse an override value as a TOML value; fall back to the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: Config, overrides: Iterable[str]) -> Config:
    """Return a copy of ``cfg`` with ``"section.key=value"`` overrides applied.

    Values are parsed as TOML (``0.05``, ``true``, ``[2, 2, 2]``, ``"text"``) and then checked
    against the field type; a bare word is taken as a string for string fields
    (``runtime.device=cpu``). ``name=...`` sets the experiment name.

    Raises:
        ConfigError: malformed override, unknown key (with a suggestion) or wrongly typed value.
    """
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of 'section.key=value' strings, not one string")
    values = config_to_dict(cfg)
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, _, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if key == "name":
            values["name"] = text
            continue
        section, _, sub = key.partition(".")
        if section not in _SECTIONS or not sub:
            known = [f"{s}.{k}" for s, t in _SECTIONS.items() for k in _field_types(t)]
            raise _unknown("config key", key, ["name", *known])
        value = _parse_value(text)
        if section != "model":  # model options are checked against the family's constructor
            hints = _field_types(_SECTIONS[section])
            if sub not in hints:
                raise _unknown("config key", key, (f"{section}.{k}" for k in hints))
            if hints[sub] is str and not isinstance(value, str):
                value = text
        values[section][sub] = value
    return config_from_dict(values)
