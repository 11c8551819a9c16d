"""The torch backend: pure-torch, vectorised twins of the native kernels (CPU and CUDA tensors).

:class:`TorchBackend` implements the :class:`~pymg.ops.backend.Backend` interface with the same
signatures and results as :mod:`pymg.ops.backend_native` (inputs already validated by the public
ops, a preallocated output). It is the fallback where the extension is missing and the reference
the kernels are tested against (``impl="reference"`` selects it).

Semantics (PYSKL ``GeneratePoseTarget``; see docs/ops.md):

* window per axis ``[max(trunc(c - r), 0), min(trunc(c + r) + 1, size))`` in float64, with the
  radius ``r = WINDOW_SIGMAS * sigma``;
* a point is missing when a coordinate or its score is NaN/inf or when its float32 score is not
  ``>= eps`` (compared in float64);
* joint value ``exp(-dx^2 / 2 sigma^2) * exp(-dy^2 / 2 sigma^2) * s`` (float32), persons
  max-combined;
* limb value ``exp(-d2 / 2 sigma^2) * min(s_a, s_b)``, ``d2`` the squared distance to segment AB; a
  limb with ``|AB|^2 < 1`` is drawn as the joint gaussian of A with score ``s_a``.

Memory: work is chunked over output planes (N*C*T planes of H*W) so that temporaries stay near
``_CHUNK_ELEMENTS`` floats whatever the batch size.

:func:`joint_heatmaps`, :func:`limb_heatmaps` and :func:`gather_frames` are the same formulas as
single expressions with static shapes (no output buffer, no chunks, no data-dependent crops):
what the exported recognizer (:mod:`pymg.engine.export`) traces into standard ONNX operators.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from pymg.ops.constants import WINDOW_SIGMAS

__all__ = ["TORCH", "TorchBackend", "gather_frames", "joint_heatmaps", "limb_heatmaps"]

_CHUNK_ELEMENTS = 1 << 21  # about 8 MB of float32 per temporary


def _inv_two_sigma_sq(sigma: float) -> float:
    """1 / (2 sigma^2) rounded to float32, the factor of every exponent."""
    return float(torch.tensor(1.0 / (2.0 * sigma * sigma), dtype=torch.float32))


def _window_mask(
    lo: torch.Tensor, hi: torch.Tensor, radius: float, size: int, valid: torch.Tensor
) -> torch.Tensor:
    """Boolean [P, size]: pixel i lies in [max(trunc(lo - r), 0), min(trunc(hi + r) + 1, size))."""
    grid = torch.arange(size, dtype=torch.float64, device=lo.device)
    start = torch.trunc(lo.double() - radius).clamp_min(0.0)
    stop = (torch.trunc(hi.double() + radius) + 1.0).clamp_max(float(size))
    inside = (grid >= start[:, None]) & (grid < stop[:, None])
    return inside & valid[:, None]


def _score_ok(score: torch.Tensor, eps: float) -> torch.Tensor:
    """Finite float32 score >= eps compared in float64 (NaN and +-inf fail)."""
    return (score.double() >= eps) & torch.isfinite(score)


def _finite_xy(point: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(point).all(dim=-1)


def _planes(t: torch.Tensor) -> torch.Tensor:
    """[N, M, T, C, ...] -> [M, N*C*T, ...]: one row per output plane, persons first."""
    n, m, tt, c = t.shape[:4]
    return t.permute(1, 0, 3, 2, *range(4, t.dim())).reshape(m, n * c * tt, *t.shape[4:])


def _plane_chunks(planes: torch.Tensor) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Walks output planes [P, H, W] in chunks of about ``_CHUNK_ELEMENTS`` elements.

    Yields ``(p0, p1, acc)``: a float32 work buffer [p1 - p0, H, W] (uninitialised) for planes
    p0..p1-1. A float32 ``planes`` is written in place; other dtypes get a scratch buffer that is
    rounded into ``planes`` once the caller has filled it (when the next chunk is requested).
    """
    p_count, h, w = planes.shape
    step = max(1, _CHUNK_ELEMENTS // max(h * w, 1))
    direct = planes.dtype == torch.float32
    for p0 in range(0, p_count, step):
        p1 = min(p0 + step, p_count)
        acc = planes[p0:p1] if direct else torch.empty((p1 - p0, h, w), device=planes.device)
        yield p0, p1, acc
        if not direct:
            planes[p0:p1].copy_(acc)


def _joint_factors(
    kp: torch.Tensor, sc: torch.Tensor, h: int, w: int, sigma: float, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The separable factors of the joint gaussians of kp [N, M, T, V, 2], sc [N, M, T, V].

    Returns ``(ex [M, P, W], ey [M, P, H])`` with P = N*V*T planes: a plane's heatmap for person
    m is ``ey[m, p, :, None] * ex[m, p, None, :]`` (the score is folded into ``ey``; missing
    points and pixels outside the window are 0).
    """
    inv = _inv_two_sigma_sq(sigma)
    radius = WINDOW_SIGMAS * sigma
    pts = _planes(kp)  # [M, P, 2]
    scores = _planes(sc)  # [M, P]
    x, y = pts[..., 0], pts[..., 1]
    valid = _finite_xy(pts) & _score_ok(scores, eps)
    m_count, p_count = valid.shape
    gx = torch.arange(w, dtype=torch.float32, device=kp.device)
    gy = torch.arange(h, dtype=torch.float32, device=kp.device)
    flat = valid.reshape(-1)
    mask_x = _window_mask(x.reshape(-1), x.reshape(-1), radius, w, flat).view(m_count, p_count, w)
    mask_y = _window_mask(y.reshape(-1), y.reshape(-1), radius, h, flat).view(m_count, p_count, h)
    zero = torch.zeros((), dtype=torch.float32, device=kp.device)
    ex = torch.where(mask_x, torch.exp(-((gx - x[..., None]) ** 2) * inv), zero)
    ey = torch.where(mask_y, torch.exp(-((gy - y[..., None]) ** 2) * inv), zero)
    ey = ey * torch.where(valid, scores, zero)[..., None]
    return ex, ey


def _joint_heatmaps_into(
    kp: torch.Tensor, sc: torch.Tensor, out: torch.Tensor, sigma: float, eps: float
) -> None:
    """Fill ``out`` [N, V, T, H, W] with joint heatmaps of kp [N, M, T, V, 2], sc [N, M, T, V]."""
    h, w = out.shape[-2:]
    ex, ey = _joint_factors(kp, sc, h, w, sigma, eps)
    m_count, p_count = ex.shape[:2]
    for p0, p1, acc in _plane_chunks(out.view(p_count, h, w)):
        if m_count == 0:  # no person: nothing is drawn
            acc.zero_()
            continue
        torch.mul(ey[0, p0:p1, :, None], ex[0, p0:p1, None, :], out=acc)
        for m in range(1, m_count):
            torch.maximum(acc, ey[m, p0:p1, :, None] * ex[m, p0:p1, None, :], out=acc)


def joint_heatmaps(
    kp: torch.Tensor, sc: torch.Tensor, size: tuple[int, int], sigma: float, eps: float
) -> torch.Tensor:
    """Joint heatmaps as one expression (no output buffer, no chunking), for graph export.

    The same values as :meth:`TorchBackend.joint_heatmaps_into`; memory grows with the whole
    output (no chunks). M must be known when the graph is built (the loop over persons unrolls).

    Shape:
        - kp: float32 [N, M, T, V, 2]; sc: float32 [N, M, T, V] (M >= 1)
        - output: float32 [N, V, T, H, W]
    """
    n, m_count, t, v = sc.shape
    h, w = size
    ex, ey = _joint_factors(kp, sc, h, w, sigma, eps)
    heat = ey[0, :, :, None] * ex[0, :, None, :]
    for m in range(1, m_count):
        heat = torch.maximum(heat, ey[m, :, :, None] * ex[m, :, None, :])
    return heat.reshape(n, v, t, h, w)


def _window_bounds(
    lo: torch.Tensor, hi: torch.Tensor, radius: float, size: int, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """int64 [P] bounds [max(trunc(lo - r), 0), min(trunc(hi + r) + 1, size)) (float64 math);
    empty (0, 0) where not ``valid`` (so NaN coordinates are never cast to integers)."""
    start = torch.trunc(lo.double() - radius).clamp(0.0, float(size))
    stop = (torch.trunc(hi.double() + radius) + 1.0).clamp(0.0, float(size))
    zero = torch.zeros((), dtype=torch.float64, device=lo.device)
    return torch.where(valid, start, zero).long(), torch.where(valid, stop, zero).long()


def _limb_geometry(
    a: torch.Tensor,
    b: torch.Tensor,
    sa: torch.Tensor,
    sb: torch.Tensor,
    size: tuple[int, int],
    sigma: float,
    eps: float,
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...], torch.Tensor]:
    """What every limb plane needs: endpoints [P, 2], scores [P] -> ``(ends, bounds, valid)``.

    ``ends`` = (ax, ay, bx, by, |AB|^2, degenerate, value) as :func:`_limb_values` reads them,
    ``bounds`` = int64 window (x0, x1, y0, y1), empty where the limb is not ``valid`` [P].
    """
    h, w = size
    radius = WINDOW_SIGMAS * sigma
    strength = torch.minimum(sa, sb)
    valid = _finite_xy(a) & _finite_xy(b) & _score_ok(sa, eps) & _score_ok(sb, eps)
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    d2ab = (ax - bx) ** 2 + (ay - by) ** 2
    degenerate = d2ab < 1.0
    x0, x1 = _window_bounds(
        torch.where(degenerate, ax, torch.minimum(ax, bx)),
        torch.where(degenerate, ax, torch.maximum(ax, bx)),
        radius,
        w,
        valid,
    )
    y0, y1 = _window_bounds(
        torch.where(degenerate, ay, torch.minimum(ay, by)),
        torch.where(degenerate, ay, torch.maximum(ay, by)),
        radius,
        h,
        valid,
    )
    ends = (ax, ay, bx, by, d2ab, degenerate, torch.where(degenerate, sa, strength))
    return ends, (x0, x1, y0, y1), valid


def _draw_limbs(
    acc: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    sa: torch.Tensor,
    sb: torch.Tensor,
    sigma: float,
    eps: float,
) -> None:
    """Max-combine one person's limbs into ``acc`` [P, H, W] (float32, in place).

    a, b: endpoints [P, 2]; sa, sb: scores [P]. Only the planes with a non-empty window are
    evaluated, in groups of similar window size, each on a crop as large as its group's largest
    window, then scattered into ``acc`` with ``amax``.
    """
    h, w = acc.shape[1:]
    ends, bounds, valid = _limb_geometry(a, b, sa, sb, (h, w), sigma, eps)
    x0, x1, y0, y1 = bounds
    lit = valid & (x0 < x1) & (y0 < y1)
    # Group the lit planes by window size (powers of two) so one long limb does not make every
    # crop of the chunk image-sized.
    side = torch.maximum(x1 - x0, y1 - y0).clamp_min(1)
    group = torch.ceil(torch.log2(side.double())).long()
    for g in torch.unique(group[lit]).tolist():
        rows = torch.nonzero(lit & (group == g)).flatten()
        _draw_crops(acc, rows, ends, bounds, sigma)


def _dense_limbs(
    a: torch.Tensor,
    b: torch.Tensor,
    sa: torch.Tensor,
    sb: torch.Tensor,
    size: tuple[int, int],
    sigma: float,
    eps: float,
) -> torch.Tensor:
    """One person's limb planes [P, H, W] evaluated on the whole grid (no data-dependent shapes).

    a, b: endpoints [P, 2]; sa, sb: scores [P]; the values of :func:`_draw_limbs`.
    """
    h, w = size
    ends, bounds, _ = _limb_geometry(a, b, sa, sb, size, sigma, eps)
    x0, x1, y0, y1 = (t[:, None, None] for t in bounds)
    xi = torch.arange(w, device=a.device)[None, None, :]
    yi = torch.arange(h, device=a.device)[None, :, None]
    px, py = xi.to(torch.float32), yi.to(torch.float32)
    heat, d2 = _limb_values(px, py, tuple(t[:, None, None] for t in ends), sigma)
    inside = (xi >= x0) & (xi < x1) & (yi >= y0) & (yi < y1) & ~torch.isnan(d2)
    return torch.where(inside, heat, torch.zeros((), dtype=heat.dtype, device=heat.device))


def _limb_values(
    px: torch.Tensor, py: torch.Tensor, ends: tuple[torch.Tensor, ...], sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Limb gaussians at pixel coordinates ``px`` [R, 1, X], ``py`` [R, Y, 1] (float32).

    ``ends`` = (ax, ay, bx, by, |AB|^2, degenerate, value), each [R, 1, 1]. Returns ``(heat
    [R, Y, X], d2 [R, Y, X])``: ``exp(-d2 / 2 sigma^2) * value`` with d2 the squared distance to
    segment AB (to A for a degenerate limb).
    """
    ax, ay, bx, by, ab, deg, value = ends
    d2_start = (px - ax) ** 2 + (py - ay) ** 2
    d2_end = (px - bx) ** 2 + (py - by) ** 2
    u = (d2_start - d2_end + ab) / 2.0 / ab
    d2_line = (px - (ax + u * (bx - ax))) ** 2 + (py - (ay + u * (by - ay))) ** 2
    d2 = torch.where(u <= 0, d2_start, torch.where(u >= 1, d2_end, d2_line))
    d2 = torch.where(deg, d2_start, d2)
    return torch.exp(-d2 * _inv_two_sigma_sq(sigma)) * value, d2


def _draw_crops(
    acc: torch.Tensor,
    rows: torch.Tensor,
    ends: tuple[torch.Tensor, ...],
    bounds: tuple[torch.Tensor, ...],
    sigma: float,
) -> None:
    """Evaluate limbs ``rows`` on crops of their largest window and scatter them with amax."""
    _, h, w = acc.shape
    x0, x1, y0, y1 = (t[rows] for t in bounds)
    crop_w, crop_h = int((x1 - x0).max()), int((y1 - y0).max())
    xi = x0[:, None] + torch.arange(crop_w, device=acc.device)  # [R, crop_w] pixel columns
    yi = y0[:, None] + torch.arange(crop_h, device=acc.device)  # [R, crop_h] pixel rows
    px, py = xi.to(torch.float32)[:, None, :], yi.to(torch.float32)[:, :, None]
    heat, d2 = _limb_values(px, py, tuple(t[rows, None, None] for t in ends), sigma)
    # NaN distances only come from float32 overflow (|coordinates| > ~1e19): drawn as 0
    inside = (yi < y1[:, None])[:, :, None] & (xi < x1[:, None])[:, None, :] & ~torch.isnan(d2)
    heat = torch.where(inside, heat, torch.zeros((), dtype=heat.dtype, device=heat.device))
    # crop pixels outside the window hold 0 and land on a clamped in-plane pixel: amax keeps it
    row_base = rows[:, None, None] * h + yi.clamp_max(h - 1)[:, :, None]
    index = row_base * w + xi.clamp_max(w - 1)[:, None, :]
    acc.view(-1).scatter_reduce_(0, index.reshape(-1), heat.reshape(-1), reduce="amax")


def _limb_heatmaps_into(
    kp: torch.Tensor,
    sc: torch.Tensor,
    limbs: torch.Tensor,
    out: torch.Tensor,
    sigma: float,
    eps: float,
) -> None:
    """Fill ``out`` [N, L, T, H, W] with limb heatmaps; ``limbs`` int32 [L, 2] (any device)."""
    h, w = out.shape[-2:]
    index = limbs.to(device=kp.device, dtype=torch.int64)
    a = _planes(kp[:, :, :, index[:, 0]])  # [M, P, 2]
    b = _planes(kp[:, :, :, index[:, 1]])
    sa = _planes(sc[:, :, :, index[:, 0]])  # [M, P]
    sb = _planes(sc[:, :, :, index[:, 1]])
    m_count, p_count = sa.shape
    for p0, p1, acc in _plane_chunks(out.view(p_count, h, w)):
        acc.zero_()
        for m in range(m_count):
            _draw_limbs(acc, a[m, p0:p1], b[m, p0:p1], sa[m, p0:p1], sb[m, p0:p1], sigma, eps)


def limb_heatmaps(
    kp: torch.Tensor,
    sc: torch.Tensor,
    limbs: torch.Tensor,
    size: tuple[int, int],
    sigma: float,
    eps: float,
) -> torch.Tensor:
    """Limb heatmaps as one expression on the whole pixel grid, for graph export.

    The same values as :meth:`TorchBackend.limb_heatmaps_into`, without its data-dependent crops
    (every plane is evaluated on all H*W pixels: more arithmetic, static shapes). M must be known
    when the graph is built.

    Shape:
        - kp: float32 [N, M, T, V, 2]; sc: float32 [N, M, T, V] (M >= 1); limbs: int [L, 2]
        - output: float32 [N, L, T, H, W]
    """
    n, m_count, t = sc.shape[:3]
    index = limbs.to(device=kp.device, dtype=torch.int64)
    a = _planes(kp[:, :, :, index[:, 0]])  # [M, P, 2]
    b = _planes(kp[:, :, :, index[:, 1]])
    sa = _planes(sc[:, :, :, index[:, 0]])  # [M, P]
    sb = _planes(sc[:, :, :, index[:, 1]])
    heat = _dense_limbs(a[0], b[0], sa[0], sb[0], size, sigma, eps)
    for m in range(1, m_count):
        heat = torch.maximum(heat, _dense_limbs(a[m], b[m], sa[m], sb[m], size, sigma, eps))
    return heat.reshape(n, index.shape[0], t, *size)


def gather_frames(
    kp: torch.Tensor,
    sc: torch.Tensor,
    lengths: torch.Tensor,
    positions: torch.Tensor,
    mode: str,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample kp [N, M, T, V, 2], sc [N, M, T, V] at positions f32 [N, K, T'] (lengths int64 [N]).

    Returns ``(kp [N*K, M, T', V, 2], sc [N*K, M, T', V])`` (sample n's clips at rows
    n*K..n*K+K-1), one expression without output buffers (the graph export traces it). A
    position p < 0, p >= length or NaN gives zeros. ``mode="nearest"`` takes frame
    floor(p + 0.5) clamped to length - 1. ``mode="linear"`` blends frames i0 = floor(p)
    and i1 = min(i0 + 1, length - 1) as (1 - w) * a + w * b with w = p - i0, unless one of the two
    points is missing (non-finite coordinate or score < eps): then it copies the nearer frame's
    point (w >= 0.5 -> the later frame), so a real point is never blended with a missing one.
    """
    n_count, m_count, _, v_count, _ = kp.shape
    k_count, j_count = positions.shape[1:]
    length = lengths.to(kp.device)[:, None, None]
    p = positions
    inside = (p >= 0) & (p.double() < length.double())
    zero_p = torch.zeros((), dtype=p.dtype, device=p.device)
    if mode == "nearest":
        first = torch.where(inside, torch.floor(p + 0.5), zero_p).long()
        first = torch.minimum(first, length - 1)
        second = first
        weight = torch.zeros_like(p)
    else:
        floor = torch.where(inside, torch.floor(p), zero_p)
        first = floor.long()
        second = torch.where(first + 1 < length, first + 1, first)
        weight = torch.where(second == first, zero_p, torch.where(inside, p, zero_p) - floor)
    rows = torch.arange(n_count, device=kp.device)[:, None, None].expand_as(first)
    # Advanced indices around a slice put the index dims first: [N, K, T', M, V, ...].
    ka, kb = kp[rows, :, first], kp[rows, :, second]
    sa, sb = sc[rows, :, first], sc[rows, :, second]
    a_ok = _finite_xy(ka) & _score_ok(sa, eps)
    b_ok = _finite_xy(kb) & _score_ok(sb, eps)
    w = weight[:, :, :, None, None]
    both = a_ok & b_ok
    take_a = (w == 0) | (~both & (w < 0.5))
    take_b = ~take_a & ~both
    blend_sc = (1.0 - w) * sa + w * sb
    blend_kp = (1.0 - w[..., None]) * ka + w[..., None] * kb
    new_sc = torch.where(take_a, sa, torch.where(take_b, sb, blend_sc))
    new_kp = torch.where(take_a[..., None], ka, torch.where(take_b[..., None], kb, blend_kp))
    keep = inside[:, :, :, None, None]
    new_sc = torch.where(keep, new_sc, torch.zeros((), dtype=sc.dtype, device=sc.device))
    new_kp = torch.where(keep[..., None], new_kp, torch.zeros((), dtype=kp.dtype, device=kp.device))
    shape = (n_count * k_count, m_count, j_count, v_count)
    return (
        new_kp.permute(0, 1, 3, 2, 4, 5).reshape(*shape, 2),
        new_sc.permute(0, 1, 3, 2, 4).reshape(shape),
    )


class TorchBackend:
    """The pure-torch backend; see :class:`pymg.ops.backend.Backend` for the methods."""

    name = "reference"

    def joint_heatmaps_into(
        self, kp: torch.Tensor, sc: torch.Tensor, out: torch.Tensor, sigma: float, eps: float
    ) -> None:
        """Fill ``out`` [N, V, T, H, W] with joint heatmaps of kp [N, M, T, V, 2]."""
        _joint_heatmaps_into(kp, sc, out, sigma, eps)

    def limb_heatmaps_into(
        self,
        kp: torch.Tensor,
        sc: torch.Tensor,
        limbs: torch.Tensor,
        out: torch.Tensor,
        sigma: float,
        eps: float,
    ) -> None:
        """Fill ``out`` [N, L, T, H, W] with limb heatmaps; ``limbs`` int32 [L, 2] (any device)."""
        _limb_heatmaps_into(kp, sc, limbs, out, sigma, eps)

    def gather_frames_into(
        self,
        kp: torch.Tensor,
        sc: torch.Tensor,
        lengths: torch.Tensor,
        positions: torch.Tensor,
        out_kp: torch.Tensor,
        out_sc: torch.Tensor,
        mode: str,
        eps: float,
    ) -> None:
        """Fill out_kp [N*K, M, T', V, 2], out_sc [N*K, M, T', V]; see :func:`gather_frames`."""
        new_kp, new_sc = gather_frames(kp, sc, lengths, positions, mode, eps)
        out_kp.copy_(new_kp)
        out_sc.copy_(new_sc)


#: The torch backend instance that :func:`pymg.ops.backend.get_backend` returns.
TORCH = TorchBackend()
