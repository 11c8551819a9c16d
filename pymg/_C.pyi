"""Typed stub of the compiled module ``pymg._C`` (csrc/bindings.cpp), so mypy checks its calls.

Pointers are addresses as Python ints (``Tensor.data_ptr()``); sizes are int64; ``dtype`` is one
of the ``DTYPE_*`` codes and ``mode`` one of the ``GATHER_*`` codes; ``device`` is -1 for the CPU
kernels or a CUDA device index; ``stream`` a CUDA stream handle (0 on the CPU).
"""

from typing import Any

__version__: str
cuda_compiled: bool
DTYPE_FLOAT32: int
DTYPE_FLOAT16: int
DTYPE_BFLOAT16: int
GATHER_LINEAR: int
GATHER_NEAREST: int

def joint_heatmaps(
    keypoints: int,
    scores: int,
    out: int,
    N: int,
    M: int,
    T: int,
    V: int,
    H: int,
    W: int,
    sigma: float,
    window_sigmas: float,
    eps: float,
    dtype: int,
    device: int,
    stream: int,
    num_threads: int,
) -> None: ...
def limb_heatmaps(
    keypoints: int,
    scores: int,
    limbs: int,
    L: int,
    out: int,
    N: int,
    M: int,
    T: int,
    V: int,
    H: int,
    W: int,
    sigma: float,
    window_sigmas: float,
    eps: float,
    dtype: int,
    device: int,
    stream: int,
    num_threads: int,
) -> None: ...
def gather_frames(
    keypoints: int,
    scores: int,
    lengths: int,
    positions: int,
    out_keypoints: int,
    out_scores: int,
    N: int,
    M: int,
    T: int,
    V: int,
    K: int,
    T2: int,
    mode: int,
    eps: float,
    device: int,
    stream: int,
    num_threads: int,
) -> None: ...
def _convert_floats(src: int, dst: int, n: int, dtype: int) -> None: ...
def cuda_device_count() -> int: ...
def openmp_max_threads() -> int: ...
def build_info() -> dict[str, Any]: ...
