"""The ``[model]`` table: an architecture plus its constructor's options, checked and resolved.

``arch`` names a family of :data:`pymg.models.registry.MODELS`; every other key (except
``pretrained``, read by the engine) goes verbatim to that family's constructor. Options are checked
against the constructor's signature when the config is read: an unknown key lists the parameters,
a wrong type names the parameter and the annotation; TOML lists become tuples where the
annotation is a sequence and ``"none"`` (TOML has no null) is None where the constructor takes
None. The arguments a family lists in ``engine_args`` come from elsewhere in the config:
``layout`` from ``data.layout``, ``size`` from ``data.train_size``, ``embed_dim`` from the
label-embedding table when ``loss.semantic`` is on (``embed_dim`` may also be set, to fix D).

The *resolved* model (:func:`model_spec`: ``arch`` plus every constructor argument but the
layout, defaults and engine values included) is what checkpoints store and what
:func:`build_from_spec` builds; nothing is inferred from weights. Configs and checkpoints of the
flat table of earlier releases are translated once, by :func:`translate_flat_model`.
"""

from __future__ import annotations

import inspect
import logging
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from pymg.engine.config import ConfigError, ModelConfig, unknown_key
from pymg.models.interface import RecognizerModel

__all__ = [
    "MAX_PARAMETERS",
    "build_from_spec",
    "check_model_options",
    "check_model_table",
    "model_spec",
    "translate_flat_model",
]

logger = logging.getLogger("pymg.engine")

MAX_PARAMETERS = 2**28
"""The most weights a configured model may have (2^28 = 1 GiB as float32; the recipe's PoseC3D
has 2 M): larger sizes are refused before any memory is taken."""

_SOURCES = {
    "layout": "data.layout",
    "size": "data.train_size",
    "embed_dim": "the label-embedding table of loss.embeddings",
}

# The flat [model] table of earlier releases, with its defaults; per family, which of its keys
# meant which constructor argument (``gcn_channels`` was ST-GCN's ``base_channels``).
_FLAT_DEFAULTS: dict[str, Any] = {
    "arch": "posec3d", "stream": "joint", "num_classes": 32, "clip_len": 48, "sigma": 0.6,
    "base_channels": 32, "stage_blocks": [4, 6, 3], "dropout": 0.5, "strategy": "uniform",
    "embed_dim": 0, "partition": "spatial", "gcn_channels": 64, "pretrained": "",
    "in_channels": 3, "num_blocks": 10, "down_blocks": [5, 8], "inflate_blocks": [5, 8],
    "gcn_adaptive": "importance", "gcn_with_res": False, "tcn_type": "unit_tcn",
}  # fmt: skip
_SHARED = ("num_classes", "clip_len", "dropout", "strategy", "embed_dim")
_FLAT_MEANING: dict[str, dict[str, str]] = {
    "posec3d": {k: k for k in (*_SHARED, "stream", "sigma", "base_channels", "stage_blocks")},
    "stgcn": {
        **{k: k for k in _SHARED},
        **{k: k for k in ("partition", "in_channels", "num_blocks", "down_blocks")},
        **{k: k for k in ("inflate_blocks", "gcn_adaptive", "gcn_with_res", "tcn_type")},
        "gcn_channels": "base_channels",
    },
}


def _families() -> Any:
    from pymg.models import registry

    return registry


def _is_flat(arch: str, table: Mapping[str, Any]) -> bool:
    """Whether ``table`` is the flat form of earlier releases (a key of that form the family
    does not take, such as ``gcn_channels`` or PoseC3D's ``partition``, or ``embed_dim = 0``)."""
    if arch not in _FLAT_MEANING:
        return False
    params = _families().family_parameters(arch)
    foreign = [k for k in table if k in _FLAT_DEFAULTS and k not in params]
    return bool(foreign) or table.get("embed_dim") == 0


def translate_flat_model(arch: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor options that the flat ``[model]`` table of earlier releases meant.

    Keys the family ignored then (the other family's) are dropped, missing keys take that
    release's defaults (ST-GCN: 48 frames, dropout 0.5), ``gcn_channels`` becomes ST-GCN's
    ``base_channels``, ``embed_dim = 0`` becomes unset (the engine supplies D) and
    ``gcn_adaptive = "none"`` becomes None.

    Args:
        arch: ``"posec3d"`` or ``"stgcn"``.
        table: the old keys (``arch`` and ``pretrained`` already removed).
    """
    merged = {**_FLAT_DEFAULTS, **table}
    options = {new: merged[old] for old, new in _FLAT_MEANING[arch].items()}
    if options["embed_dim"] == 0:
        del options["embed_dim"]
    if options.get("gcn_adaptive") == "none":
        options["gcn_adaptive"] = None
    dropped = sorted(k for k in table if k not in _FLAT_MEANING[arch])
    if dropped:
        logger.info("[model] in the flat form of earlier releases: %s ignores %s", arch, dropped)
    return options


def check_model_table(table: Mapping[str, Any]) -> ModelConfig:
    """The :class:`ModelConfig` of a ``[model]`` table (new or flat form), options checked.

    Raises:
        ConfigError: an unknown ``arch`` or option, or a value of the wrong type.
    """
    families = _families()
    values = dict(table)
    arch = values.pop("arch", "posec3d")
    if not isinstance(arch, str) or arch not in families.MODELS:
        known = ", ".join(families.MODELS)
        raise ConfigError(f"model.arch must be one of {known}; got {arch!r}")
    pretrained = values.pop("pretrained", "")
    if not isinstance(pretrained, str):
        raise ConfigError(f"model.pretrained expects a string (a file path), got {pretrained!r}")
    if _is_flat(arch, values):
        values = translate_flat_model(arch, values)
    return ModelConfig(arch, check_model_options(arch, values), pretrained)


def check_model_options(
    arch: str, values: Mapping[str, Any], *, resolved: bool = False
) -> dict[str, Any]:
    """``values`` checked against the constructor of ``arch`` (lists -> tuples, "none" -> None).

    ``resolved`` allows the engine-supplied arguments (a stored :func:`model_spec`).

    Raises:
        ConfigError: an unknown key (listing the parameters, with a close match), an
            engine-supplied one (naming where it comes from) or a value of the wrong type.
    """
    families = _families()
    params = families.family_parameters(arch)
    hints = families.family_hints(arch)
    supplied = families.family_engine_args(arch)
    own = [p for p in params if p not in supplied or p == "embed_dim"]
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in supplied and not resolved and key != "embed_dim":
            raise ConfigError(
                f"model.{key} is not set in [model]: the engine takes it from {_SOURCES[key]}"
            )
        if key not in params or key == "layout":
            name = getattr(families.MODELS[arch], "__name__", arch)
            error = unknown_key("model option", f"model.{key}", [f"model.{p}" for p in own])
            raise ConfigError(f"{error} ({name} takes: {', '.join(own)})")
        out[key] = _coerce(f"model.{key}", value, hints[key])
    return out


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("collections.abc.", "").replace("typing.", "")


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """``value`` as the constructor's ``annotation`` wants it, or a ConfigError naming ``key``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or value == "none"):
            return None
        for option in args:
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
    elif origin in (tuple, Sequence) and isinstance(value, list | tuple):
        fixed = origin is tuple and Ellipsis not in args
        if not fixed or len(value) == len(args):
            types_ = args if fixed else [args[0]] * len(value)
            return tuple(
                _coerce(f"{key}[{i}]", v, t)
                for i, (v, t) in enumerate(zip(value, types_, strict=True))
            )
    elif annotation is bool and isinstance(value, bool):
        return value
    elif annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif annotation is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif annotation is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key} expects {_type_name(annotation)}, got {value!r}")


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (what TOML and ``weights_only`` checkpoints hold)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def model_spec(cfg: Any, embed_dim: int | None = None) -> dict[str, Any]:
    """The resolved model of ``cfg``: ``{"arch": str, "options": {every constructor argument
    but the layout}}``, engine values (``size``, ``embed_dim``) and defaults filled in.

    Args:
        cfg: a :class:`pymg.engine.Config`.
        embed_dim: D of the label-embedding table when the semantic loss is on, else None.

    Raises:
        ConfigError: ``model.embed_dim`` disagrees with the table, or the family has no
            embedding branch while the semantic loss is on.
    """
    families = _families()
    arch, options = cfg.model.arch, dict(cfg.model.options)
    supplied = families.family_engine_args(arch)
    if "size" in supplied:
        options["size"] = cfg.data.train_size
    if "embed_dim" in supplied:
        chosen = options.setdefault("embed_dim", embed_dim)
        if embed_dim is not None and chosen != embed_dim:
            raise ConfigError(
                f"model.embed_dim = {chosen} but the label-embedding table "
                f"({cfg.loss.embeddings!r}) has D = {embed_dim}; leave model.embed_dim unset"
            )
    elif embed_dim is not None:
        raise ConfigError(
            f"model.arch = {arch!r} has no embedding branch for the semantic loss; set "
            "loss.semantic = false"
        )
    bound = inspect.signature(families.MODELS[arch]).bind_partial(**options)
    bound.apply_defaults()
    resolved = {k: _plain(v) for k, v in bound.arguments.items() if k != "layout"}
    return {"arch": arch, "options": resolved}


def build_from_spec(spec: Mapping[str, Any], layout: Any) -> RecognizerModel:
    """The model a :func:`model_spec` describes, freshly initialised, for ``layout``.

    Its weight count is checked first, on the meta device (no memory taken), against
    :data:`MAX_PARAMETERS`.

    Raises:
        ConfigError: an unknown arch, an invalid option (the constructor's message), or a
            model too large for memory (naming the count and the limit).
    """
    families = _families()
    if not isinstance(spec, Mapping) or not isinstance(spec.get("options"), Mapping):
        raise ConfigError(f"a model spec is {{'arch': str, 'options': dict}}, got {spec!r}")
    arch = spec.get("arch")
    if not isinstance(arch, str) or arch not in families.MODELS:
        raise ConfigError(f"model.arch must be one of {', '.join(families.MODELS)}; got {arch!r}")
    options = check_model_options(arch, spec["options"], resolved=True)
    build = families.MODELS[arch]
    try:
        with torch.device("meta"):
            count = sum(p.numel() for p in build(layout, **options).parameters())
        if count > MAX_PARAMETERS:
            raise ConfigError(
                f"model ({arch}) would have {count:,} weights ({count * 4 / 2**30:.1f} GiB as "
                f"float32), above the limit of {MAX_PARAMETERS:,}; lower its sizes"
            )
        return build(layout, **options)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        supplied = families.family_engine_args(arch)  # layout, size, ...: not model.* keys
        named = [k for k in options if re.search(rf"\b{re.escape(k)}\b", str(exc))]
        keys = [f"model.{k}" for k in named if k not in supplied]
        where = f"set by {', '.join(keys)}" if keys else "set by the model.* config keys"
        raise ConfigError(f"model ({arch}): {exc} ({where})") from None
