"""Build pymg models from PYSKL / mmaction2 configs: :func:`from_pyskl`, :func:`pyskl_model_spec`.

Supported families (``model.type`` / ``backbone.type``):

* ``RecognizerGCN`` + ``STGCN`` + ``GCNHead``: ST-GCN (``gcn_adaptive='importance'``, the
  default) and ST-GCN++ (``gcn_adaptive='init'``, ``gcn_with_res=True``, ``tcn_type='mstcn'``),
  on the layouts ``coco``, ``openpose``, ``nturgb+d``, ``handmp`` (pymg ``coco17``,
  ``openpose18``, ``ntu25``, ``hand21``) or an mmaction2 layout dict
  (``num_node``/``inward``/``center``);
* ``Recognizer3D`` + ``ResNet3dSlowOnly`` + ``I3DHead``: PoseC3D on joint or limb heatmaps.

Settings that change the computation but that pymg does not implement (other backbones, per-stage
argument tuples, ``conv_pos='post'``, another TCN branch set, ``data_bn_type='MVC'``...) are
refused with a :class:`PysklConfigError` naming the key; settings that only matter for training
(losses, initialisation, ``pretrained``, ``frozen_stages``...) are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from pymg.models.pyskl_config import PysklConfigError, read_pyskl_config

__all__ = ["PysklSpec", "from_pyskl", "pyskl_model_spec"]

_GCN_IGNORED = {"type", "pretrained", "init_cfg", "num_person"}
_GCN_DEFAULT_ONLY: dict[str, Any] = {
    "data_bn_type": "VC",
    "gcn_conv_pos": "pre",
    "gcn_norm": "BN",
    "gcn_act": "ReLU",
    "gcn_type": "unit_gcn",
    "tcn_norm": "BN",
    "tcn_mid_channels": None,
    "tcn_ms_cfg": [(3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1"],
}
_C3D_IGNORED = {
    "type", "depth", "pretrained", "pretrained2d", "frozen_stages", "norm_eval", "init_cfg",
    "zero_init_residual", "norm_cfg", "act_cfg", "conv_cfg", "lateral", "with_pool2",
}  # fmt: skip
_C3D_DEFAULT_ONLY: dict[str, Any] = {
    "conv1_kernel": (1, 7, 7),
    "conv1_stride": (1, 1),
    "conv1_stride_s": 1,
    "conv1_stride_t": 1,
    "pool1_stride": (1, 1),
    "pool1_stride_s": 1,
    "pool1_stride_t": 1,
    "inflate_style": "3x1x1",
    "advanced": False,
}
_HEAD_IGNORED = {
    "type", "in_channels", "num_classes", "dropout", "dropout_ratio", "loss_cls", "init_std",
    "init_cfg", "average_clips", "spatial_type", "multi_class", "label_smooth_eps", "topk",
}  # fmt: skip


@dataclass
class PysklSpec:
    """What a PYSKL/mmaction2 config asks for, in pymg terms.

    Attributes:
        family: ``"stgcn"``, ``"stgcn++"`` or ``"posec3d"``.
        layout: the :class:`pymg.topology.Skeleton`.
        num_classes: ``K``.
        kwargs: keyword arguments of :class:`pymg.models.STGCN` / :class:`pymg.models.PoseC3D`
            (``layout`` and ``num_classes`` excluded).
        test: test-time settings read from the test pipeline (``clip_len``, ``num_clips``, and
            ``feats``/``num_person`` for GCNs or ``size``/``sigma``/``flip``/``stream`` for
            PoseC3D) when present.
    """

    family: str
    layout: Any
    num_classes: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)

    @property
    def arch(self) -> str:
        """The pymg model family (a key of :data:`pymg.models.registry.MODELS`)."""
        return {"stgcn++": "stgcnpp"}.get(self.family, self.family)

    def build(self) -> nn.Module:
        """A freshly initialised pymg model for this spec."""
        from pymg.models.registry import MODELS

        return MODELS[self.arch](self.layout, num_classes=self.num_classes, **self.kwargs)


def _section(cfg: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = cfg.get(key)
    if not isinstance(value, dict):
        raise PysklConfigError(f"{where}: expected a dict {key}=dict(type=...), got {value!r}")
    return value


def _check_keys(
    section: Mapping[str, Any], where: str, used: set[str], ignored: set[str], defaults: dict
) -> None:
    for key, value in section.items():
        if key in used or key in ignored:
            continue
        if key in defaults:
            if _plain(value) != _plain(defaults[key]):
                raise PysklConfigError(
                    f"{where}.{key} = {value!r} is not supported by pymg (only {defaults[key]!r})"
                )
            continue
        raise PysklConfigError(f"{where}.{key} is not a setting pymg knows; cannot build the model")


def _plain(value: Any) -> Any:
    """Lists and tuples compare alike."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _num_classes(head: Mapping[str, Any]) -> int:
    value = head.get("num_classes")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PysklConfigError(
            f"model.cls_head.num_classes: expected a positive int, got {value!r}"
        )
    return value


def _pipeline_step(cfg: Mapping[str, Any], step: str) -> dict[str, Any] | None:
    """The first ``step`` of the test pipeline (else the val one, else the train one)."""
    for name in ("test_pipeline", "val_pipeline", "train_pipeline"):
        for item in cfg.get(name) or []:
            if isinstance(item, dict) and item.get("type") == step:
                return item
    return None


def _int_tuple(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
        raise PysklConfigError(f"{where}: expected a list of ints, got {value!r}")
    return tuple(value)


def _gcn_layout(graph: Mapping[str, Any], where: str) -> Any:
    from pymg.topology import PYSKL_LAYOUT_NAMES, Skeleton, resolve_layout

    layout = graph.get("layout", "coco")
    if isinstance(layout, str):
        if layout not in PYSKL_LAYOUT_NAMES:
            raise PysklConfigError(
                f"{where}.layout = {layout!r}: expected one of {list(PYSKL_LAYOUT_NAMES)} "
                "or a dict(num_node=..., inward=[...], center=...)"
            )
        return resolve_layout(layout)
    if isinstance(layout, dict) and {"num_node", "inward", "center"} <= set(layout):
        num = int(layout["num_node"])
        return Skeleton(
            name="pyskl_custom",
            joints=tuple(f"joint_{i}" for i in range(num)),
            limbs=tuple(tuple(e) for e in layout["inward"]),
            left_joints=(),
            right_joints=(),
            left_limbs=(),
            right_limbs=(),
            center=int(layout["center"]),
        )
    raise PysklConfigError(f"{where}.layout: expected a name or a layout dict, got {layout!r}")


def _gcn_spec(model: Mapping[str, Any], cfg: Mapping[str, Any]) -> PysklSpec:
    from pymg.topology import PYSKL_GRAPH_MODES

    backbone = _section(model, "backbone", "model")
    if backbone.get("type") != "STGCN":
        raise PysklConfigError(
            f"model.backbone.type = {backbone.get('type')!r} is not supported; pymg builds "
            "STGCN (ST-GCN, ST-GCN++) and ResNet3dSlowOnly (PoseC3D)"
        )
    graph = _section(backbone, "graph_cfg", "model.backbone")
    unknown = set(graph) - {"layout", "mode", "max_hop"}
    if unknown:
        raise PysklConfigError(f"model.backbone.graph_cfg: unsupported keys {sorted(unknown)}")
    layout = _gcn_layout(graph, "model.backbone.graph_cfg")
    mode = graph.get("mode", "spatial")
    if mode not in PYSKL_GRAPH_MODES:
        raise PysklConfigError(
            f"model.backbone.graph_cfg.mode = {mode!r}: expected one of {list(PYSKL_GRAPH_MODES)}"
        )
    max_hop = int(graph.get("max_hop", 1))
    num_stages = int(backbone.get("num_stages", 10))
    for key, value in backbone.items():
        if (
            isinstance(value, (list, tuple))
            and len(value) == num_stages
            and key[:4] in ("gcn_", "tcn_")
            and key != "tcn_ms_cfg"  # a list of branches, not per-stage values
        ):
            raise PysklConfigError(
                f"model.backbone.{key}: per-stage values are not supported by pymg"
            )
    down = _int_tuple(backbone.get("down_stages", [5, 8]), "model.backbone.down_stages")
    inflate = _int_tuple(backbone.get("inflate_stages", [5, 8]), "model.backbone.inflate_stages")
    kwargs: dict[str, Any] = {
        "partition": PYSKL_GRAPH_MODES[mode],
        "max_hop": max_hop,
        "in_channels": int(backbone.get("in_channels", 3)),
        "base_channels": int(backbone.get("base_channels", 64)),
        "num_blocks": num_stages,
        "down_blocks": down,
        "inflate_blocks": inflate,
        "ch_ratio": backbone.get("ch_ratio", 2),
        "gcn_adaptive": backbone.get("gcn_adaptive", "importance"),
        "gcn_with_res": bool(backbone.get("gcn_with_res", False)),
        "tcn_type": backbone.get("tcn_type", "unit_tcn"),
        "tcn_dropout": float(backbone.get("tcn_dropout", 0.0)),
    }
    used = {"graph_cfg", "in_channels", "base_channels", "num_stages", "down_stages"}
    used |= {"inflate_stages", "ch_ratio", "gcn_adaptive", "gcn_with_res", "tcn_type"}
    used |= {"tcn_dropout"}
    _check_keys(backbone, "model.backbone", used, _GCN_IGNORED, _GCN_DEFAULT_ONLY)
    head = _section(model, "cls_head", "model")
    if head.get("type") != "GCNHead":
        raise PysklConfigError(f"model.cls_head.type = {head.get('type')!r}: expected 'GCNHead'")
    _check_keys(head, "model.cls_head", set(), _HEAD_IGNORED, {})
    kwargs["dropout"] = float(head.get("dropout", 0.0))
    test: dict[str, Any] = {}
    sample = _pipeline_step(cfg, "UniformSampleFrames") or _pipeline_step(cfg, "UniformSample")
    if sample is not None:
        kwargs["clip_len"] = int(sample.get("clip_len", 100))
        test["num_clips"] = int(sample.get("num_clips", 1))
    feats = _pipeline_step(cfg, "GenSkeFeat")
    test["feats"] = list(feats.get("feats", ["j"])) if feats is not None else ["j"]
    fmt = _pipeline_step(cfg, "FormatGCNInput")
    if fmt is not None:
        test["num_person"] = int(fmt.get("num_person", 2))
    plus = kwargs["gcn_adaptive"] == "init" and kwargs["tcn_type"] == "mstcn"
    family = "stgcn++" if plus else "stgcn"
    return PysklSpec(family, layout, _num_classes(head), kwargs, test)


def _posec3d_layout(in_channels: int, stream: str, skeletons: Any) -> Any:
    from pymg.topology import COCO17, COCO17_PYSKL

    if in_channels != 17:
        raise PysklConfigError(
            f"model.backbone.in_channels = {in_channels}: pymg can only guess COCO-17 (17 "
            "channels); pass layout=... (a pymg layout with that many joints or limbs)"
        )
    if stream == "joint" or skeletons is None:
        return COCO17 if stream == "joint" else COCO17_PYSKL
    limbs = tuple(tuple(limb) for limb in skeletons)
    for layout in (COCO17_PYSKL, COCO17):
        if limbs == layout.limbs:
            return layout
    raise PysklConfigError(
        "GeneratePoseTarget.skeletons matches neither pymg's coco17 nor coco17_pyskl limb order; "
        "pass layout=..."
    )


def _posec3d_spec(model: Mapping[str, Any], cfg: Mapping[str, Any], layout: Any) -> PysklSpec:
    backbone = _section(model, "backbone", "model")
    if backbone.get("type") != "ResNet3dSlowOnly":
        raise PysklConfigError(
            f"model.backbone.type = {backbone.get('type')!r} is not supported; pymg builds "
            "ResNet3dSlowOnly (PoseC3D) and STGCN (ST-GCN, ST-GCN++)"
        )
    stage_blocks = _int_tuple(backbone.get("stage_blocks"), "model.backbone.stage_blocks")
    num_stages = int(backbone.get("num_stages", len(stage_blocks)))
    out = _int_tuple(backbone.get("out_indices", (num_stages - 1,)), "model.backbone.out_indices")
    if num_stages != len(stage_blocks) or out != (num_stages - 1,):
        raise PysklConfigError(
            f"model.backbone: pymg needs num_stages == len(stage_blocks) and out_indices = "
            f"({len(stage_blocks) - 1},), got {num_stages} and {out}"
        )
    dilations = backbone.get("dilations", (1,) * num_stages)
    if any(d != 1 for d in _int_tuple(dilations, "model.backbone.dilations")):
        raise PysklConfigError(f"model.backbone.dilations = {dilations!r}: pymg supports only 1")
    used = {"in_channels", "base_channels", "num_stages", "out_indices", "stage_blocks"}
    used |= {"spatial_strides", "temporal_strides", "inflate", "dilations"}
    _check_keys(backbone, "model.backbone", used, _C3D_IGNORED, _C3D_DEFAULT_ONLY)
    head = _section(model, "cls_head", "model")
    if head.get("type") != "I3DHead":
        raise PysklConfigError(f"model.cls_head.type = {head.get('type')!r}: expected 'I3DHead'")
    _check_keys(head, "model.cls_head", set(), _HEAD_IGNORED, {})
    target = _pipeline_step(cfg, "GeneratePoseTarget") or {}
    with_kp, with_limb = bool(target.get("with_kp", True)), bool(target.get("with_limb", False))
    if with_kp == with_limb:
        raise PysklConfigError(
            "GeneratePoseTarget: pymg builds joint OR limb heatmaps (with_kp xor with_limb)"
        )
    stream = "joint" if with_kp else "limb"
    in_channels = int(backbone.get("in_channels", 3))
    if layout is None:
        layout = _posec3d_layout(in_channels, stream, target.get("skeletons"))
    kwargs: dict[str, Any] = {
        "stream": stream,
        "base_channels": int(backbone.get("base_channels", 64)),
        "stage_blocks": stage_blocks,
        "spatial_strides": _int_tuple(
            backbone.get("spatial_strides", (2,) * num_stages), "spatial_strides"
        ),
        "temporal_strides": _int_tuple(
            backbone.get("temporal_strides", (1,) * num_stages), "temporal_strides"
        ),
        "inflate": _int_tuple(backbone.get("inflate", (0,) * num_stages), "inflate"),
        "dropout": float(head.get("dropout", head.get("dropout_ratio", 0.5))),
        "sigma": float(target.get("sigma", 0.6)),
    }
    test: dict[str, Any] = {"stream": stream, "flip": bool(target.get("double", False))}
    sample = _pipeline_step(cfg, "UniformSampleFrames") or _pipeline_step(cfg, "UniformSample")
    if sample is not None:
        kwargs["clip_len"] = int(sample.get("clip_len", 48))
        test["num_clips"] = int(sample.get("num_clips", 1))
    resize = [s for s in cfg.get("test_pipeline") or [] if isinstance(s, dict)]
    sizes = [s.get("scale") for s in resize if s.get("type") == "Resize"]
    if sizes and isinstance(sizes[-1], (list, tuple)) and sizes[-1][0] == sizes[-1][1] > 0:
        kwargs["size"] = int(sizes[-1][0])
    spec = PysklSpec("posec3d", layout, _num_classes(head), kwargs, test)
    channels = layout.num_joints if stream == "joint" else layout.num_limbs
    if channels != in_channels:
        raise PysklConfigError(
            f"model.backbone.in_channels = {in_channels} but layout {layout.name!r} has "
            f"{channels} {stream}s"
        )
    return spec


def pyskl_model_spec(
    config: str | os.PathLike[str] | Mapping[str, Any], *, layout: Any = None
) -> PysklSpec:
    """Translate a PYSKL / mmaction2 config into a :class:`PysklSpec` (nothing is executed).

    Args:
        config: a config file path (read with :func:`pymg.models.read_pyskl_config`) or its
            already read dict.
        layout: a pymg layout (name or Skeleton) overriding the one guessed from the config
            (PoseC3D configs do not name their layout; pymg guesses COCO-17).

    Raises:
        PysklConfigError: an unsupported family or setting, naming it.
    """
    from pymg.topology import resolve_layout

    cfg = read_pyskl_config(config) if isinstance(config, (str, os.PathLike)) else config
    if "model" not in cfg:
        missing = cfg.get("_missing_bases_")
        hint = f" (it may come from the missing _base_ files {missing})" if missing else ""
        raise PysklConfigError(f"config: no model = dict(...) found{hint}")
    model = _section(cfg, "model", "config")
    chosen = None if layout is None else resolve_layout(layout)
    kind = model.get("type")
    if kind == "RecognizerGCN":
        spec = _gcn_spec(model, cfg)
        if chosen is not None:
            if chosen.num_joints != spec.layout.num_joints:
                raise PysklConfigError(
                    f"layout {chosen.name!r} has {chosen.num_joints} joints but the config's graph "
                    f"has {spec.layout.num_joints}"
                )
            spec.layout = chosen
        return spec
    if kind == "Recognizer3D":
        return _posec3d_spec(model, cfg, chosen)
    raise PysklConfigError(
        f"model.type = {kind!r} is not supported; pymg builds RecognizerGCN (ST-GCN, ST-GCN++) "
        "and Recognizer3D (PoseC3D SlowOnly)"
    )


def from_pyskl(
    config: str | os.PathLike[str] | Mapping[str, Any],
    checkpoint: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    layout: Any = None,
    strict: bool = True,
) -> nn.Module:
    """A pymg model built from a PYSKL / mmaction2 config, with the checkpoint's weights.

    The config is read without being executed (:func:`pymg.models.read_pyskl_config`). The model
    takes PYSKL's input tensors as PYSKL feeds them to its backbone: ``[N, M, T, V, C]`` for
    ST-GCN/ST-GCN++ (``model(x)``), heatmap volumes ``[N, C, T, H, W]`` for PoseC3D; it also
    carries ``model.layout`` and ``model.num_classes``.

    Args:
        config: the config file (or its dict).
        checkpoint: PYSKL or mmaction2 1.x checkpoint (path or state dict), loaded with
            :func:`pymg.models.load_pyskl_checkpoint`; ``None`` leaves the model initialised.
        layout: override the layout (see :func:`pyskl_model_spec`).
        strict: every checkpoint entry must fit the model and every weight be provided.

    Returns:
        the model in eval mode.

    Raises:
        PysklConfigError: a config pymg cannot read or build; ValueError: a checkpoint that does
            not match (naming the key and shapes).
    """
    from pymg.models.checkpoint import load_pyskl_checkpoint

    spec = pyskl_model_spec(config, layout=layout)
    model = spec.build()
    if checkpoint is not None:
        load_pyskl_checkpoint(model, checkpoint, strict=strict)
    return model.eval()
