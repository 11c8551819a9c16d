"""Recognizers: PoseC3D (ResNet3dSlowOnly + I3DHead on heatmap volumes), ST-GCN, two-stream fusion,
and PYSKL/mmaction2 checkpoint import/export.

>>> from pymg.models import PoseC3D
>>> model = PoseC3D("coco17", stream="joint", num_classes=60)
>>> sum(p.numel() for p in model.backbone.parameters())
1994080
"""

from pymg.models.batch import align_batch
from pymg.models.checkpoint import (
    CheckpointReport,
    export_pyskl_state_dict,
    load_pyskl_checkpoint,
    read_state_dict,
)
from pymg.models.fusion import TwoStream, fuse_scores
from pymg.models.heads import I3DHead
from pymg.models.posec3d import PoseC3D
from pymg.models.resnet3d import Bottleneck3d, ConvBN3d, ResNet3dSlowOnly
from pymg.models.stgcn import STGCN, GCNHead, STGCNBackbone

__all__ = [
    "STGCN",
    "Bottleneck3d",
    "CheckpointReport",
    "ConvBN3d",
    "GCNHead",
    "I3DHead",
    "PoseC3D",
    "ResNet3dSlowOnly",
    "STGCNBackbone",
    "TwoStream",
    "align_batch",
    "export_pyskl_state_dict",
    "fuse_scores",
    "load_pyskl_checkpoint",
    "read_state_dict",
]
