"""Skeleton topologies: layouts, left/right symmetry, template poses and ST-GCN graph partitions.

>>> from pymg.topology import get_layout, graph_partitions
>>> layout = get_layout("imigue41")
>>> layout.num_joints, layout.num_limbs
(41, 45)
>>> graph_partitions(layout, "spatial").shape
(3, 41, 41)
"""

from pymg.topology.graph import (
    PARTITION_STRATEGIES,
    PYSKL_GRAPH_MODES,
    gcn_edges,
    graph_partitions,
    hop_distance,
)
from pymg.topology.layouts import (
    COCO17,
    COCO17_PYSKL,
    HAND21,
    IMIGUE22,
    IMIGUE41,
    KINECT25,
    NTU25,
    OPENPOSE18,
    OPENPOSE137,
    PYSKL_LAYOUT_NAMES,
    get_layout,
    list_layouts,
    resolve_layout,
    template_pose,
)
from pymg.topology.openpose import (
    OPENPOSE_FACE_OFFSET,
    OPENPOSE_LEFT_HAND_OFFSET,
    OPENPOSE_MIRROR,
    OPENPOSE_NAMES,
    OPENPOSE_NUM_POINTS,
    OPENPOSE_RIGHT_HAND_OFFSET,
    openpose_template,
)
from pymg.topology.skeleton import Skeleton

__all__ = [
    "COCO17",
    "COCO17_PYSKL",
    "HAND21",
    "IMIGUE22",
    "IMIGUE41",
    "KINECT25",
    "NTU25",
    "OPENPOSE18",
    "OPENPOSE137",
    "OPENPOSE_FACE_OFFSET",
    "OPENPOSE_LEFT_HAND_OFFSET",
    "OPENPOSE_MIRROR",
    "OPENPOSE_NAMES",
    "OPENPOSE_NUM_POINTS",
    "OPENPOSE_RIGHT_HAND_OFFSET",
    "PARTITION_STRATEGIES",
    "PYSKL_GRAPH_MODES",
    "PYSKL_LAYOUT_NAMES",
    "Skeleton",
    "gcn_edges",
    "get_layout",
    "graph_partitions",
    "hop_distance",
    "list_layouts",
    "openpose_template",
    "resolve_layout",
    "template_pose",
]
