"""Joint-set bookkeeping: resolve layouts by name and map a richer joint set onto a smaller one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pymg.topology.layouts import OPENPOSE137, resolve_layout  # defined there, re-exported

if TYPE_CHECKING:
    from pymg.topology import Skeleton

__all__ = ["OPENPOSE137", "joint_index_map", "layout_name", "resolve_layout"]


def layout_name(layout: Skeleton | str | None) -> str | None:
    """The name of a Skeleton/layout string (None for None)."""
    if layout is None or isinstance(layout, str):
        return layout
    return str(layout.name)


def joint_index_map(
    source: Skeleton | str | None, target: Skeleton, num_source_joints: int
) -> np.ndarray | None:
    """Indices ``idx`` [V_target] with ``target_joints = source_joints[..., idx, :]``.

    Args:
        source: ``"openpose137"`` (use ``target.source_indices``), a Skeleton / layout name
            (match by OpenPose ``source_indices`` when both have them, else by joint name), or
            None to infer: V_source == 137 means OpenPose-137, V_source == V_target means identity.
        target: the layout wanted.
        num_source_joints: V of the stored keypoints (checked against ``source``).

    Returns:
        int64 [V_target] index array, or None when the sets are identical (no copy needed).

    Raises:
        ValueError: the source joint set cannot provide every target joint.
    """
    v_target = len(target.joints)
    if source is None:
        if num_source_joints == v_target:
            return None
        if num_source_joints == 137:
            source = OPENPOSE137
        else:
            raise ValueError(
                f"cannot map V={num_source_joints} stored joints onto layout {target.name!r} "
                f"(V={v_target}); pass source_layout"
            )
    if isinstance(source, str) and source == OPENPOSE137:
        if num_source_joints != 137:
            raise ValueError(
                f"source_layout 'openpose137' needs V=137, data has {num_source_joints}"
            )
        if target.source_indices is None:
            raise ValueError(f"layout {target.name!r} has no source_indices into OpenPose-137")
        return np.asarray(target.source_indices, np.int64)
    src = resolve_layout(source)
    if len(src.joints) != num_source_joints:
        raise ValueError(
            f"source_layout {src.name!r} has V={len(src.joints)} but the data has "
            f"V={num_source_joints}"
        )
    if src.name == target.name and len(src.joints) == v_target:
        return None
    if src.source_indices is not None and target.source_indices is not None:
        where: dict[Any, int] = {int(s): i for i, s in enumerate(src.source_indices)}
        keys: list[Any] = [int(s) for s in target.source_indices]
    else:
        where = {name: i for i, name in enumerate(src.joints)}
        keys = list(target.joints)
    missing = [target.joints[j] for j, k in enumerate(keys) if k not in where]
    if missing:
        raise ValueError(
            f"source layout {src.name!r} lacks joints {missing} of target layout {target.name!r}"
        )
    idx = np.array([where[k] for k in keys], np.int64)
    return None if np.array_equal(idx, np.arange(num_source_joints)) else idx
