"""Recognizers: PoseC3D (ResNet3dSlowOnly + I3DHead on heatmap volumes), ST-GCN / ST-GCN++,
two-stream fusion, PYSKL/mmaction2 checkpoint import/export and config import (:func:`from_pyskl`).

Every recognizer is a :class:`RecognizerModel`: ``make_input(batch, num_clips=, flip=, ...)``
turns a keypoint batch into the network input, ``model(x)`` returns a :class:`ModelOutput`
``(logits [N, K], embedding [N, D] or None)``.

>>> from pymg.models import PoseC3D
>>> model = PoseC3D("coco17", stream="joint", num_classes=60)
>>> sum(p.numel() for p in model.backbone.parameters())
1994080
"""

from pymg.models.batch import align_batch, mirror_keypoints
from pymg.models.checkpoint import (
    CONVENTIONS,
    CheckpointReport,
    export_pyskl_state_dict,
    load_pyskl_checkpoint,
    read_state_dict,
)
from pymg.models.fusion import TwoStream, fuse_scores
from pymg.models.heads import I3DHead
from pymg.models.interface import ModelInput, ModelOutput, RecognizerModel
from pymg.models.posec3d import PoseC3D
from pymg.models.pyskl_config import PysklConfigError, read_pyskl_config
from pymg.models.pyskl_import import PysklSpec, from_pyskl, pyskl_model_spec
from pymg.models.resnet3d import Bottleneck3d, ConvBN3d, ResNet3dSlowOnly
from pymg.models.stgcn import STGCN, GCNHead, STGCNBackbone, stgcn_plus_plus

__all__ = [
    "CONVENTIONS",
    "STGCN",
    "Bottleneck3d",
    "CheckpointReport",
    "ConvBN3d",
    "GCNHead",
    "I3DHead",
    "ModelInput",
    "ModelOutput",
    "PoseC3D",
    "PysklConfigError",
    "PysklSpec",
    "RecognizerModel",
    "ResNet3dSlowOnly",
    "STGCNBackbone",
    "TwoStream",
    "align_batch",
    "export_pyskl_state_dict",
    "from_pyskl",
    "fuse_scores",
    "load_pyskl_checkpoint",
    "mirror_keypoints",
    "pyskl_model_spec",
    "read_pyskl_config",
    "read_state_dict",
    "stgcn_plus_plus",
]
