"""The recognizer as one traceable module: raw keypoints -> class probabilities.

:class:`RecognizerGraph` runs what :meth:`pymg.engine.Recognizer.predict` runs on an array
input, in tensor operations only, so ``torch.export`` and the ONNX exporter capture all of it:

1. missing points: NaN/inf coordinates become (0, 0) with score 0; NaN/inf or negative scores
   count as 0 (:meth:`Recognizer.predict` rejects such clips instead);
2. the ``num_persons`` persons with the highest mean score (stable order), zero persons padded
   (:func:`pymg.data.select_persons`);
3. the test transform (:func:`pymg.data.test_transform`): the padded square box around the
   present points (PoseCompact), resized to ``test_size`` x ``test_size``;
4. per stream, the model's test views: temporal alignment to ``clip_len`` frames at
   ``num_clips`` offsets (+ the horizontal flip), heatmaps (PoseC3D) or normalised keypoints
   (ST-GCN), the network and a softmax averaged over the views;
5. two streams: the mean of their probabilities (the 1:1 fusion).

``ops="custom"`` runs alignment and heatmaps through pymg's custom ops (``torch.ops.pymg.*``, the
native kernels; the ``torch.export`` program), ``ops="plain"`` through the pure-torch formulas of
:mod:`pymg.ops.backend_torch` and :func:`pymg.ops.positions.test_positions` (standard ONNX ops).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pymg.models.batch import mirror_keypoints
from pymg.models.posec3d import PoseC3D
from pymg.models.stgcn import STGCN, _normalise
from pymg.ops import backend_torch, flip_heatmaps
from pymg.ops.positions import test_positions

__all__ = [
    "GRAPH_OPS",
    "RecognizerGraph",
    "StreamGraph",
    "compact_resize",
    "sanitize",
    "select_persons",
]

#: How a graph aligns and draws: ``"custom"`` (pymg's custom ops) or ``"plain"`` (torch ops).
GRAPH_OPS = ("custom", "plain")

# PoseCompact of the test transform: padding 0.25, threshold 10 px, square box, image padding.
_COMPACT_PADDING = 0.25
_COMPACT_THRESHOLD = 10.0


def _length(x: Tensor, dim: int) -> Tensor:
    """int64 0-dim tensor holding ``x.shape[dim]`` (a traced graph keeps it symbolic)."""
    return torch.ones(x.shape[dim], dtype=torch.int64, device=x.device).sum()


def sanitize(kp: Tensor, sc: Tensor) -> tuple[Tensor, Tensor]:
    """NaN/inf coordinates -> missing point (0, 0) with score 0; bad or negative scores -> 0.

    Shape:
        - kp: float32 [N, M, T, V, 2]; sc: float32 [N, M, T, V]; outputs the same
    """
    finite = torch.isfinite(kp).all(dim=-1)
    zero = torch.zeros((), dtype=kp.dtype, device=kp.device)
    kp = torch.where(finite[..., None], kp, zero)
    sc = torch.where(finite & torch.isfinite(sc) & (sc > 0), sc, zero)
    return kp, sc


def select_persons(kp: Tensor, sc: Tensor, num_persons: int) -> tuple[Tensor, Tensor]:
    """:func:`pymg.data.select_persons` in tensor operations, for any M >= 0.

    M > P: the P persons with the highest mean score, best first (ties: stored order); M <= P:
    every person in stored order, then zero persons up to P.

    Shape:
        - kp: [N, M, T, V, 2]; sc: [N, M, T, V]
        - output: ``(kp [N, P, T, V, 2], sc [N, P, T, V])``
    """
    n, m, t, v = sc.shape
    p = num_persons
    kp = torch.cat([kp, kp.new_zeros(n, p, t, v, 2)], dim=1)
    sc = torch.cat([sc, sc.new_zeros(n, p, t, v)], dim=1)
    mean = sc[:, :m].to(torch.float64).mean(dim=(2, 3))  # [N, M], as the dataset ranks them
    index = torch.arange(m, device=sc.device)
    # rank of person i: persons with a higher mean, or the same mean and a lower index
    ahead = (mean[:, None, :] > mean[:, :, None]) | (
        (mean[:, None, :] == mean[:, :, None]) & (index[None, :] < index[:, None])
    )
    by_score = ahead.sum(dim=-1)  # [N, M]
    rank = torch.where(_length(sc, 1) - p > p, by_score, index)  # M + P > 2P: M > P
    rank = torch.cat([rank, rank.new_full((n, p), p)], dim=1)  # padded persons: never chosen
    last = _length(sc, 1) - 1  # a padded (all-zero) person
    take = []
    for r in range(p):  # the person of rank r, or a padded one when fewer than r + 1 exist
        holder = rank == r  # [N, M + P]
        first = holder.to(torch.int32).argmax(dim=1)
        take.append(torch.where(holder.any(dim=1), first, last))
    person = torch.stack(take, dim=1)  # [N, P]
    rows = torch.arange(n, device=sc.device)[:, None]
    return kp[rows, person], sc[rows, person]


def compact_resize(kp: Tensor, sc: Tensor, img_shape: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The test transform (PoseCompact(0.25, 10, square, image padding) -> Resize(size, size)).

    Follows :class:`pymg.data.transforms.PoseCompact` and :class:`~pymg.data.transforms.Resize`
    step for step in float64: a point is present unless both coordinates are 0; the box of the
    present points is padded by a quarter, squared and truncated to integers (skipped when a side
    is under 10 px or nothing is present; then the whole ``img_shape`` is resized); the scale
    factors are rounded to float32. Missing points stay (0, 0).

    Shape:
        - kp: float32 [N, M, T, V, 2] (finite); sc: [N, M, T, V]; img_shape: [N, 2] (H, W)
        - output: ``(kp float32 [N, M, T, V, 2] in [0, size) pixels, sc unchanged)``
    """
    f64 = torch.float64
    present = (kp != 0).any(dim=-1, keepdim=True)  # [N, M, T, V, 1]
    xy = kp.to(f64)
    inf = torch.tensor(float("inf"), dtype=f64, device=kp.device)
    lo = torch.where(present, xy, inf).amin(dim=(1, 2, 3))  # [N, 2]
    hi = torch.where(present, xy, -inf).amax(dim=(1, 2, 3))
    extent = hi - lo
    crop = (extent >= _COMPACT_THRESHOLD).all(dim=-1)  # no present point: -inf, no crop
    centre = (hi + lo) / 2
    half = extent / 2 * (1 + _COMPACT_PADDING)
    half_h = torch.maximum(1.0 * half[:, 0], half[:, 1])
    half_w = torch.maximum(1 / 1.0 * half_h, half[:, 0])
    half = torch.stack([half_w, half_h], dim=-1)
    start = torch.trunc(centre - half)  # int() of the corners
    stop = torch.trunc(centre + half)
    zero = torch.zeros((), dtype=f64, device=kp.device)
    whole = img_shape.to(f64).flip(-1)  # (W, H)
    offset = torch.where(crop[:, None], start, zero)
    frame = torch.where(crop[:, None], stop - start, whole)
    scale = (size / frame).to(torch.float32).to(f64)  # Resize: factors as float32
    shift = scale * -offset
    out = xy * scale[:, None, None, None] + shift[:, None, None, None]
    out = torch.where(present, out, zero)
    return out.to(torch.float32), sc


class StreamGraph(nn.Module):
    """One checkpoint's recognizer: prepared clips -> class probabilities averaged over views.

    Args:
        model: a :class:`~pymg.models.PoseC3D` or :class:`~pymg.models.STGCN` (eval mode).
        num_persons: P of the checkpoint's data config.
        size: the test size S (heatmap side, the resized frame).
        num_clips, flip: the test views.
        ops: ``"custom"`` or ``"plain"`` (:data:`GRAPH_OPS`).

    Shape:
        - kp: float32 [N, M, T, V, 2] (original pixels); sc: [N, M, T, V]; img_shape: [N, 2]
        - output: float32 [N, K]
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        num_persons: int,
        size: int,
        num_clips: int,
        flip: bool,
        ops: str,
    ) -> None:
        super().__init__()
        if ops not in GRAPH_OPS:
            raise ValueError(f"ops must be one of {GRAPH_OPS}, got {ops!r}")
        if not isinstance(model, (PoseC3D, STGCN)):
            raise TypeError(f"model must be a PoseC3D or STGCN, got {type(model).__name__}")
        self.model = model.eval()
        self.num_persons, self.size = int(num_persons), int(size)
        self.num_clips, self.flip, self.ops = int(num_clips), bool(flip), ops

    def forward(self, kp: Tensor, sc: Tensor, img_shape: Tensor) -> Tensor:
        """Class probabilities [N, K] of raw clips (see the class docstring)."""
        kp, sc = sanitize(kp, sc)
        kp, sc = select_persons(kp, sc, self.num_persons)
        kp, sc = compact_resize(kp, sc, img_shape, self.size)
        if isinstance(self.model, PoseC3D):
            x = self._heatmaps(kp, sc, self.model)
        else:
            x = self._keypoints(kp, sc, self.model)
        logits = self.model.forward_input(x).logits
        n = kp.shape[0]
        return logits.float().softmax(-1).view(n, -1, logits.shape[-1]).mean(dim=1)

    def _align(
        self, kp: Tensor, sc: Tensor, clip_len: int, strategy: str, eps: float
    ) -> tuple[Tensor, Tensor]:
        """[N, P, T, V, 2] -> ``num_clips`` aligned clips per sample, [N * K, P, L, V, 2]."""
        n, k = kp.shape[0], self.num_clips
        lengths = _length(kp, 2).expand(n)
        if self.ops == "custom":
            positions = torch.ops.pymg.frame_positions(
                lengths, clip_len, strategy, k, False, kp.device
            )
            return torch.ops.pymg.gather_frames(kp, sc, lengths, positions, "linear", eps, "auto")
        views = test_positions(lengths[0], clip_len, strategy, k).to(torch.float32)
        positions = views.to(kp.device).expand(n, k, clip_len)
        return backend_torch.gather_frames(kp, sc, lengths, positions, "linear", eps)

    def _heatmaps(self, kp: Tensor, sc: Tensor, model: PoseC3D) -> Tensor:
        """PoseC3D's input, as :meth:`PoseC3D.make_heatmaps` draws it."""
        kp, sc = self._align(kp, sc, model.clip_len, model.strategy, model.eps)
        s = self.size
        if model.stream == "joint" and self.ops == "custom":
            heat = torch.ops.pymg.joint_heatmaps(
                kp, sc, s, s, model.sigma, model.eps, torch.float32, "auto"
            )
        elif model.stream == "joint":
            heat = backend_torch.joint_heatmaps(kp, sc, (s, s), model.sigma, model.eps)
        elif self.ops == "custom":
            flat = [j for limb in model.limbs for j in limb]
            heat = torch.ops.pymg.limb_heatmaps(
                kp, sc, flat, s, s, model.sigma, model.eps, torch.float32, "auto"
            )
        else:
            table = torch.tensor(model.limbs, dtype=torch.int64)
            heat = backend_torch.limb_heatmaps(kp, sc, table, (s, s), model.sigma, model.eps)
        if self.flip:
            flipped = flip_heatmaps(heat, model.flip_perm)
            heat = torch.stack([heat, flipped], dim=1).flatten(0, 1)
        return heat

    def _keypoints(self, kp: Tensor, sc: Tensor, model: STGCN) -> Tensor:
        """ST-GCN's input, as :meth:`STGCN.make_input` builds it (frame = S x S)."""
        n = kp.shape[0]
        wh = torch.full((n, 2), float(self.size), dtype=torch.float32, device=kp.device)
        eps = 1e-3  # align_batch's default, which STGCN.make_input uses
        sources = [(kp, sc)]
        if self.flip:  # mirrored in pixel space before the alignment, as make_input does
            batch = {"keypoint": kp, "keypoint_score": sc}
            mirrored = mirror_keypoints(batch, model.layout.joint_flip_perm, wh)
            sources.append((mirrored["keypoint"], mirrored["keypoint_score"]))
        views = []
        for source_kp, source_sc in sources:
            k, s = self._align(source_kp, source_sc, model.clip_len, model.strategy, eps)
            views.append(_normalise(k, s, wh, self.num_clips))
        return torch.stack(views, dim=1).flatten(0, 1)


class RecognizerGraph(nn.Module):
    """One or two :class:`StreamGraph` s fused 1:1: the whole exported recognizer.

    Shape:
        - keypoint: float32 [N, M, T, V, 2]; keypoint_score: float32 [N, M, T, V];
          img_shape: int64 [N, 2] (H, W of the frames the pixels belong to)
        - output: probabilities float32 [N, K] (rows sum to 1)
    """

    def __init__(self, streams: Sequence[StreamGraph]) -> None:
        super().__init__()
        if not 1 <= len(streams) <= 2:
            raise ValueError(f"streams: expected one or two StreamGraphs, got {len(streams)}")
        self.streams = nn.ModuleList(streams)

    def forward(self, keypoint: Tensor, keypoint_score: Tensor, img_shape: Tensor) -> Tensor:
        """Probabilities [N, K]: the mean of the streams' probabilities."""
        probs = [stream(keypoint, keypoint_score, img_shape) for stream in self.streams]
        total = probs[0]
        for p in probs[1:]:
            total = total + p
        return total / len(probs)
