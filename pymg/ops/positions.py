"""Source-frame positions for temporal alignment: which (fractional) frames make each clip.

Three strategies, each returning positions [N, K, L] that :func:`pymg.ops.gather_frames` reads
(positions < 0 or >= length give zero frames):

* ``"uniform"`` (the paper's structure-preserving alignment): ``p_k = k (T - 1) / (L - 1)``. When
  T >= L the positions are rounded to the nearest frame (half up), so first and last frames are kept
  and no frame repeats; when T < L they stay fractional and gather interpolates linearly; T == L is
  the identity. T == 1 gives all 0; L == 1 gives the middle frame (T - 1) // 2 (a random frame when
  training). Clip i of K (test time) shifts the interior positions by i / K of a step
  ``(T - 1) / (L - 1)``; training jitters each interior position uniformly within +-half a step.
  Endpoints are fixed in every case.
* ``"pyskl"``: PYSKL's ``UniformSampleFrames``. T < L: a random start, frames taken modulo T (the
  clip loops); L <= T < 2L: L frames whose offsets from 0..L-1 grow by a random subset of T - L
  of the L + 1 gaps; T >= 2L: one random frame in each of L bins with edges i * T // L. Test mode
  (``training=False``) replays PYSKL exactly: a ``numpy.random.RandomState(255)`` per sample
  (independent of the global RNG) and, for T < L, clip i of K starting at i * T // K (i when T < K).
* ``"crop_pad"``: ST-GCN's. T > L: L consecutive frames from a random start (training) or the centre
  (test; clip i of K > 1 starts at round(i (T - L) / (K - 1))); T <= L: frames 0..L-1, where
  positions >= T are zero padding.
"""

from __future__ import annotations

import numpy as np
import torch

from pymg.checks import check_int
from pymg.ops import _checks
from pymg.ops.constants import MAX_POSITION_FRAMES, STRATEGIES

PYSKL_TEST_SEED = 255


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator))


def _uniform(
    length: int,
    clip_len: int,
    clip: int,
    num_clips: int,
    training: bool,
    gen: torch.Generator | None,
) -> torch.Tensor:
    if length == 1:
        return torch.zeros(clip_len, dtype=torch.float64)
    if clip_len == 1:
        frame = _randint(length, gen) if training else (length - 1) // 2
        return torch.full((1,), float(frame), dtype=torch.float64)
    steps = torch.arange(clip_len, dtype=torch.float64)
    if training:
        jitter = torch.rand(clip_len - 2, generator=gen, dtype=torch.float64) - 0.5
        steps[1:-1] += jitter
    elif clip > 0:
        steps[1:-1] += clip / num_clips
    pos = steps * (length - 1) / (clip_len - 1)
    pos[0], pos[-1] = 0.0, float(length - 1)
    pos = pos.clamp(0.0, float(length - 1))
    if length >= clip_len:
        pos = torch.floor(pos + 0.5)
    return pos


class _Draw:
    """Random draws of the pyskl strategy: PYSKL's numpy stream (test) or a torch generator."""

    def __init__(self, test: bool, generator: torch.Generator | None) -> None:
        self.test = test
        self.rng = np.random.RandomState(PYSKL_TEST_SEED) if test else None
        self.generator = generator

    def start_clip(self) -> None:
        # PYSKL draws the p_interval ratio (rand) and offset (randint(1), no draw) for every clip.
        if self.rng is not None:
            self.rng.random_sample()

    def randint(self, high: int) -> int:
        return _randint(high, self.generator)

    def choice(self, population: int, count: int) -> np.ndarray:
        if self.rng is not None:
            return self.rng.choice(population, count, replace=False)
        return torch.randperm(population, generator=self.generator)[:count].numpy()

    def per_bin(self, sizes: np.ndarray) -> np.ndarray:
        if self.rng is not None:
            return self.rng.randint(sizes)
        u = torch.rand(len(sizes), generator=self.generator, dtype=torch.float64).numpy()
        return np.minimum(np.floor(u * sizes).astype(np.int64), sizes - 1)


def _pyskl_indices(
    length: int, clip_len: int, clip: int, num_clips: int, draw: _Draw
) -> np.ndarray:
    """One clip of PYSKL's UniformSampleFrames indices (before the final modulo)."""
    if length < clip_len:
        if draw.test:
            start = clip if length < num_clips else clip * length // num_clips
        else:
            start = draw.randint(length)
        return np.arange(start, start + clip_len)
    if length < 2 * clip_len:
        chosen = draw.choice(clip_len + 1, length - clip_len)
        offset = np.zeros(clip_len + 1, dtype=np.int64)
        offset[chosen] = 1
        return np.arange(clip_len) + np.cumsum(offset)[:-1]
    edges = np.array([i * length // clip_len for i in range(clip_len + 1)])
    return edges[:-1] + draw.per_bin(np.diff(edges))


def _pyskl(
    length: int, clip_len: int, num_clips: int, training: bool, gen: torch.Generator | None
) -> torch.Tensor:
    """[K, L] positions of one sample; test mode replays PYSKL's RandomState(255) stream."""
    draw = _Draw(test=not training, generator=gen)
    clips = []
    for k in range(num_clips):
        draw.start_clip()
        clips.append(np.mod(_pyskl_indices(length, clip_len, k, num_clips, draw), length))
    return torch.from_numpy(np.stack(clips).astype(np.float64))


def _crop_pad(
    length: int,
    clip_len: int,
    clip: int,
    num_clips: int,
    training: bool,
    gen: torch.Generator | None,
) -> torch.Tensor:
    start = 0
    if length > clip_len:
        room = length - clip_len
        if training:
            start = _randint(room + 1, gen)
        elif num_clips == 1:
            start = room // 2
        else:
            start = (2 * clip * room + num_clips - 1) // (2 * (num_clips - 1))
    return torch.arange(start, start + clip_len, dtype=torch.float64)


def frame_positions(
    lengths: torch.Tensor,
    clip_len: int,
    *,
    strategy: str = "uniform",
    num_clips: int = 1,
    training: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fractional source-frame positions of ``num_clips`` clips of ``clip_len`` frames per sample.

    Without a ``generator`` this runs as the custom op ``torch.ops.pymg.frame_positions`` (see
    :mod:`pymg.ops.custom_ops`), so ``torch.compile`` traces it without a graph break; with a
    ``generator`` it runs eagerly (a ``torch.Generator`` cannot enter a compiled graph).

    Args:
        lengths: integer tensor [N], the true number of frames of each sample (>= 1). N = 0 gives
            an empty [0, K, L] result.
        clip_len: L, frames per output clip (>= 1).
        strategy: "uniform" (the paper's), "pyskl" (UniformSampleFrames) or "crop_pad" (ST-GCN);
            see the module docstring.
        num_clips: K clips per sample (test-time multi-clip; >= 1).
        training: random sampling (True) or the deterministic test-time rule (False).
        generator: CPU ``torch.Generator`` for the random draws (None: torch's global RNG).
            Test mode never draws from it.

    Returns:
        float32 [N, K, L] on ``lengths.device``; positions < 0 or >= length mean "padding, zeros".
    """
    _checks.check_lengths(lengths, None, None, values=False)
    clip_len, num_clips = check_position_args(clip_len, strategy, num_clips, training, generator)
    if generator is None:
        return torch.ops.pymg.frame_positions(
            lengths, clip_len, strategy, num_clips, training, lengths.device
        )
    positions = frame_positions_eager(
        lengths.detach().cpu(),
        clip_len,
        strategy=strategy,
        num_clips=num_clips,
        training=training,
        generator=generator,
    )
    return positions.to(lengths.device)


def check_position_args(
    clip_len: int,
    strategy: str,
    num_clips: int,
    training: bool,
    generator: torch.Generator | None,
) -> tuple[int, int]:
    """Checks the arguments of :func:`frame_positions` other than ``lengths``.

    Returns:
        (clip_len, num_clips) as ints.
    """
    clip_len = check_int(clip_len, "clip_len", minimum=1)
    num_clips = check_int(num_clips, "num_clips", minimum=1)
    _checks.check_choice(strategy, "strategy", STRATEGIES)
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool, got {type(training).__name__}")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU generator, got one on {generator.device}")
    return clip_len, num_clips


def frame_positions_eager(
    lengths: torch.Tensor,
    clip_len: int,
    *,
    strategy: str,
    num_clips: int,
    training: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """:func:`frame_positions` of CPU ``lengths`` [N] (values checked here), float32 CPU [N, K, L].

    The arguments other than the lengths' values must already be checked.

    Raises:
        ValueError: a length over :data:`~pymg.ops.constants.MAX_POSITION_FRAMES` (2**24).
    """
    _checks.check_lengths(lengths, None, None)
    longest = int(lengths.max()) if lengths.numel() else 0
    if longest > MAX_POSITION_FRAMES:
        raise ValueError(
            f"lengths: a sample of {longest} frames is over the {MAX_POSITION_FRAMES} (2**24) "
            "whose positions float32 holds exactly; cut the recording into windows"
        )
    out = torch.empty((lengths.shape[0], num_clips, clip_len), dtype=torch.float64)
    for n, length in enumerate(lengths.tolist()):
        if strategy == "pyskl":
            out[n] = _pyskl(length, clip_len, num_clips, training, generator)
            continue
        for k in range(num_clips):
            if strategy == "uniform":
                out[n, k] = _uniform(length, clip_len, k, num_clips, training, generator)
            else:
                out[n, k] = _crop_pad(length, clip_len, k, num_clips, training, generator)
    return out.to(torch.float32)
