"""Readers and writers of clip data: PYSKL pickles (safely), raw OpenPose/MiGA files, native .npz.

Every loader yields PYSKL-style annotation dicts (``keypoint`` float32 [M, T, V, 2],
``keypoint_score`` float32 [M, T, V], ``label``, ``frame_dir``, ...); :func:`check_annotation`
validates one and names the clip and the problem when it is malformed.
"""

from pymg.data.formats.checks import (
    DEFAULT_MAX_ARRAY_BYTES,
    ArrayTooLargeError,
    MalformedClipError,
    MalformedDataWarning,
    SkipLog,
    check_annotation,
    check_on_error,
)
from pymg.data.formats.joints import OPENPOSE137, joint_index_map, resolve_layout
from pymg.data.formats.native import NativeClips, save_native
from pymg.data.formats.openpose import (
    IMIGUE_TRAIN_SUBJECTS,
    clips_from_video,
    default_subject_parser,
    imigue_split,
    map_miga_label,
    read_label_csv,
    read_openpose_json_dir,
    read_openpose_xlsx,
)
from pymg.data.formats.pyskl import load_pyskl, save_pyskl, trim_zero_padding
from pymg.data.formats.safe_pickle import UnsafePickleError, safe_load, safe_loads

__all__ = [
    "DEFAULT_MAX_ARRAY_BYTES",
    "IMIGUE_TRAIN_SUBJECTS",
    "OPENPOSE137",
    "ArrayTooLargeError",
    "MalformedClipError",
    "MalformedDataWarning",
    "NativeClips",
    "SkipLog",
    "UnsafePickleError",
    "check_annotation",
    "check_on_error",
    "clips_from_video",
    "default_subject_parser",
    "imigue_split",
    "joint_index_map",
    "load_pyskl",
    "map_miga_label",
    "read_label_csv",
    "read_openpose_json_dir",
    "read_openpose_xlsx",
    "resolve_layout",
    "safe_load",
    "safe_loads",
    "save_native",
    "save_pyskl",
    "trim_zero_padding",
]
