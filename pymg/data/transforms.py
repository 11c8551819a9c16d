"""Keypoint-space spatial augmentation folded into one affine map per clip.

Each transform is a small class whose :meth:`PoseTransform.update` composes a 2x3 affine
(and, for :class:`Flip`, a joint permutation) onto a :class:`PoseState`; nothing touches the
coordinates until :meth:`PoseState.apply` maps every present point once at the end.
So ``Compose([a, b, c])`` costs one ``[M, T, V, 2]`` affine however many steps it has, and gives
the same numbers as applying ``a``, ``b`` and ``c`` one after another (float64 maths, float32
output).

Coordinates follow PYSKL: x = column, y = row, pixel i at coordinate i; after the pipeline they
are in output pixels (``[0, W)`` x ``[0, H)``) and ``img_shape`` = (H, W) of the output.

Missing points: a point is *missing* when both coordinates are 0 (OpenPose's convention) or one
is NaN/inf; missing points stay exactly (0, 0) (NaN/inf become 0 with score 0). PYSKL tests
``x != 0`` and ``y != 0`` separately and its crop moves missing points off (0, 0); pymg's rule
keeps them at 0 through every step. Bounding boxes (:class:`PoseCompact`) use present points.

Randomness only comes from the ``rng`` passed to ``__call__`` (a ``numpy.random.Generator``,
a ``torch.Generator`` or an int seed), else from the ``generator`` given to the constructor, else
from a fresh OS-seeded generator. :class:`pymg.data.PoseDataset` passes one derived from
``(seed, epoch, index)``, so a seed reproduces a sample in any DataLoader worker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pymg.checks import check_int

if TYPE_CHECKING:
    from pymg.topology import Skeleton

__all__ = [
    "Compose",
    "Flip",
    "PoseCompact",
    "PoseState",
    "PoseTransform",
    "RandomResizedCrop",
    "Resize",
    "as_numpy_rng",
    "test_transform",
    "train_transform",
]

RngLike = np.random.Generator | torch.Generator | int | None


def as_numpy_rng(rng: RngLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a numpy/torch generator or an int seed.

    A ``torch.Generator`` is advanced by one draw (its seed for numpy); None gives an OS-seeded
    generator.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=rng).item())
        return np.random.default_rng(seed)
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy Generator, a torch.Generator, an int seed or None, got "
        f"{type(rng).__name__}"
    )


def _stream(generator: RngLike) -> RngLike:
    """A constructor's ``generator``: an int seed becomes one numpy stream used by every call."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    if generator is not None and not isinstance(generator, (np.random.Generator, torch.Generator)):
        raise TypeError(
            f"generator must be a numpy Generator, a torch.Generator, an int seed or None, got "
            f"{type(generator).__name__}"
        )
    return generator


def _present(keypoint: np.ndarray) -> np.ndarray:
    finite = np.isfinite(keypoint).all(-1)
    zero = (keypoint[..., 0] == 0) & (keypoint[..., 1] == 0)
    return np.asarray(finite & ~zero)


class PoseState:
    """The pending spatial transform of one clip.

    Args:
        keypoint: float [M, T, V, 2] source coordinates (not modified).
        img_shape: (H, W) of the source coordinate frame.

    Attributes:
        matrix: float64 [2, 3] affine from source to current coordinates.
        perm: int64 [V]; output joint v is source joint ``perm[v]``.
        img_shape: (H, W) of the current coordinate frame.
        flipped: whether a horizontal flip was applied.
    """

    def __init__(self, keypoint: np.ndarray, img_shape: tuple[int, int]) -> None:
        if keypoint.ndim != 4 or keypoint.shape[-1] != 2:
            raise ValueError(f"keypoint must have shape [M, T, V, 2], got {list(keypoint.shape)}")
        self.keypoint = keypoint
        self.present = _present(keypoint)
        self.matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        self.perm = np.arange(keypoint.shape[2])
        self.img_shape = (int(img_shape[0]), int(img_shape[1]))
        self.flipped = False
        self._extent: tuple[float, float, float, float] | None = None
        self._points = np.zeros((0, 2))

    def then(self, step: np.ndarray) -> None:
        """Compose the 2x3 affine ``step`` after the current map (current -> new coordinates)."""
        a = np.asarray(step, np.float64)
        self.matrix = np.concatenate(
            [a[:, :2] @ self.matrix[:, :2], a[:, :2] @ self.matrix[:, 2:] + a[:, 2:]], axis=1
        )

    def _axis_aligned(self) -> bool:
        return bool(self.matrix[0, 1] == 0 and self.matrix[1, 0] == 0)

    def box(self) -> tuple[float, float, float, float] | None:
        """(min_x, min_y, max_x, max_y) of present points in current coordinates (None if none)."""
        if self._extent is None:
            if not self.present.any():
                return None
            pts = self.keypoint[self.present].astype(np.float64)  # [P, 2]
            xs, ys = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
            self._extent = (xs.min(), ys.min(), xs.max(), ys.max())
            self._points = pts
        if self._axis_aligned():  # scale/flip/shift: map the raw extent's corners
            a = self.matrix
            x0, x1 = sorted(
                (a[0, 0] * self._extent[0] + a[0, 2], a[0, 0] * self._extent[2] + a[0, 2])
            )
            y0, y1 = sorted(
                (a[1, 1] * self._extent[1] + a[1, 2], a[1, 1] * self._extent[3] + a[1, 2])
            )
            return float(x0), float(y0), float(x1), float(y1)
        cur = self._points @ self.matrix[:, :2].T + self.matrix[:, 2]
        lo, hi = cur.min(axis=0), cur.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def apply(self, score: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Map every present point once and permute joints.

        Returns:
            ``keypoint`` float32 [M, T, V, 2] (missing points exactly 0) and ``score`` float32
            [M, T, V] (permuted alike; 0 where coordinates were NaN/inf) or None.
        """
        kp = np.where(self.present[..., None], self.keypoint, 0.0).astype(np.float64)
        if self._axis_aligned():
            out = kp * self.matrix[:, 0:2].diagonal() + self.matrix[:, 2]
        else:
            out = kp @ self.matrix[:, :2].T + self.matrix[:, 2]
        out = np.where(self.present[..., None], out, 0.0).astype(np.float32)
        out = np.ascontiguousarray(out[:, :, self.perm])
        if score is None:
            return out, None
        finite = np.isfinite(self.keypoint).all(-1)
        sc = np.where(finite, score, 0.0).astype(np.float32)
        return out, np.ascontiguousarray(sc[:, :, self.perm])


class PoseTransform:
    """Base class: ``update(state, rng)`` composes this step; ``__call__`` applies it alone.

    ``__call__(sample, rng=None)`` takes ``{"keypoint": [M, T, V, 2], "score" (or
    "keypoint_score"): [M, T, V], "img_shape": (H, W), ...}`` and returns a new dict with
    transformed ``keypoint``/score and ``img_shape``, and ``"flip"`` set when flipped.
    """

    random = False
    generator: RngLike = None

    def update(self, state: PoseState, rng: np.random.Generator) -> None:
        """Compose this step's affine (and permutation) onto ``state``."""
        raise NotImplementedError

    def __call__(self, sample: Mapping[str, Any], rng: RngLike = None) -> dict[str, Any]:
        return _run([self], sample, rng if rng is not None else self.generator)


def _run(steps: Sequence[PoseTransform], sample: Mapping[str, Any], rng: RngLike) -> dict[str, Any]:
    if not isinstance(sample, Mapping) or "keypoint" not in sample:
        raise TypeError("sample must be a dict with 'keypoint' [M, T, V, 2] and 'img_shape'")
    if "img_shape" not in sample:
        raise ValueError("sample needs 'img_shape' (H, W) of its coordinate frame")
    kp = np.asarray(sample["keypoint"])
    state = PoseState(kp, tuple(sample["img_shape"]))
    np_rng = as_numpy_rng(rng) if any(s.random for s in steps) else np.random.default_rng(0)
    for step in steps:
        step.update(state, np_rng)
    key = "score" if "score" in sample else "keypoint_score" if "keypoint_score" in sample else None
    out_kp, out_sc = state.apply(None if key is None else np.asarray(sample[key]))
    out = dict(sample)
    out["keypoint"] = out_kp
    if key is not None:
        out[key] = out_sc
    out["img_shape"] = state.img_shape
    out["flip"] = bool(sample.get("flip", False)) ^ state.flipped
    return out


class Compose(PoseTransform):
    """Steps applied in order, folded into one affine (+ permutation).

    Args:
        transforms: the steps (any :class:`PoseTransform`, including nested ``Compose``).
        generator: default randomness (see the module docstring).
    """

    def __init__(self, transforms: Sequence[PoseTransform], generator: RngLike = None) -> None:
        for i, t in enumerate(transforms):
            if not isinstance(t, PoseTransform):
                raise TypeError(f"transforms[{i}] must be a PoseTransform, got {type(t).__name__}")
        self.transforms = list(transforms)
        self.random = any(t.random for t in self.transforms)
        self.generator = _stream(generator)

    def update(self, state: PoseState, rng: np.random.Generator) -> None:  # noqa: D102
        for t in self.transforms:
            t.update(state, rng)

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class PoseCompact(PoseTransform):
    """Crop to the padded (squared) box around all present points, as PYSKL's PoseCompact.

    Box = min/max of present x and y over all persons and frames; if a side is shorter than
    ``threshold`` px nothing happens. Half-sizes grow by ``1 + padding``; with ``hw_ratio`` r
    (float or (rh, rw)) half_h = max(rh * half_w, half_h) then half_w = max(half_h / rw, half_w);
    corners are truncated toward zero with ``int()`` (clamped to the image first when
    ``allow_imgpad`` is False). Points shift by (-x0, -y0); ``img_shape`` = (y1 - y0, x1 - x0).
    """

    def __init__(
        self,
        padding: float = 0.25,
        threshold: float = 10,
        hw_ratio: float | tuple[float, float] | None = 1.0,
        allow_imgpad: bool = True,
    ) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        if hw_ratio is not None:
            pair = (hw_ratio, hw_ratio) if isinstance(hw_ratio, (int, float)) else tuple(hw_ratio)
            if len(pair) != 2 or min(pair) <= 0:
                raise ValueError(f"hw_ratio must be > 0 or a pair of them, got {hw_ratio!r}")
            self.hw_ratio: tuple[float, float] | None = (float(pair[0]), float(pair[1]))
        else:
            self.hw_ratio = None
        self.padding, self.threshold, self.allow_imgpad = float(padding), threshold, allow_imgpad

    def update(self, state: PoseState, rng: np.random.Generator) -> None:  # noqa: D102
        box = state.box()
        if box is None:
            return
        min_x, min_y, max_x, max_y = box
        if max_x - min_x < self.threshold or max_y - min_y < self.threshold:
            return
        cx, cy = (max_x + min_x) / 2, (max_y + min_y) / 2
        half_w = (max_x - min_x) / 2 * (1 + self.padding)
        half_h = (max_y - min_y) / 2 * (1 + self.padding)
        if self.hw_ratio is not None:
            half_h = max(self.hw_ratio[0] * half_w, half_h)
            half_w = max(1 / self.hw_ratio[1] * half_h, half_w)
        x0f, x1f, y0f, y1f = cx - half_w, cx + half_w, cy - half_h, cy + half_h
        h, w = state.img_shape
        if self.allow_imgpad:
            x0, y0, x1, y1 = int(x0f), int(y0f), int(x1f), int(y1f)
        else:
            x0, y0 = int(max(0.0, x0f)), int(max(0.0, y0f))
            x1, y1 = int(min(float(w), x1f)), int(min(float(h), y1f))
        state.then(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]))
        state.img_shape = (y1 - y0, x1 - x0)

    def __repr__(self) -> str:
        return (
            f"PoseCompact(padding={self.padding}, threshold={self.threshold}, "
            f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})"
        )


class Resize(PoseTransform):
    """Rescale coordinates to a new image size.

    Args:
        scale: ``(-1, s)`` / ``(s, -1)`` or an int ``s``: short side to ``s``, keeping the aspect
            ratio (PYSKL ``Resize(scale=(-1, 64))``); ``(W, H)``: exactly that size, unless
            ``keep_ratio`` is True, then the largest size with long side <= max(W, H) and short
            side <= min(W, H) (mmcv ``rescale_size``). New sizes round with ``int(x + 0.5)``.
        keep_ratio: see ``scale``.

    x' = x * W'/W, y' = y * H'/H (factors as float32, like PYSKL).
    """

    def __init__(self, scale: int | tuple[int, int], keep_ratio: bool = False) -> None:
        if isinstance(scale, (int, np.integer)) and not isinstance(scale, bool):
            scale = (-1, int(scale))
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise ValueError(f"scale must be an int or a (W, H) pair, got {scale!r}")
        a, b = int(scale[0]), int(scale[1])
        if min(a, b) == -1 and max(a, b) > 0:
            self.short: int | None = max(a, b)
        elif a > 0 and b > 0:
            self.short = None
        else:
            raise ValueError(
                f"scale must hold positive sizes (or -1 for 'keep ratio'), got {scale}"
            )
        self.scale, self.keep_ratio = (a, b), bool(keep_ratio)

    def new_size(self, img_shape: tuple[int, int]) -> tuple[int, int]:
        """(H', W') for an input (H, W)."""
        h, w = img_shape
        if self.short is None and not self.keep_ratio:
            return self.scale[1], self.scale[0]
        long_edge = math.inf if self.short is not None else max(self.scale)
        short_edge = self.short if self.short is not None else min(self.scale)
        factor = min(long_edge / max(h, w), short_edge / min(h, w))
        return int(h * factor + 0.5), int(w * factor + 0.5)

    def update(self, state: PoseState, rng: np.random.Generator) -> None:  # noqa: D102
        h, w = state.img_shape
        if h <= 0 or w <= 0:
            raise ValueError(f"cannot resize an empty image of shape {(h, w)}")
        nh, nw = self.new_size((h, w))
        sx, sy = float(np.float32(nw / w)), float(np.float32(nh / h))
        state.then(np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]]))
        state.img_shape = (nh, nw)

    def __repr__(self) -> str:
        return f"Resize(scale={self.scale}, keep_ratio={self.keep_ratio})"


class RandomResizedCrop(PoseTransform):
    """Random crop of a random area fraction and aspect ratio (PYSKL/mmaction2 rule).

    Ten candidates: aspect ``exp(U(log a0, log a1))``, area ``U(area_range) * H * W``,
    ``w = round(sqrt(area * aspect))``, ``h = round(sqrt(area / aspect))``; the first that fits
    gets offsets ``x0 ~ U{0..W-w}``, ``y0 ~ U{0..H-h}``; else a centred square of the short side.
    Points shift by (-x0, -y0); ``img_shape`` = (h, w).
    """

    random = True

    def __init__(
        self,
        area_range: tuple[float, float] = (0.56, 1.0),
        aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
        max_attempts: int = 10,
        generator: RngLike = None,
    ) -> None:
        if not 0 < area_range[0] <= area_range[1] <= 1:
            raise ValueError(f"area_range must satisfy 0 < lo <= hi <= 1, got {area_range}")
        if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
            raise ValueError(f"aspect_ratio_range must be 0 < lo <= hi, got {aspect_ratio_range}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.area_range = (float(area_range[0]), float(area_range[1]))
        self.aspect_ratio_range = (float(aspect_ratio_range[0]), float(aspect_ratio_range[1]))
        self.max_attempts, self.generator = int(max_attempts), _stream(generator)

    def crop_box(self, img_shape: tuple[int, int], rng: np.random.Generator) -> tuple[int, ...]:
        """(x0, y0, x1, y1) of the crop for an (H, W) image."""
        h, w = img_shape
        log_lo, log_hi = math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1])
        aspects = np.exp(rng.uniform(log_lo, log_hi, size=self.max_attempts))
        areas = rng.uniform(self.area_range[0], self.area_range[1], size=self.max_attempts) * (
            h * w
        )
        cws = np.round(np.sqrt(areas * aspects)).astype(np.int64)
        chs = np.round(np.sqrt(areas / aspects)).astype(np.int64)
        for cw, ch in zip(cws.tolist(), chs.tolist(), strict=True):
            if ch <= h and cw <= w:
                x0 = int(rng.integers(0, w - cw + 1))
                y0 = int(rng.integers(0, h - ch + 1))
                return x0, y0, x0 + cw, y0 + ch
        side = min(h, w)
        x0, y0 = (w - side) // 2, (h - side) // 2
        return x0, y0, x0 + side, y0 + side

    def update(self, state: PoseState, rng: np.random.Generator) -> None:  # noqa: D102
        x0, y0, x1, y1 = self.crop_box(state.img_shape, rng)
        state.then(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]))
        state.img_shape = (y1 - y0, x1 - x0)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(area_range={self.area_range}, aspect={self.aspect_ratio_range})"


class Flip(PoseTransform):
    """Horizontal flip with probability ``flip_ratio``: x' = W - x, joints/scores permuted.

    Args:
        flip_ratio: probability in [0, 1] (one ``rng.random()`` draw per call).
        layout: a Skeleton or layout name (its ``joint_flip_perm``) or an explicit permutation
            [V]; required, since mirror pairs belong to one layout (COCO's are not iMiGUE's).
    """

    random = True

    def __init__(
        self,
        flip_ratio: float,
        layout: Skeleton | str | list[int] | tuple[int, ...] | np.ndarray,
        generator: RngLike = None,
    ) -> None:
        if not 0.0 <= flip_ratio <= 1.0:
            raise ValueError(f"flip_ratio must be in [0, 1], got {flip_ratio}")
        if isinstance(layout, (list, tuple, np.ndarray)):
            perm = np.asarray(layout, np.int64)
        else:
            from pymg.data.formats.joints import resolve_layout

            perm = np.asarray(resolve_layout(layout).joint_flip_perm, np.int64)
        if perm.ndim != 1 or not np.array_equal(np.sort(perm), np.arange(len(perm))):
            raise ValueError(f"layout must give a permutation of range(V), got {perm.tolist()}")
        self.flip_ratio, self.perm, self.generator = float(flip_ratio), perm, _stream(generator)

    def update(self, state: PoseState, rng: np.random.Generator) -> None:  # noqa: D102
        if not rng.random() < self.flip_ratio:
            return
        if len(self.perm) != len(state.perm):
            raise ValueError(
                f"Flip permutation has {len(self.perm)} joints, data has {len(state.perm)}"
            )
        w = state.img_shape[1]
        state.then(np.array([[-1.0, 0.0, float(w)], [0.0, 1.0, 0.0]]))
        state.perm = state.perm[self.perm]
        state.flipped = not state.flipped

    def __repr__(self) -> str:
        return f"Flip(flip_ratio={self.flip_ratio}, V={len(self.perm)})"


def train_transform(
    layout: Skeleton | str, size: int = 56, flip_prob: float = 0.5, generator: RngLike = None
) -> Compose:
    """PoseC3D training pipeline (PYSKL ``joint.py`` / ``limb.py`` configs) without frame sampling:
    PoseCompact(0.25, 10, hw_ratio 1, allow_imgpad) -> Resize short side 64 ->
    RandomResizedCrop(0.56-1.0, 3/4-4/3) -> Resize (size, size) -> Flip(flip_prob, layout)."""
    check_int(size, "size", minimum=1, expected="a positive int")
    return Compose(
        [
            PoseCompact(0.25, 10, 1.0, True),
            Resize((-1, 64)),
            RandomResizedCrop(),
            Resize((int(size), int(size))),
            Flip(flip_prob, layout),
        ],
        generator=generator,
    )


def test_transform(layout: Skeleton | str | None = None, size: int = 64) -> Compose:
    """PoseC3D val/test pipeline: PoseCompact(0.25, 10, hw_ratio 1, allow_imgpad) -> Resize
    (size, size). ``layout`` is accepted for symmetry (the test-time flip happens in the model's
    ``make_input``)."""
    check_int(size, "size", minimum=1, expected="a positive int")
    return Compose([PoseCompact(0.25, 10, 1.0, True), Resize((int(size), int(size)))])


# ``test_*`` names imported into test modules would otherwise be collected by pytest.
test_transform.__test__ = False  # type: ignore[attr-defined]
