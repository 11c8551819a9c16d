"""Batched heatmap and temporal-alignment ops (native CPU/CUDA kernels or a pure-torch backend).

Heatmaps: :func:`joint_heatmaps`, :func:`limb_heatmaps`, :func:`flip_heatmaps`.
Temporal alignment: :func:`frame_positions`, :func:`gather_frames`, :func:`align_frames`.
Every op is a ``torch.library`` custom op (``torch.ops.pymg.*``, :mod:`pymg.ops.custom_ops`): it
compiles under ``torch.compile(fullgraph=True)`` and gives output shapes on meta tensors.
Backend choice: every op takes ``impl="auto" | "native" | "reference"``; :func:`use_impl` sets it
for a block of code; :func:`native_available` tells whether the kernels can run on a device,
:func:`native_compiled` whether they are built in at all (:mod:`pymg.ops.backend`). Constants
(:data:`STRATEGIES`, :data:`GATHER_MODES`, :data:`HEATMAP_DTYPES`, :data:`WINDOW_SIGMAS`,
:data:`MIN_SIGMA`) are defined once, in :mod:`pymg.ops.constants`. See docs/ops.md.
"""

from pymg.ops import custom_ops  # registers torch.ops.pymg.*  # noqa: F401
from pymg.ops.backend import NativeFallbackWarning, native_available, native_compiled, use_impl
from pymg.ops.constants import GATHER_MODES, HEATMAP_DTYPES, MIN_SIGMA, STRATEGIES, WINDOW_SIGMAS
from pymg.ops.heatmap import flip_heatmaps, joint_heatmaps, limb_heatmaps
from pymg.ops.positions import frame_positions
from pymg.ops.temporal import align_frames, gather_frames

__all__ = [
    "GATHER_MODES",
    "HEATMAP_DTYPES",
    "MIN_SIGMA",
    "STRATEGIES",
    "WINDOW_SIGMAS",
    "NativeFallbackWarning",
    "align_frames",
    "flip_heatmaps",
    "frame_positions",
    "gather_frames",
    "joint_heatmaps",
    "limb_heatmaps",
    "native_available",
    "native_compiled",
    "use_impl",
]
