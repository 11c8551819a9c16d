"""Pictures of layouts, keypoint clips and heatmap volumes (needs the optional ``viz`` extra).

matplotlib is imported lazily inside each function and drawn with the Agg canvas (no display,
no pyplot state), so ``import pymg.viz`` is free and works without matplotlib installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pymg.topology import Skeleton, resolve_layout, template_pose

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "draw_heatmaps",
    "draw_keypoints",
    "draw_skeleton",
    "matplotlib_available",
    "new_figure",
    "save_figure",
]

LEFT_COLOR = "#1f77b4"  # the subject's left side
RIGHT_COLOR = "#d62728"  # the subject's right side
CENTRAL_COLOR = "#555555"


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (the pictures of pymg need it; nothing else does)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def new_figure(width: float, height: float, dpi: float = 110) -> Figure:
    """A matplotlib Figure of ``width`` x ``height`` inches on its own Agg canvas.

    No pyplot and no global backend: drawing works the same with or without a display.

    Raises:
        ImportError: matplotlib is not installed (says how to install it).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("pymg.viz needs matplotlib: pip install 'pymg[viz]'") from exc
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parent folders are created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


def _colors(skeleton: Skeleton) -> tuple[list[str], list[str]]:
    """Colour of every joint and every limb (left / right / central)."""
    joint = [CENTRAL_COLOR] * skeleton.num_joints
    for v in skeleton.left_joints:
        joint[v] = LEFT_COLOR
    for v in skeleton.right_joints:
        joint[v] = RIGHT_COLOR
    limb = [CENTRAL_COLOR] * skeleton.num_limbs
    for i in skeleton.left_limbs:
        limb[i] = LEFT_COLOR
    for i in skeleton.right_limbs:
        limb[i] = RIGHT_COLOR
    return joint, limb


def _label_offsets(skeleton: Skeleton, points: np.ndarray) -> np.ndarray:
    """[V, 2] unit label directions: the most open of 16 directions around each joint.

    "Open" = largest angle to the limbs at the joint and to the 4 nearest joints; right-side
    joints prefer labels on the image left, left-side joints on the image right.
    """
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    candidates = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # [16, 2]
    diff = points[None, :, :] - points[:, None, :]  # [V, V, 2] from joint v to joint w
    dist = np.linalg.norm(diff, axis=-1)
    np.fill_diagonal(dist, np.inf)
    partners: list[set[int]] = [set() for _ in range(len(points))]
    for a, b in skeleton.limbs:
        partners[a].add(b)
        partners[b].add(a)
    side = np.zeros(len(points))
    side[list(skeleton.left_joints)] = 1.0
    side[list(skeleton.right_joints)] = -1.0
    out = np.zeros_like(points)
    for v in range(len(points)):
        others = sorted(partners[v] | set(np.argsort(dist[v])[: min(4, len(points) - 1)].tolist()))
        vectors = diff[v, others] / np.maximum(dist[v, others, None], 1e-9)
        clearance = 1.0 - (candidates @ vectors.T).max(axis=1) if others else np.ones(16)
        score = clearance + 0.35 * side[v] * candidates[:, 0] + 0.05 * candidates[:, 0]
        out[v] = candidates[int(np.argmax(score))]
    return out


def _draw_layout(
    ax: Axes, skeleton: Skeleton, points: np.ndarray, shown: np.ndarray, font: float, pad: float
) -> list:
    joint_color, limb_color = _colors(skeleton)
    for i, (a, b) in enumerate(skeleton.limbs):
        ax.plot(*points[[a, b]].T, color=limb_color[i], lw=1.6, alpha=0.75, zorder=1)
    ax.scatter(points[:, 0], points[:, 1], c=joint_color, s=22, zorder=2)
    c = skeleton.center
    ax.scatter(
        points[c, 0], points[c, 1], s=160, facecolors="none", edgecolors="black", lw=1.5, zorder=3
    )
    directions = _label_offsets(skeleton, points)
    texts = []
    for v in np.flatnonzero(shown):
        x, y = points[v] + pad * directions[v]
        dx = directions[v][0]
        ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
        va = "top" if directions[v][1] > 0.5 else "bottom" if directions[v][1] < -0.5 else "center"
        text = f"{v} {skeleton.joints[v]}"
        texts.append(
            ax.text(x, y, text, fontsize=font, ha=ha, va=va, color=joint_color[v], zorder=4)
        )
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_yticks([])
    return texts


def _count_inside(q: np.ndarray, box: np.ndarray, margin: float) -> int:
    """How many of the points ``q`` [n, 2] lie in ``box`` (x0, y0, x1, y1) grown by ``margin``."""
    x0, y0, x1, y1 = box
    hit = (q[:, 0] > x0 - margin) & (q[:, 0] < x1 + margin)
    return int((hit & (q[:, 1] > y0 - margin) & (q[:, 1] < y1 + margin)).sum())


def _place(ax: Axes, texts: list, anchors: np.ndarray, points: np.ndarray, limbs: list) -> None:
    """Move each label to the free-most of 16 spots around its joint (display space, greedy).

    A spot costs: limb samples and joints under the label box, overlap with labels placed before,
    and a little for straying from the direction first chosen.
    """
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    to_disp, to_data = ax.transData.transform, ax.transData.inverted().transform
    pts = to_disp(points)
    ends = np.array([[pts[a], pts[b]] for a, b in limbs]).reshape(-1, 2, 2)
    f = np.linspace(0.0, 1.0, 25)[None, :, None]
    samples = (ends[:, :1] * (1 - f) + ends[:, 1:] * f).reshape(-1, 2)
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    spots = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    placed: list[np.ndarray] = []
    for text, anchor in zip(texts, to_disp(anchors), strict=True):
        first = np.asarray(to_disp(text.get_position())) - anchor
        pad = max(float(np.linalg.norm(first)), 4.0)
        best: tuple[float, tuple] | None = None
        for d, radius in [(d, r) for r in (1.0, 2.4) for d in spots]:
            ha = "left" if d[0] > 0.3 else "right" if d[0] < -0.3 else "center"
            va = "bottom" if d[1] > 0.5 else "top" if d[1] < -0.5 else "center"
            pos = to_data(anchor + radius * pad * d)
            text.set_position(pos)
            text.set_ha(ha)
            text.set_va(va)
            x0, y0, x1, y1 = text.get_window_extent(renderer).extents
            box = np.array([x0, y0, x1, y1])
            cost = 1.0 * _count_inside(samples, box, 1.0) + 5.0 * _count_inside(pts, box, 4.0)
            for b in placed:
                w = min(x1, b[2]) - max(x0, b[0]) + 3.0
                h = min(y1, b[3]) - max(y0, b[1]) + 3.0
                cost += 5.0 if w > 0 and h > 0 else 0.0
            cost += 0.5 * (1.0 - float(d @ first) / pad) + 1.5 * (radius - 1.0)
            if best is None or cost < best[0]:
                best = (cost, (pos, ha, va, box, radius))
        if best is None:  # pragma: no cover - there are always 32 spots
            continue
        pos, ha, va, box, radius = best[1]
        if radius > 1.0:  # a leader line from the joint towards the far label
            tip = to_data(
                anchor + (radius - 0.6) * pad * (np.asarray(to_disp(pos)) - anchor) / (radius * pad)
            )
            ax.plot(
                [to_data(anchor)[0], tip[0]],
                [to_data(anchor)[1], tip[1]],
                color=text.get_color(),
                lw=0.5,
                alpha=0.6,
                zorder=3,
            )
        text.set_position(pos)
        text.set_ha(ha)
        text.set_va(va)
        placed.append(box)


def _repel(ax: Axes, texts: list, anchors: np.ndarray, iterations: int = 200) -> None:
    """Shift overlapping labels apart vertically (display space) and draw leader lines."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])  # [n, 4] x0 y0 x1 y1
    shift = np.zeros(len(texts))
    for _ in range(iterations):
        moved = False
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                bi, bj = (
                    boxes[i] + [0, shift[i], 0, shift[i]],
                    boxes[j] + [0, shift[j], 0, shift[j]],
                )
                if bi[0] >= bj[2] + 2 or bj[0] >= bi[2] + 2:
                    continue
                overlap = min(bi[3], bj[3]) - max(bi[1], bj[1]) + 4.0  # 4 px gap
                if overlap <= 0:
                    continue
                up = 1.0 if (bi[1] + bi[3]) >= (bj[1] + bj[3]) else -1.0
                shift[i] += up * overlap / 2
                shift[j] -= up * overlap / 2
                moved = True
        if not moved:
            break
    to_data = ax.transData.inverted()
    for k, text in enumerate(texts):
        if abs(shift[k]) < 0.5:
            continue
        x_disp, y_disp = ax.transData.transform(text.get_position())
        new = to_data.transform((x_disp, y_disp + shift[k]))
        text.set_position(new)
        ax.plot([anchors[k][0], new[0]], [anchors[k][1], new[1]], color=text.get_color(),
                lw=0.5, alpha=0.6, zorder=3)  # fmt: skip


def draw_skeleton(layout: str | Skeleton, path: str | Path, *, title: str | None = None) -> Path:
    """Draw a layout at its template pose: numbered, named joints, limbs, sides and center.

    Left joints/limbs are blue, right ones red, central ones grey; the center joint is ringed.
    When the head holds many joints (face points) a second panel zooms on the head.

    Args:
        layout: layout name or :class:`~pymg.topology.Skeleton`.
        path: output PNG path (parent folders are created).
        title: figure title (default: the layout's repr).

    Returns:
        ``Path(path)``.
    """
    skeleton = resolve_layout(layout)
    points = template_pose(skeleton)
    head = (
        points[:, 1] < -0.2 if skeleton.source_indices is not None else np.zeros(len(points), bool)
    )
    tall = float(np.ptp(points[:, 1])) > 2.2  # a full body: the head gets small
    zoom = int(head.sum()) > 8 or (int(head.sum()) >= 5 and tall)
    fig = new_figure(17.0 if zoom else 8.0, 9.0 if zoom else 8.0)
    ratios = [1.0, 1.5 if head.sum() > 8 else 1.0] if zoom else [1.0]
    axes = fig.subplots(1, len(ratios), squeeze=False, width_ratios=ratios)[0]
    shown = [~head if zoom else np.ones(len(points), bool)]
    texts = [_draw_layout(axes[0], skeleton, points, shown[0], 8, 0.04)]
    axes[0].margins(0.15)
    if zoom:
        shown.append(head)
        texts.append(_draw_layout(axes[1], skeleton, points, head, 9, 0.01))
        span = points[head]
        lo, hi = span.min(axis=0) - 0.08, span.max(axis=0) + 0.08
        axes[1].set_xlim(lo[0], hi[0])
        axes[1].set_ylim(hi[1], lo[1])
        axes[1].set_title("head (zoom)", fontsize=10)
        axes[0].set_title("body (head labels in the zoom)", fontsize=10)
    fig.canvas.draw()  # fixes the limits so that label boxes can be measured
    for ax, ax_texts, ax_shown in zip(axes, texts, shown, strict=True):
        ax.autoscale(False)
        anchors = points[np.flatnonzero(ax_shown)]
        _place(ax, ax_texts, anchors, points, list(skeleton.limbs))
        _repel(ax, ax_texts, anchors)
    handles = [
        axes[0].plot([], [], color=c, marker="o", label=n)[0]
        for c, n in ((LEFT_COLOR, "left"), (RIGHT_COLOR, "right"), (CENTRAL_COLOR, "central"))
    ]
    handles.append(
        axes[0].scatter([], [], s=160, facecolors="none", edgecolors="black", label="center")
    )
    axes[0].legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8
    )
    fig.suptitle(title if title is not None else repr(skeleton), fontsize=11)
    return save_figure(fig, path)


def _to_numpy(array: Any, name: str) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor, without importing torch
        array = array.detach().float().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(array).__name__}")
    return np.asarray(array, dtype=np.float32)


def _frame_indices(frames: int | Sequence[int] | None, length: int, default: int) -> list[int]:
    if frames is None or isinstance(frames, int):
        count = default if frames is None else frames
        if count < 1:
            raise ValueError(f"frames must be >= 1, got {count}")
        return sorted({int(round(x)) for x in np.linspace(0, length - 1, min(count, length))})
    out = [int(f) for f in frames]
    bad = [f for f in out if not 0 <= f < length]
    if bad or not out:
        raise ValueError(f"frames must be non-empty indices in [0, {length}), got {out}")
    return out


def draw_heatmaps(
    volume: Any,
    path: str | Path,
    *,
    frames: int | Sequence[int] | None = None,
    channels: Sequence[int] | None = None,
    reduce: str = "max",
    title: str | None = None,
) -> Path:
    """Draw frames of a heatmap volume as a grid of images.

    Args:
        volume: numpy array or torch tensor [C, T, H, W] or [T, H, W].
        path: output PNG path.
        frames: how many evenly spaced frames (int, default 8) or explicit frame indices.
        channels: channels to combine (default all).
        reduce: ``"max"`` or ``"sum"`` over the channels.
        title: figure title.

    Returns:
        ``Path(path)``.
    """
    vol = _to_numpy(volume, "volume")
    if vol.ndim == 3:
        vol = vol[None]
    if vol.ndim != 4:
        raise ValueError(f"volume must be [C, T, H, W] or [T, H, W], got shape {tuple(vol.shape)}")
    if reduce not in ("max", "sum"):
        raise ValueError(f"reduce must be 'max' or 'sum', got {reduce!r}")
    if channels is not None:
        chans = [int(c) for c in channels]
        if not chans or any(not 0 <= c < vol.shape[0] for c in chans):
            raise ValueError(
                f"channels must be non-empty indices in [0, {vol.shape[0]}), got {chans}"
            )
        vol = vol[chans]
    image = vol.max(axis=0) if reduce == "max" else vol.sum(axis=0)  # [T, H, W]
    picks = _frame_indices(frames, image.shape[0], 8)
    cols = min(len(picks), 4)
    rows = (len(picks) + cols - 1) // cols
    h, w = image.shape[1:]
    fig = new_figure(3.0 * cols, 3.0 * rows * h / max(w, 1) + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    vmax = float(image[picks].max()) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(picks):
            ax.imshow(image[picks[k]], cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_title(f"t={picks[k]}", fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def _view_box(
    kp: np.ndarray, sc: np.ndarray, img_shape: tuple[int, int] | None
) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) to draw: the whole image, or the detected points' box with a margin.

    ``kp`` [M, T, V, 2], ``sc`` [M, T, V]; with no detected point, the image (or a unit box).
    """
    ok = sc > 0
    if img_shape is not None or not ok.any():
        h, w = img_shape if img_shape is not None else (1, 1)
        return 0.0, 0.0, float(w), float(h)
    pts = kp[ok]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = 0.08 * float(max(hi - lo)) + 1e-3
    return lo[0] - margin, lo[1] - margin, hi[0] + margin, hi[1] + margin


def draw_keypoints(
    keypoint: Any,
    layout: str | Skeleton,
    path: str | Path,
    *,
    score: Any = None,
    frames: int | Sequence[int] | None = None,
    img_shape: tuple[int, int] | None = None,
    title: str | None = None,
    crop: bool = True,
) -> Path:
    """Draw frames of a keypoint clip as skeletons (points with score 0 are left out).

    With ``crop`` every panel shows the box around the drawn points (all panels the same box, so
    motion stays visible), which keeps small parts such as face points readable; without it the
    panel is the whole ``img_shape``.

    Args:
        keypoint: array/tensor [M, T, V, 2] or [T, V, 2] of (x, y) pixels.
        layout: the layout of the V joints.
        path: output PNG path.
        score: [M, T, V] or [T, V] scores (default: all visible).
        frames: how many evenly spaced frames (default 6) or explicit frame indices.
        img_shape: (H, W) of the video, the drawing area when ``crop`` is False.
        title: figure title.
        crop: zoom on the drawn points (default) instead of the whole image.

    Returns:
        ``Path(path)``.
    """
    skeleton = resolve_layout(layout)
    kp = _to_numpy(keypoint, "keypoint")
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[-1] != 2 or kp.shape[2] != skeleton.num_joints:
        raise ValueError(
            f"keypoint must be [M, T, {skeleton.num_joints}, 2] or [T, V, 2], got {tuple(kp.shape)}"
        )
    sc = np.ones(kp.shape[:3], np.float32) if score is None else _to_numpy(score, "score")
    if sc.ndim == 2:
        sc = sc[None]
    if sc.shape != kp.shape[:3]:
        raise ValueError(f"score must have shape {tuple(kp.shape[:3])}, got {tuple(sc.shape)}")
    picks = _frame_indices(frames, kp.shape[1], 6)
    x0, y0, x1, y1 = _view_box(kp[:, picks], sc[:, picks], img_shape if not crop else None)
    aspect = (y1 - y0) / max(x1 - x0, 1e-6)
    cols = min(len(picks), 3)
    rows = (len(picks) + cols - 1) // cols
    panel = 5.0
    fig = new_figure(panel * cols, panel * min(max(aspect, 0.5), 2.0) * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False)
    joint_color, limb_color = _colors(skeleton)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(picks):
            ax.axis("off")
            continue
        for m in range(kp.shape[0]):
            pts, ok = kp[m, picks[k]], sc[m, picks[k]] > 0
            for i, (a, b) in enumerate(skeleton.limbs):
                if ok[a] and ok[b]:
                    ax.plot(*pts[[a, b]].T, color=limb_color[i], lw=1.4)
            ax.scatter(pts[ok, 0], pts[ok, 1], c=np.asarray(joint_color)[ok], s=12, zorder=2)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        ax.set_aspect("equal")
        ax.set_title(f"frame {picks[k]}", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=13)
    return save_figure(fig, path)
