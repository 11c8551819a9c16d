"""Readers and writers of clip data: raw release files (MiGA'25 ``.xlsx``, iMiGUE
``_light_hand.csv``, OpenPose JSON, mmpose whole-body JSON, SMG's Kinect CSV, label CSVs), PYSKL
pickles (read safely), the native .npz (clips and untrimmed recordings) and the detection /
ground-truth segment CSVs.

Raw readers return :class:`VideoKeypoints` (a video's frames in the OpenPose-137 point space and
the points the format carries); clip loaders yield PYSKL-style annotation dicts (``keypoint``
float32 [M, T, V, 2], ``keypoint_score`` float32 [M, T, V], ``label``, ``frame_dir``, ...), and
:func:`check_annotation` validates one, naming the clip and the problem when it is malformed.
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
from pymg.data.formats.detections_csv import (
    SegmentRow,
    read_detections_csv,
    read_ground_truth_csv,
    write_segments_csv,
)
from pymg.data.formats.joints import OPENPOSE137, joint_index_map, resolve_layout
from pymg.data.formats.label_csv import Segment, map_miga_label, read_label_csv
from pymg.data.formats.light_hand import light_hand_points, read_light_hand_csv
from pymg.data.formats.miga_xlsx import read_openpose_xlsx
from pymg.data.formats.native import NativeClips, save_native
from pymg.data.formats.openpose_json import json_frame_number, read_openpose_json_dir
from pymg.data.formats.pyskl import load_pyskl, save_pyskl, trim_zero_padding
from pymg.data.formats.safe_pickle import UnsafePickleError, safe_load, safe_loads
from pymg.data.formats.smg_kinect import read_smg_skeleton_csv
from pymg.data.formats.sources import (
    LayoutSourceError,
    VideoKeypoints,
    buildable_layouts,
    layout_indices,
)
from pymg.data.formats.wholebody import read_mmpose_json, wholebody_to_openpose

__all__ = [
    "DEFAULT_MAX_ARRAY_BYTES",
    "OPENPOSE137",
    "ArrayTooLargeError",
    "LayoutSourceError",
    "MalformedClipError",
    "MalformedDataWarning",
    "NativeClips",
    "Segment",
    "SegmentRow",
    "SkipLog",
    "UnsafePickleError",
    "VideoKeypoints",
    "buildable_layouts",
    "check_annotation",
    "check_on_error",
    "joint_index_map",
    "json_frame_number",
    "layout_indices",
    "light_hand_points",
    "load_pyskl",
    "map_miga_label",
    "read_detections_csv",
    "read_ground_truth_csv",
    "read_label_csv",
    "read_light_hand_csv",
    "read_mmpose_json",
    "read_openpose_json_dir",
    "read_openpose_xlsx",
    "read_smg_skeleton_csv",
    "resolve_layout",
    "safe_load",
    "safe_loads",
    "save_native",
    "save_pyskl",
    "trim_zero_padding",
    "wholebody_to_openpose",
    "write_segments_csv",
]
