"""The ``pymg`` command (console script; also ``python -m pymg``).

Subcommands: ``demo``, ``prepare``, ``train``, ``test``, ``fuse``, ``bench``, ``viz``, ``info``,
``configs``, ``import``, ``ablate``. Errors reach the user as one line on stderr with exit code
2; ``--debug`` re-raises them with the full traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymg._version import __version__

__all__ = ["build_parser", "main"]


class CLIError(Exception):
    """A user-facing error of the command line (bad argument combination...)."""


# ----------------------------------------------------------------------------- commands
def _cmd_demo(args: argparse.Namespace) -> int:
    from pymg.engine.demo import run_demo

    run_demo(
        work_dir=args.work_dir,
        epochs=args.epochs,
        clips=args.clips,
        quick=args.quick,
        seed=args.seed,
        threads=args.threads,
    )
    return 0


def _overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.set or [])
    if getattr(args, "work_dir", None):
        out.append(f"runtime.work_dir={json.dumps(str(args.work_dir))}")
    if getattr(args, "device", None):
        out.append(f"runtime.device={args.device}")
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    from pymg.engine import load_config, train

    extra = ["log.tensorboard=true"] if args.tensorboard else []
    cfg = load_config(args.config, [*_overrides(args), *extra])
    resume: str | bool | None = None
    if args.resume is not None:
        resume = True if args.resume == "auto" else args.resume
    result = train(
        cfg, resume=resume, final_test=not args.no_test, finetune_head=args.finetune_head
    )
    if os.environ.get("RANK", "0") == "0":  # torchrun: only rank 0 speaks
        print(f"work dir: {result['work_dir']}")
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    from pymg.engine.testing import run_test

    run_test(
        args.checkpoint,
        data=args.data,
        split=args.split,
        num_clips=args.clips,
        flip=None if args.flip is None else args.flip == "on",
        out_dir=args.out,
        overrides=list(args.set or []),
        device=args.device,
    )
    return 0


def _cmd_fuse(args: argparse.Namespace) -> int:
    from pymg.engine.evaluate import fuse_score_files, save_scores, write_report, write_submission

    if args.weights is not None and len(args.weights) != len(args.scores):
        raise CLIError(
            f"--weights got {len(args.weights)} values for {len(args.scores)} score files"
        )
    fused = fuse_score_files(args.scores, args.weights)
    out = Path(args.out)
    save_scores(fused, out / "fused_scores.npz")
    write_submission(fused, out / "fused_predictions.csv")
    print(f"fused scores: {out / 'fused_scores.npz'}")
    print(f"submission:   {out / 'fused_predictions.csv'}")
    if fused.has_labels:
        metrics = write_report(fused, out, prefix="fused_", png=not args.no_png)
        print(_metrics_line("fused", metrics))
    return 0


def _metrics_line(name: str, metrics: dict[str, Any]) -> str:
    return (
        f"{name}: top1 {100 * metrics['top1']:.2f}%  top5 {100 * metrics['top5']:.2f}%  "
        f"mean class acc {100 * metrics['mean_class_accuracy']:.2f}%  "
        f"({metrics['num_samples']} clips)"
    )


def _train_subjects(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    from pymg.data.splits import read_id_list

    items = read_id_list(text) if Path(text).is_file() else [t for t in text.split(",") if t]
    try:
        return tuple(int(t) for t in items)
    except ValueError:
        raise CLIError(
            f"--train-subjects takes comma-separated subject ids or a file of them, got {text!r}"
        ) from None


def _cmd_prepare(args: argparse.Namespace) -> int:
    from pymg.data import prepare_pyskl, prepare_release
    from pymg.data.splits import IMIGUE_TRAIN_SUBJECTS

    source = Path(args.input)
    on_error = "skip" if args.skip_bad else "raise"
    if source.is_file() and source.suffix.lower() in (".pkl", ".pickle"):
        raw_only = [
            flag
            for flag, value in (
                ("--split-file", args.split_file),
                ("--subjects", args.subjects),
                ("--train-subjects", args.train_subjects),
                ("--img-shape", args.img_shape),
            )
            if value
        ]
        if raw_only:
            raise CLIError(f"{', '.join(raw_only)} apply to raw release folders, not to pickles")
        # a PYSKL file keeps its own layout and splits unless --layout asks for a conversion
        report = prepare_pyskl(
            source,
            args.out,
            layout=args.layout,
            on_error=on_error,
            trim_padding=not args.keep_padding,
        )
        splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
        print(
            f"wrote {report['path']}: {report['clips']} clips ({splits or 'no splits'}), "
            f"layout {report['layout']}, skipped {report['skipped']}"
        )
        return 0
    if not source.is_dir():
        raise CLIError(f"input must be a release folder or a PYSKL .pkl file, got {source}")
    train_subjects = _train_subjects(args.train_subjects)
    if train_subjects is not None and args.subjects is None:
        raise CLIError("--train-subjects needs --subjects FILE (the video -> subject table)")
    report = prepare_release(
        source,
        args.out,
        layout=args.layout or "imigue41",
        split_files=args.split_file,
        split_rest=args.split_rest,
        subjects=args.subjects,
        train_subjects=train_subjects or IMIGUE_TRAIN_SUBJECTS,
        img_shape=tuple(args.img_shape or (720, 1280)),
        hand_order=args.hand_order,
        frame_base=args.frame_base,
        on_error=on_error,
        progress=sys.stderr.isatty(),
        echo=lambda line: print(line, file=sys.stderr),
    )
    splits = ", ".join(f"{name} {row['clips']}" for name, row in report["splits"].items())
    print(
        f"wrote {report['path']}: {report['videos']} videos, {report['clips']} clips, "
        f"layout {report['layout']}, splits by {report['split_rule']} ({splits}), "
        f"skipped {report['skipped']}"
    )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    try:
        from pymg.ops.timing import benchmark_heatmaps, format_table
    except ImportError as exc:
        raise CLIError(f"the heatmap benchmark is not available in this build ({exc})") from exc
    kwargs: dict[str, Any] = {
        "layouts": args.layouts,
        "kinds": args.kinds,
        "batch_size": args.batch_size,
        "clip_len": args.clip_len,
        "size": args.size,
        "repeats": args.repeats,
    }
    if args.backends is not None:
        kwargs["backends"] = args.backends
    if args.quick:
        kwargs.update(layouts=["imigue41"], batch_size=2, clip_len=8, repeats=1)
        kwargs.setdefault("backends", ["torch", "native", "cuda"])
    print(format_table(benchmark_heatmaps(**kwargs)))
    return 0


def _cmd_viz(args: argparse.Namespace) -> int:
    from pymg.engine.visualize import visualize_clip

    out = visualize_clip(
        args.data,
        kind=args.kind,
        index=args.index,
        split=args.split,
        layout=args.layout,
        out=args.out,
        size=args.size,
    )
    print(f"wrote {out}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    import pymg

    build_info = getattr(pymg, "build_info", None)
    info: dict[str, Any] = build_info() if build_info is not None else {"version": __version__}
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from pymg.engine.ablate import run_ablations

    run_ablations(
        args.out,
        data=args.data,
        quick=args.quick,
        seeds=args.seeds,
        cells=args.cells,
        embeddings=args.embeddings,
        overrides=list(args.set or []),
        command="pymg " + " ".join(args.argv),
    )
    return 0


def _cmd_configs(args: argparse.Namespace) -> int:
    from pymg.engine.config import config_to_toml, list_configs, load_config

    if args.name is None:
        for name in list_configs():
            print(name)
    else:
        print(config_to_toml(load_config(args.name, list(args.set or []))), end="")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from pymg.engine.importing import import_pyskl

    result = import_pyskl(
        args.config, args.checkpoint, args.out, class_names=args.class_names, layout=args.layout
    )
    print(
        f"wrote {result['path']}: {result['family']}, layout {result['layout']}, "
        f"{result['num_classes']} classes ({result['convention']} checkpoint)"
    )
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- parser
def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=0.05 (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``pymg`` command."""
    parser = argparse.ArgumentParser(
        prog="pymg",
        description="Skeleton-based micro-gesture recognition (PoseC3D / ST-GCN).",
    )
    parser.add_argument("--version", action="version", version=f"pymg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="train + test a small PoseC3D on synthetic data (CPU, 1-6 min)")
    p.add_argument("--work-dir", default="pymg-demo", help="output folder (default ./pymg-demo)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--clips", type=int, default=None, help="number of synthetic clips")
    p.add_argument("--quick", action="store_true", help="tiny settings for CI (seconds)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "prepare",
        help="a raw MiGA/iMiGUE release (or a PYSKL .pkl) -> one dataset file (.npz)",
        description="Convert a raw release folder (<video>_openpose.xlsx, "
        "<NNNN>/<NNNN>_light_hand.csv or OpenPose JSON folders, with <video>_label.csv) or a "
        "PYSKL pickle into pymg's .npz. The split comes from the release's train/validate/test "
        "folders, or --split-file, or --subjects; pymg never guesses it.",
    )
    p.add_argument("input", help="release folder, or a PYSKL .pkl to convert")
    p.add_argument("--out", required=True, help="output dataset file (.npz)")
    p.add_argument(
        "--layout",
        default=None,
        help="joint layout to store (release folders: default imigue41; 'openpose137' keeps "
        "all points; PYSKL .pkl files: default keeps the file's own layout)",
    )
    p.add_argument(
        "--split-file",
        action="append",
        metavar="[NAME=]FILE",
        help="video or clip ids of split NAME (comma/space/line separated, e.g. "
        "test=test_id.txt), or a JSON {split: [ids]} file; repeatable",
    )
    p.add_argument(
        "--split-rest", metavar="NAME", default=None,
        help="put clips that no --split-file names into split NAME (default: no split)",
    )  # fmt: skip
    p.add_argument(
        "--subjects", metavar="FILE", default=None,
        help="CSV of video,subject rows: cross-subject split (train = --train-subjects)",
    )  # fmt: skip
    p.add_argument(
        "--train-subjects", metavar="IDS", default=None,
        help="training subject ids, comma-separated or a file (default: iMiGUE's 37)",
    )  # fmt: skip
    p.add_argument(
        "--img-shape", type=int, nargs=2, metavar=("H", "W"), default=None,
        help="video size in pixels (default 720 1280); points well outside it are reported",
    )  # fmt: skip
    p.add_argument(
        "--hand-order", choices=["right_left", "left_right"], default="right_left",
        help="fingertip order in _light_hand.csv files (default right_left, the release's)",
    )  # fmt: skip
    p.add_argument(
        "--frame-base",
        type=int,
        default=0,
        choices=[0, 1],
        help="number of the first frame in the label CSVs (default 0)",
    )
    p.add_argument(
        "--keep-padding", action="store_true",
        help="PYSKL pickles: keep trailing all-zero frames (default: trim that padding)",
    )  # fmt: skip
    p.add_argument(
        "--skip-bad", action="store_true",
        help="skip malformed videos, files and rows (each named in the report) instead of "
        "stopping at the first",
    )  # fmt: skip
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("train", help="train a model from a config (torchrun-compatible)")
    p.add_argument("config", help="config name (see `pymg configs`) or path to a .toml")
    _add_set(p)
    p.add_argument("--work-dir", default=None, help="override runtime.work_dir")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="CHECKPOINT",
        help="continue from CHECKPOINT (default: <work_dir>/latest.pt)",
    )
    p.add_argument("--no-test", action="store_true", help="skip the final multi-clip test")
    p.add_argument(
        "--finetune-head",
        default=None,
        metavar="CHECKPOINT",
        help="classifier re-training (cRT): start from CHECKPOINT, re-initialise the head and "
        "train only it, backbone frozen, class-balanced sampling",
    )
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard curves to <work_dir>/tensorboard (log.tensorboard = true)",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("test", help="evaluate a checkpoint; writes scores, metrics, submission")
    p.add_argument("checkpoint", help="a pymg checkpoint (best.pt / latest.pt)")
    p.add_argument("--data", default=None, help="dataset file (default: the training config's)")
    p.add_argument("--split", default=None, help="split to test (default: data.test_split)")
    p.add_argument("--clips", type=int, default=None, help="temporal views per clip")
    p.add_argument("--flip", choices=["on", "off"], default=None, help="flip test views")
    p.add_argument("--out", default=None, help="output folder (default: next to the checkpoint)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    _add_set(p)
    p.set_defaults(func=_cmd_test)

    p = sub.add_parser("fuse", help="fuse score files (e.g. joint + limb), default weights 1:1")
    p.add_argument("scores", nargs="+", help="score files (.npz) written by `pymg test`")
    p.add_argument("--weights", type=float, nargs="+", default=None, help="one weight per file")
    p.add_argument("--out", default=".", help="output folder (default: current folder)")
    p.add_argument("--no-png", action="store_true", help="skip the confusion-matrix picture")
    p.set_defaults(func=_cmd_fuse)

    p = sub.add_parser("bench", help="time the heatmap kernels (numpy/torch/native/cuda)")
    p.add_argument("--layouts", nargs="+", default=["coco17", "imigue41"], help="layouts")
    p.add_argument("--kinds", nargs="+", choices=["joint", "limb"], default=["joint", "limb"])
    p.add_argument("--batch-size", type=int, default=32, help="clips per batch (default 32)")
    p.add_argument("--clip-len", type=int, default=48, help="frames per clip (default 48)")
    p.add_argument("--size", type=int, default=56, help="heatmap side (default 56)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per case (default 3)")
    p.add_argument(
        "--backends",
        nargs="+",
        default=None,
        choices=["numpy", "torch", "native", "cuda", "fill"],
        help="backends to time (default torch native cuda fill)",
    )
    p.add_argument("--quick", action="store_true", help="one tiny case per backend (seconds)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("viz", help="draw a clip's skeleton or heatmap volume to a PNG")
    p.add_argument("kind", choices=["skeleton", "heatmap"], help="what to draw")
    p.add_argument("data", help="dataset file (.pkl / .npz) or 'synthetic'")
    p.add_argument("--index", type=int, default=0, help="clip index within the split")
    p.add_argument("--split", default=None, help="split name (default: all clips)")
    p.add_argument("--layout", default="imigue41", help="joint layout (default imigue41)")
    p.add_argument("--size", type=int, default=64, help="heatmap size in pixels (default 64)")
    p.add_argument("--out", default=None, help="output PNG (default <kind>_<index>.png)")
    p.set_defaults(func=_cmd_viz)

    p = sub.add_parser("ablate", help="the paper's ablation grid over seeds -> ablations.json/.md")
    p.add_argument("--data", default=None, help="dataset file (default: iMiGUE-like synthetic)")
    p.add_argument("--quick", action="store_true", help="CPU sizes (2 cores, ~15 min)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (quick 2, else 3)")
    p.add_argument("--cells", nargs="+", default=None, help="run only these cells (names)")
    p.add_argument("--embeddings", default="imigue", help="label table of the semantic cells")
    p.add_argument("--out", required=True, help="output folder")
    _add_set(p)
    p.set_defaults(func=_cmd_ablate)

    p = sub.add_parser("info", help="build information: version, native kernels, CUDA, OpenMP")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("import", help="PYSKL/mmaction2 config + checkpoint -> pymg checkpoint")
    p.add_argument("config", help="PYSKL or mmaction2 .py config (read, never executed)")
    p.add_argument("checkpoint", help="its .pth checkpoint (PYSKL or mmaction2 1.x keys)")
    p.add_argument("--out", required=True, help="pymg checkpoint to write (e.g. model.pt)")
    p.add_argument("--class-names", default=None, help="text file, one class name per line")
    p.add_argument("--layout", default=None, help="pymg layout (PoseC3D configs name none)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("configs", help="list shipped configs, or print one as TOML")
    p.add_argument("name", nargs="?", default=None, help="config to print")
    _add_set(p)
    p.set_defaults(func=_cmd_configs)
    for subparser in sub.choices.values():  # `pymg train ... --debug` works too
        subparser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    if isinstance(exc, OSError) and exc.filename and message.startswith("[Errno"):
        message = f"{exc.strerror}: {exc.filename}"
    from pymg.engine.config import ConfigError

    user_errors = (
        CLIError,
        ConfigError,
        ValueError,
        TypeError,
        OSError,
        ImportError,
        KeyError,
        FloatingPointError,
    )
    if isinstance(exc, KeyError):
        message = f"missing key {message}"
    if not isinstance(exc, user_errors) or not message:
        message = f"{type(exc).__name__}: {message} (run with --debug for the traceback)"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pymg`` command; returns the exit code (0 ok, 2 error, 130 interrupted)."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    args.argv = words  # the command line as given, for records such as `pymg ablate`'s
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("pymg: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"pymg {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
