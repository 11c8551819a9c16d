"""Data layer: formats (PYSKL pickles, raw MiGA/OpenPose, native .npz), the keypoint dataset,
keypoint-space transforms, batching, and synthetic data.

>>> from pymg.data import PoseDataset, SyntheticMicroGestures, collate, train_transform
>>> ds = PoseDataset(SyntheticMicroGestures(num_clips=8), split="train", layout="imigue41",
...                  transform=train_transform("imigue41"))
>>> batch = collate([ds[0], ds[1]])
>>> batch["keypoint"].shape[-2:]
torch.Size([41, 2])
"""

from pymg.data.collate import collate
from pymg.data.dataset import PoseDataset, select_persons
from pymg.data.formats import (
    OPENPOSE137,
    MalformedClipError,
    MalformedDataWarning,
    NativeClips,
    UnsafePickleError,
    check_annotation,
    load_pyskl,
    safe_load,
    save_native,
    save_pyskl,
)
from pymg.data.prepare import prepare_pyskl, prepare_release
from pymg.data.prepare_untrimmed import prepare_untrimmed
from pymg.data.recording import RecordingSet, check_recording, check_segments, save_recordings
from pymg.data.splits import IMIGUE_TRAIN_SUBJECTS, SplitError
from pymg.data.synthetic import SyntheticMicroGestures
from pymg.data.synthetic_imigue import SyntheticIMiGUE
from pymg.data.synthetic_untrimmed import SyntheticUntrimmed
from pymg.data.transforms import (
    Compose,
    Flip,
    PoseCompact,
    PoseState,
    PoseTransform,
    RandomResizedCrop,
    Resize,
    test_transform,
    train_transform,
)
from pymg.data.windows import RecordingWindows

__all__ = [
    "IMIGUE_TRAIN_SUBJECTS",
    "OPENPOSE137",
    "Compose",
    "Flip",
    "MalformedClipError",
    "MalformedDataWarning",
    "NativeClips",
    "RecordingWindows",
    "PoseCompact",
    "PoseDataset",
    "PoseState",
    "PoseTransform",
    "RandomResizedCrop",
    "RecordingSet",
    "Resize",
    "SplitError",
    "SyntheticIMiGUE",
    "SyntheticMicroGestures",
    "SyntheticUntrimmed",
    "UnsafePickleError",
    "check_annotation",
    "check_recording",
    "check_segments",
    "collate",
    "load_pyskl",
    "prepare_pyskl",
    "prepare_release",
    "prepare_untrimmed",
    "safe_load",
    "save_native",
    "save_pyskl",
    "save_recordings",
    "select_persons",
    "test_transform",
    "train_transform",
]
