"""Build the pieces of an experiment from a :class:`~pymg.engine.config.Config`.

Explicit constructors only: the config names a source file (or ``"synthetic"``), a layout, a
model family and its options, and these functions call :class:`pymg.data.PoseDataset`, the
family's constructor (:data:`pymg.models.registry.MODELS`) and
:class:`pymg.losses.SemanticEmbeddingLoss` with its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pymg.checks import check_index
from pymg.engine.config import Config, ConfigError
from pymg.engine.model_options import build_from_spec, model_spec
from pymg.models.interface import RecognizerModel
from pymg.topology import Skeleton, resolve_layout

__all__ = [
    "RepeatedDataset",
    "build_criterion",
    "build_datasets",
    "build_model",
    "class_names_for",
    "config_layout",
    "label_embeddings_for",
    "resolve_layout",
    "skeleton_from_dict",
    "skeleton_to_dict",
]

_SKELETON_FIELDS = (
    "name",
    "joints",
    "limbs",
    "left_joints",
    "right_joints",
    "left_limbs",
    "right_limbs",
    "center",
    "source_indices",
)


def config_layout(cfg: Config) -> Skeleton:
    """The Skeleton of ``cfg.data.layout`` (:func:`pymg.topology.resolve_layout`).

    Raises:
        ConfigError: an unknown name (the message says to set ``data.layout``).
    """
    try:
        return resolve_layout(cfg.data.layout)
    except ValueError as exc:
        raise ConfigError(f"data.layout: {exc}") from None


def skeleton_to_dict(skeleton: Any) -> dict[str, Any]:
    """The Skeleton's defining fields as plain lists (stored in checkpoints)."""
    out: dict[str, Any] = {}
    for name in _SKELETON_FIELDS:
        value = getattr(skeleton, name)
        if isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[name] = value
    return out


def skeleton_from_dict(values: dict[str, Any]) -> Any:
    """Inverse of :func:`skeleton_to_dict`; a shipped layout name returns the shipped Skeleton."""
    from pymg.topology import list_layouts

    rebuilt = Skeleton(
        name=values["name"],
        joints=tuple(values["joints"]),
        limbs=tuple(tuple(p) for p in values["limbs"]),
        left_joints=tuple(values["left_joints"]),
        right_joints=tuple(values["right_joints"]),
        left_limbs=tuple(values["left_limbs"]),
        right_limbs=tuple(values["right_limbs"]),
        center=int(values["center"]),
        source_indices=None
        if values["source_indices"] is None
        else tuple(values["source_indices"]),
    )
    if rebuilt.name in list_layouts() and skeleton_to_dict(resolve_layout(rebuilt.name)) == values:
        return resolve_layout(rebuilt.name)
    return rebuilt


def _train_transform(cfg: Config, layout: Any) -> Any:
    from pymg.data import Compose, Flip, PoseCompact, Resize, train_transform

    d = cfg.data
    if d.random_crop:
        return train_transform(size=d.train_size, flip_prob=d.flip_prob, layout=layout)
    # the test pipeline plus the flip: square crop around the person, resize, mirror
    size = (d.train_size, d.train_size)
    return Compose([PoseCompact(0.25, 10, 1.0, True), Resize(size), Flip(d.flip_prob, layout)])


def _test_transform(cfg: Config) -> Any:
    from pymg.data import test_transform

    return test_transform(size=cfg.data.test_size)


def build_datasets(cfg: Config, *, train: bool = True) -> tuple[Any, Any, list[str]]:
    """Training set (``None`` when ``train=False``), test set and the K class names.

    ``cfg.data.source`` is a dataset file (PYSKL ``.pkl`` or pymg ``.npz``) or ``"synthetic"``.
    With ``detect.train`` the items are windows of recordings
    (:func:`pymg.engine.detect_data.build_window_datasets`).

    Raises:
        FileNotFoundError: the source file does not exist.
        ConfigError: the classes in the data do not fit ``cfg.model.num_classes``.
    """
    from pymg.data import PoseDataset, SyntheticMicroGestures

    if cfg.detect.train:  # a detector: windows of untrimmed recordings, + a background class
        from pymg.engine.detect_data import build_window_datasets

        return build_window_datasets(cfg, train=train)
    d = cfg.data  # d.repeat was range-checked when the config was read (config_ranges)
    layout = config_layout(cfg)
    source: Any
    if d.source == "synthetic_imigue":
        source = _synthetic_imigue(d.synthetic_clips, d.layout, d.synthetic_seed)
        names = [str(n) for n in source.class_names]
    elif d.source == "synthetic":
        source = SyntheticMicroGestures(
            num_classes=d.synthetic_classes,
            num_clips=d.synthetic_clips,
            layout=d.layout,
            seed=d.synthetic_seed,
        )
        names = [str(n) for n in source.class_names]
    else:
        if not d.source:
            raise ConfigError("data.source is empty: set it to a dataset file or 'synthetic'")
        path = Path(d.source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"dataset file not found: {path} (set data.source; `pymg prepare` writes one)"
            )
        source = str(path)
        names = []
    train_set: Any = None
    if train:
        train_set = PoseDataset(
            source,
            split=d.train_split,
            layout=layout,
            transform=_train_transform(cfg, layout),
            num_persons=d.num_persons,
            seed=cfg.runtime.seed,
        )
    test_set = PoseDataset(
        source,
        split=d.test_split,
        layout=layout,
        transform=_test_transform(cfg),
        num_persons=d.num_persons,
    )
    if not names:
        names = class_names_for(cfg.model.num_classes, getattr(test_set, "class_names", None))
    for split, ds in ((d.train_split, train_set), (d.test_split, test_set)):
        if ds is not None and int(ds.num_classes) > cfg.model.num_classes:
            raise ConfigError(
                f"split {split!r} has labels up to {int(ds.num_classes) - 1} but "
                f"model.num_classes = {cfg.model.num_classes}"
            )
    if len(names) != cfg.model.num_classes:
        raise ConfigError(
            f"the data has {len(names)} classes but model.num_classes = {cfg.model.num_classes}"
        )
    if train_set is not None and d.repeat > 1:
        train_set = RepeatedDataset(train_set, d.repeat)
    return train_set, test_set, names


_SYNTHETIC_CACHE: dict[tuple[int, str, int], Any] = {}


def _synthetic_imigue(clips: int, layout: str, seed: int) -> Any:
    """One :class:`pymg.data.SyntheticIMiGUE` per (clips, layout, seed) and process: its clips are
    generated once and reused by later runs (e.g. the cells of ``pymg ablate``)."""
    from pymg.data import SyntheticIMiGUE

    key = (int(clips), str(layout), int(seed))
    if key not in _SYNTHETIC_CACHE:
        if len(_SYNTHETIC_CACHE) >= 4:
            _SYNTHETIC_CACHE.pop(next(iter(_SYNTHETIC_CACHE)))
        _SYNTHETIC_CACHE[key] = SyntheticIMiGUE(num_clips=clips, layout=layout, seed=seed)
    return _SYNTHETIC_CACHE[key]


class RepeatedDataset(torch.utils.data.Dataset[dict[str, Any]]):
    """A dataset listed ``times`` times per epoch (``data.repeat``; PYSKL's ``RepeatDataset``).

    Item ``i`` is item ``i % n`` of the inner dataset; copy ``r = i // n`` of epoch ``e`` draws its
    augmentation as the inner dataset's epoch ``e * times + r`` would, so the copies differ.

    Shape:
        - items: those of the inner dataset; ``len = times * len(dataset)``
    """

    def __init__(self, dataset: Any, times: int) -> None:
        # ``times`` is data.repeat, checked once where the config is read (build_datasets)
        self.dataset = dataset
        self.times = times
        self.epoch = 0

    def __len__(self) -> int:
        return self.times * len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of the per-sample random generators (see the class docstring)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = check_index(index, len(self), negative=False)
        copy, inner = divmod(index, len(self.dataset))
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch * self.times + copy)
        return dict(self.dataset[inner])

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (unpickling): avoid recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


def class_names_for(num_classes: int, names: Sequence[str] | None = None) -> list[str]:
    """``names`` when given, iMiGUE's names for K = 32, else ``"class 0"``, ``"class 1"``..."""
    if names is not None and len(names) > 0:
        return [str(n) for n in names]
    if num_classes == 32:
        from pymg.labels import IMIGUE_CLASSES

        return list(IMIGUE_CLASSES)
    return [f"class {i}" for i in range(num_classes)]


def label_embeddings_for(cfg: Config) -> torch.Tensor | None:
    """The [K, D] label-embedding table when ``loss.semantic`` is on, else ``None``."""
    if not cfg.loss.semantic:
        return None
    from pymg.labels import load_label_embeddings

    table = load_label_embeddings(cfg.loss.embeddings)
    if table.ndim != 2 or table.shape[0] != cfg.model.num_classes:
        raise ConfigError(
            f"loss.embeddings {cfg.loss.embeddings!r} has shape {tuple(table.shape)}; expected "
            f"[{cfg.model.num_classes}, D] (one row per class), or set loss.semantic = false"
        )
    return table.float()


def build_model(cfg: Config, layout: Any, embed_dim: int | None = None) -> RecognizerModel:
    """The configured model family (``cfg.model``), built from :func:`model_spec`.

    ``embed_dim`` is D of the label-embedding table when the semantic loss is on (the families
    that take ``embed_dim`` get it unless ``model.embed_dim`` is set). ``model.pretrained``, when
    set, loads PYSKL/mmaction2 weights into the model (non-strictly).
    """
    model = build_from_spec(model_spec(cfg, embed_dim), layout)
    if cfg.model.pretrained:
        from pymg.models import load_pyskl_checkpoint

        path = Path(cfg.model.pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"model.pretrained not found: {path}")
        load_pyskl_checkpoint(model, str(path), strict=False)
    return model


def build_criterion(
    cfg: Config,
    label_embeddings: torch.Tensor | None,
    class_weights: torch.Tensor | None = None,
    logit_adjustment: torch.Tensor | None = None,
) -> nn.Module:
    """Cross-entropy (+ weighted semantic embedding loss when ``label_embeddings`` is given),
    with optional per-class ``class_weights`` [K] and ``logit_adjustment`` [K] (long tail, see
    :func:`pymg.engine.longtail.criterion_options`)."""
    from pymg.losses import SemanticEmbeddingLoss

    return SemanticEmbeddingLoss(
        label_embeddings,
        weight=cfg.loss.weight,
        distance=cfg.loss.distance,
        label_smoothing=cfg.loss.label_smoothing,
        scale=cfg.loss.embedding_scale,
        class_weights=class_weights,
        logit_adjustment=logit_adjustment,
    )
