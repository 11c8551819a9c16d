"""Training, evaluation and inference: configs, the training loop, metrics, :class:`Recognizer`.

>>> from pymg.engine import load_config, train
>>> cfg = load_config("demo", ["schedule.epochs=1"])      # doctest: +SKIP
>>> result = train(cfg)                                   # doctest: +SKIP
"""

from pymg.engine.checkpointing import load_checkpoint, save_checkpoint
from pymg.engine.config import (
    Config,
    ConfigError,
    DataConfig,
    DetectConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RuntimeConfig,
    ScheduleConfig,
    TestConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    config_to_toml,
    list_configs,
    load_config,
)
from pymg.engine.detection_metrics import evaluate_detections
from pymg.engine.detector import Detector, OnlineDetector, WindowParams
from pymg.engine.evaluate import (
    ScoreSet,
    fuse_score_files,
    load_scores,
    predict_batch,
    predict_dataset,
    save_scores,
    write_outputs,
    write_report,
    write_submission,
)
from pymg.engine.export import export_recognizer, load_program, read_metadata
from pymg.engine.inference import Prediction, Recognizer
from pymg.engine.metrics import (
    confusion_matrix,
    mean_class_accuracy,
    per_class_accuracy,
    plot_confusion,
    summarize,
    topk_accuracy,
)
from pymg.engine.segments import Segment, SegmentParams
from pymg.engine.trainer import LRSchedule, seed_everything, train
from pymg.models.fusion import fuse_scores  # the one definition, re-exported

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "DetectConfig",
    "Detector",
    "LRSchedule",
    "LossConfig",
    "ModelConfig",
    "OnlineDetector",
    "OptimConfig",
    "Prediction",
    "Recognizer",
    "RuntimeConfig",
    "ScheduleConfig",
    "ScoreSet",
    "Segment",
    "SegmentParams",
    "TestConfig",
    "WindowParams",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "config_to_toml",
    "confusion_matrix",
    "evaluate_detections",
    "export_recognizer",
    "fuse_score_files",
    "fuse_scores",
    "list_configs",
    "load_checkpoint",
    "load_config",
    "load_program",
    "load_scores",
    "mean_class_accuracy",
    "per_class_accuracy",
    "plot_confusion",
    "predict_batch",
    "predict_dataset",
    "read_metadata",
    "save_checkpoint",
    "save_scores",
    "seed_everything",
    "summarize",
    "topk_accuracy",
    "train",
    "write_outputs",
    "write_report",
    "write_submission",
]
