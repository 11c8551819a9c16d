"""The constants of :mod:`pymg.ops`, each defined once (this module imports nothing from pymg).

Codes that only the compiled kernels read (output dtype codes ``pymg._C.DTYPE_*``, gather mode codes
``pymg._C.GATHER_*``) are defined in C++ and read from ``pymg._C`` by
:mod:`pymg.ops.backend_native`; the values below are what Python, the torch backend and the kernels'
arguments need, with or without the extension.
"""

from __future__ import annotations

import torch

#: Values of the ``impl`` argument of every op (see :mod:`pymg.ops.backend`).
IMPLS: tuple[str, ...] = ("auto", "native", "reference")

#: Frame-position strategies of :func:`pymg.ops.frame_positions` (and of ``model.strategy`` in the
#: engine config).
STRATEGIES: tuple[str, ...] = ("uniform", "pyskl", "crop_pad")

#: Modes of :func:`pymg.ops.gather_frames`.
GATHER_MODES: tuple[str, ...] = ("linear", "nearest")

#: Output dtypes every heatmap backend (native kernels and torch) can write.
HEATMAP_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float16, torch.bfloat16)

#: Half-width of the heatmap drawing window in units of sigma (PYSKL: +-3 sigma). Passed to the
#: kernels with every launch.
WINDOW_SIGMAS: float = 3.0

#: Smallest accepted heatmap ``sigma`` in pixels. Below it the gaussian is a single-pixel spike;
#: far below (sigma < ~1e-19) 1 / (2 sigma^2) overflows float32 and the backends would disagree
#: (0, NaN or 1), so the ops refuse such values.
MIN_SIGMA: float = 1e-3

#: Most frames a sample may have in :func:`pymg.ops.frame_positions`: positions are float32, and
#: every frame index up to 2**24 is exact in float32 (beyond it the last frames merge). The
#: release readers cap a video at far fewer (``pymg.data.formats.sources.MAX_VIDEO_FRAMES``).
MAX_POSITION_FRAMES: int = 2**24
