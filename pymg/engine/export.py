"""Export a trained recognizer as one graph: raw keypoints in, class probabilities out.

>>> export_recognizer("runs/demo/best.pt", "demo.onnx")                   # doctest: +SKIP
>>> export_recognizer(["joint.pt", "limb.pt"], "fused.pt2", format="pt2")  # doctest: +SKIP

The exported program is :class:`pymg.engine.export_graph.RecognizerGraph`: the test transform,
the temporal alignment, the heatmaps (or normalised keypoints), the network, the checkpoint's test
views and the softmax, i.e. what :meth:`pymg.engine.Recognizer.predict` computes for arrays.

* ``format="onnx"``: standard ONNX operators only (alignment and heatmaps through the pure-torch
  formulas), checked with ``onnx.checker``; runs in onnxruntime without pymg.
* ``format="pt2"``: ``torch.export`` with pymg's custom ops (the native kernels); load it with
  ``torch.export.load`` in a process that has imported pymg.

Inputs: ``keypoint`` float32 [N, M, T, V, 2] (pixels), ``keypoint_score`` float32 [N, M, T, V],
``img_shape`` int64 [N, 2] (H, W of the frames); N, M and T are dynamic (>= 1). Output:
``probabilities`` float32 [N, K]. The metadata (class names, layout, inputs, views) is stored in
the file: ONNX ``metadata_props``, pt2 an extra file ``pymg.json``; :func:`read_metadata` reads
both.
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pymg._version import __version__
from pymg.engine.export_graph import RecognizerGraph, StreamGraph
from pymg.engine.inference import Recognizer

__all__ = [
    "EXPORT_FORMATS",
    "METADATA_FILE",
    "build_graph",
    "export_recognizer",
    "graph_metadata",
    "load_program",
    "read_metadata",
]

logger = logging.getLogger("pymg.export")

#: The formats :func:`export_recognizer` writes.
EXPORT_FORMATS = ("onnx", "pt2")
#: Name of the metadata file inside a pt2 archive (``torch.export.save`` extra file).
METADATA_FILE = "pymg.json"
#: The ONNX opset of exported files.
ONNX_OPSET = 20
INPUT_NAMES = ("keypoint", "keypoint_score", "img_shape")
OUTPUT_NAME = "probabilities"


def _open(checkpoints: str | Path | Recognizer | Sequence[Any]) -> list[Recognizer]:
    """One or two recognizers from checkpoint paths (or ready :class:`Recognizer` s)."""
    items = [checkpoints] if isinstance(checkpoints, (str, Path, Recognizer)) else checkpoints
    items = list(items)
    if not 1 <= len(items) <= 2:
        raise ValueError(
            f"checkpoints: expected one checkpoint or two (joint + limb, fused 1:1), got "
            f"{len(items)}"
        )
    return [r if isinstance(r, Recognizer) else Recognizer.from_checkpoint(r) for r in items]


def _check_streams(recognizers: Sequence[Recognizer], ops: str, names: Sequence[str]) -> None:
    """Refuse what the graph cannot hold, naming the checkpoint and the setting."""
    for rec, name in zip(recognizers, names, strict=True):
        model = rec.model
        strategy = getattr(model, "strategy", "")
        if ops == "plain" and strategy == "pyskl":
            raise ValueError(
                f"{name}: model.strategy='pyskl' samples frames from PYSKL's numpy random stream "
                "at test time, which has no form in standard ONNX operators; export it with "
                "format='pt2' (pymg's custom ops), or use a checkpoint trained with 'uniform' or "
                "'crop_pad'"
            )
        if getattr(model, "in_channels", 3) != 3 and rec.cfg.model.arch == "stgcn":
            raise ValueError(
                f"{name}: an ST-GCN with in_channels={model.in_channels} does not take keypoint "
                "batches (x, y, score = 3 channels), so it cannot be exported from keypoints"
            )
        if getattr(model, "heatmap_dtype", None) not in (None, torch.float32):
            raise ValueError(f"{name}: heatmap_dtype {model.heatmap_dtype} is not exportable")
    if len(recognizers) == 2:
        first, second = recognizers
        if first.class_names != second.class_names:
            raise ValueError(
                f"{names[1]}: its class names differ from {names[0]}'s; a fused export needs "
                "two streams of one classifier"
            )
        if first.layout.name != second.layout.name or (
            first.layout.num_joints != second.layout.num_joints
        ):
            raise ValueError(
                f"{names[1]}: layout {second.layout.name!r} (V={second.layout.num_joints}) "
                f"differs from {names[0]}'s {first.layout.name!r} (V={first.layout.num_joints})"
            )


def build_graph(
    recognizers: Sequence[Recognizer], *, ops: str = "plain", single_view: bool = False
) -> RecognizerGraph:
    """The exportable module of one or two recognizers (CPU, eval mode).

    Args:
        recognizers: one or two :class:`Recognizer` s (two: fused 1:1).
        ops: ``"plain"`` (standard operators, for ONNX) or ``"custom"`` (pymg's custom ops).
        single_view: one temporal view without the flip instead of the checkpoints' test views.

    Shape:
        - the module: (keypoint [N, M, T, V, 2], keypoint_score [N, M, T, V], img_shape [N, 2])
          -> probabilities [N, K]
    """
    names = [f"checkpoint {i + 1}" for i in range(len(recognizers))]
    _check_streams(recognizers, ops, names)
    streams = []
    for rec in recognizers:
        rec.model.to("cpu").eval()
        streams.append(
            StreamGraph(
                rec.model,
                num_persons=rec.cfg.data.num_persons,
                size=rec.cfg.data.test_size,
                num_clips=1 if single_view else rec.cfg.test.num_clips,
                flip=False if single_view else rec.cfg.test.flip,
                ops=ops,
            )
        )
    return RecognizerGraph(streams).eval()


def graph_metadata(
    recognizers: Sequence[Recognizer], graph: RecognizerGraph, fmt: str
) -> dict[str, str]:
    """What the exported file records about itself, as string values (ONNX metadata_props).

    Keys: ``pymg_version``, ``format``, ``class_names`` and ``joint_names`` (JSON lists),
    ``layout``, ``num_joints``, ``num_classes``, ``inputs``, ``outputs``, ``fusion`` and
    ``streams`` (JSON: per stream its architecture, stream, clip_len, strategy, views, test
    size, persons).
    """
    first = recognizers[0]
    streams = []
    for rec, stream in zip(recognizers, graph.streams, strict=True):
        model = rec.model
        streams.append(
            {
                "arch": rec.cfg.model.arch,
                "stream": getattr(model, "stream", "joint"),
                "clip_len": int(getattr(model, "clip_len", 0)),
                "strategy": str(getattr(model, "strategy", "")),
                "num_clips": stream.num_clips,
                "flip": stream.flip,
                "test_size": stream.size,
                "num_persons": stream.num_persons,
                "config_name": rec.cfg.name,
            }
        )
    inputs = {
        "keypoint": "float32 [N, M, T, V, 2] pixel coordinates (x, y); missing point: (0, 0)",
        "keypoint_score": "float32 [N, M, T, V] confidences; missing point: 0",
        "img_shape": "int64 [N, 2] (height, width) of the frames the pixels belong to",
    }
    return {
        "pymg_version": __version__,
        "format": fmt,
        "class_names": json.dumps(list(first.class_names)),
        "num_classes": str(len(first.class_names)),
        "layout": first.layout.name,
        "joint_names": json.dumps([str(j) for j in first.layout.joints]),
        "num_joints": str(first.layout.num_joints),
        "inputs": json.dumps(inputs),
        "outputs": json.dumps({OUTPUT_NAME: "float32 [N, K] class probabilities"}),
        "fusion": "mean of the streams' probabilities (1:1)" if len(streams) > 1 else "none",
        "streams": json.dumps(streams),
    }


def _example(graph: RecognizerGraph, num_joints: int) -> tuple[torch.Tensor, ...]:
    """Tracing inputs: 2 clips, 2 persons, 5 frames (every dynamic size > 1)."""
    gen = torch.Generator().manual_seed(0)
    kp = torch.rand(2, 2, 5, num_joints, 2, generator=gen) * 100
    sc = torch.rand(2, 2, 5, num_joints, generator=gen)
    return kp, sc, torch.tensor([[100, 100], [100, 100]], dtype=torch.int64)


def _dynamic_shapes() -> dict[str, dict[int, Any]]:
    from torch.export import Dim

    n, m, t = Dim("N", min=1), Dim("M", min=1), Dim("T", min=1)
    return {
        "keypoint": {0: n, 1: m, 2: t},
        "keypoint_score": {0: n, 1: m, 2: t},
        "img_shape": {0: n},
    }


def _write_onnx(
    graph: RecognizerGraph, example: tuple[torch.Tensor, ...], out: Path, meta: dict[str, str]
) -> None:
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError as exc:
        raise ImportError(
            f"ONNX export needs the onnx and onnxscript packages ({exc}); install them with "
            "`pip install 'pymg-microgesture[export]'`"
        ) from None
    with warnings.catch_warnings():
        # torch's exporter warns about its own internals (pytree LeafSpec, axis renaming)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*axis name.*", category=UserWarning)
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            dynamic_shapes=_dynamic_shapes(),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            opset_version=ONNX_OPSET,
            verbose=False,
        )
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise RuntimeError("torch.onnx.export returned no program")
    model = program.model_proto
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    foreign = sorted({n.domain for n in model.graph.node} - {"", "ai.onnx"})
    if foreign or len(model.functions):
        raise RuntimeError(
            f"the ONNX graph uses non-standard operator domains {foreign} or local functions; "
            "please report this"
        )
    onnx.save(model, str(out))


def _write_pt2(
    graph: RecognizerGraph, example: tuple[torch.Tensor, ...], out: Path, meta: dict[str, str]
) -> None:
    program = torch.export.export(graph, example, dynamic_shapes=_dynamic_shapes(), strict=False)
    torch.export.save(program, str(out), extra_files={METADATA_FILE: json.dumps(meta)})


def export_recognizer(
    checkpoints: str | Path | Recognizer | Sequence[str | Path | Recognizer],
    out: str | Path,
    *,
    format: str = "onnx",
    single_view: bool = False,
) -> Path:
    """Write the whole recognizer of one checkpoint (or a joint + limb pair) as one graph.

    Args:
        checkpoints: a pymg checkpoint path (or a :class:`Recognizer`), or two of them for the
            1:1 fusion of two streams (same layout and class names).
        out: the file to write (``.onnx`` / ``.pt2`` by convention).
        format: ``"onnx"`` or ``"pt2"`` (see the module docstring).
        single_view: export one temporal view without the flip (faster) instead of the
            checkpoints' test views (``test.num_clips``, ``test.flip``).

    Returns:
        The path written.

    Raises:
        ValueError: an unknown format, more than two checkpoints, streams that disagree, or a
            setting the format cannot express (``model.strategy='pyskl'`` in ONNX).
        ImportError: ONNX export without the onnx / onnxscript packages.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}")
    recognizers = _open(checkpoints)
    graph = build_graph(
        recognizers, ops="plain" if format == "onnx" else "custom", single_view=single_view
    )
    meta = graph_metadata(recognizers, graph, format)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = _example(graph, recognizers[0].layout.num_joints)
    logger.info("exporting %d stream(s) to %s (%s)", len(recognizers), path, format)
    with torch.no_grad():
        if format == "onnx":
            _write_onnx(graph, example, path, meta)
        else:
            _write_pt2(graph, example, path, meta)
    return path


def load_program(path: str | Path) -> torch.nn.Module:
    """The pt2 program of :func:`export_recognizer` as a callable module.

    Registers pymg's custom ops first (``import pymg`` alone does not import :mod:`pymg.ops`),
    then ``torch.export.load(path).module()``.

    Shape:
        - the module: (keypoint [N, M, T, V, 2], keypoint_score [N, M, T, V], img_shape [N, 2])
          -> probabilities [N, K]
    """
    import pymg.ops  # noqa: F401  (registers torch.ops.pymg.*)

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no exported file at {p}")
    return torch.export.load(str(p)).module()


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of an exported file (ONNX or pt2), JSON values decoded.

    Returns:
        dict with ``class_names`` (list), ``layout``, ``joint_names`` (list), ``num_joints``,
        ``num_classes`` (ints), ``inputs``, ``outputs`` (dicts), ``streams`` (list), ``fusion``,
        ``format``, ``pymg_version``.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no exported file at {p}")
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as archive:
            found = [n for n in archive.namelist() if n.endswith(f"extra/{METADATA_FILE}")]
            if not found:
                raise ValueError(f"{p}: a zip archive without pymg metadata ({METADATA_FILE})")
            raw = json.loads(archive.read(found[0]).decode("utf-8"))
    else:
        import onnx

        model = onnx.load(str(p), load_external_data=False)
        raw = {entry.key: entry.value for entry in model.metadata_props}
        if "class_names" not in raw:
            raise ValueError(f"{p}: an ONNX file without pymg metadata")
    out: dict[str, Any] = dict(raw)
    for key in ("class_names", "joint_names", "inputs", "outputs", "streams"):
        out[key] = json.loads(raw[key])
    for key in ("num_joints", "num_classes"):
        out[key] = int(raw[key])
    return out
