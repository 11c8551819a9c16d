"""``pymg prepare``: a raw MiGA/iMiGUE release (or a PYSKL pickle) -> one dataset file (.npz)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pymg.cli._common import CLIError, HelpFormatter

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``prepare`` sub-parser to ``sub``."""
    p = sub.add_parser(
        "prepare",
        help="a raw MiGA/iMiGUE release (or a PYSKL .pkl) -> one dataset file (.npz)",
        description="Convert a raw release folder (<video>_openpose.xlsx, "
        "<NNNN>/<NNNN>_light_hand.csv or OpenPose JSON folders, with <video>_label.csv) or a "
        "PYSKL pickle into pymg's .npz, which records its joint layout. The split comes from the "
        "release's train/validate/test folders, or --split-file, or --subjects; pymg never "
        "guesses it. A per-split table and every problem worked around go to stderr.",
        epilog="examples:\n"
        "  pymg prepare imigue_skeleton/ --out data/imigue22.npz --layout imigue22\n"
        "  pymg prepare miga_release/ --out data/miga.npz --split-file test=test_id.txt "
        "--split-rest train\n"
        "  pymg prepare imigue_skeleton/ --out data/xsub.npz --subjects subjects.csv\n"
        "  pymg prepare miga23.pkl --out data/miga23.npz --source-layout imigue22",
        formatter_class=HelpFormatter,
    )
    p.add_argument("input", help="release folder, or a PYSKL .pkl to convert")
    p.add_argument("--out", required=True, help="output dataset file (.npz; folders are created)")
    p.add_argument(
        "--layout",
        default=None,
        help="joint layout to store (release folders: default the richest iMiGUE layout the "
        "files carry, imigue41 or imigue22; 'openpose137' keeps all points; PYSKL .pkl files: "
        "default keeps the file's own joints)",
    )
    p.add_argument(
        "--source-layout",
        default=None,
        help="PYSKL .pkl files: the layout of the stored joints (default: inferred from their "
        "number, e.g. 22 -> imigue22; needed for 17 joints: coco17 or coco17_pyskl)",
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
        help="training subject ids, comma-separated or a file (default: iMiGUE's 37 training "
        "subjects)",
    )  # fmt: skip
    p.add_argument(
        "--img-shape", type=int, nargs=2, metavar=("H", "W"), default=None,
        help="video size in pixels (default: iMiGUE's 720 1280); points well outside it are "
        "reported",
    )  # fmt: skip
    p.add_argument(
        "--hand-order", choices=["right_left", "left_right"], default="right_left",
        help="fingertip order in _light_hand.csv files (default right_left, the release's)",
    )  # fmt: skip
    p.add_argument(
        "--frame-base",
        type=int,
        default=None,
        choices=[0, 1],
        help="number of the first frame in the label CSVs (default 0; SMG's finelabels 1)",
    )
    _add_source_options(p)
    p.set_defaults(func=run)
    return p


def _add_source_options(p: argparse.ArgumentParser) -> None:
    """Options that pick what is read and how: whole videos, mmpose predictions, SMG's pixel
    pair, PYSKL padding, malformed input skipped."""
    p.add_argument(
        "--untrimmed", action="store_true",
        help="keep whole videos with their label rows as segments (for detection), "
        "not clips; reads SMG's SampleNNNN_skeleton.csv too",
    )  # fmt: skip
    p.add_argument(
        "--mmpose", action="store_true",
        help="also read <video>.json files written by mmpose's inferencer (COCO-WholeBody)",
    )  # fmt: skip
    p.add_argument(
        "--pixel", choices=["auto", "first", "second"], default="auto",
        help="SMG: which pixel pair of a joint is its colour-image position (default auto)",
    )  # fmt: skip
    p.add_argument(
        "--keep-padding", action="store_true",
        help="PYSKL pickles: keep trailing all-zero frames (default: trim that padding)",
    )  # fmt: skip
    p.add_argument(
        "--skip-bad", action="store_true",
        help="skip malformed videos, files and rows (each named in the report) instead of "
        "stopping at the first",
    )  # fmt: skip


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


def _run_pickle(args: argparse.Namespace, source: Path, on_error: str) -> int:
    from pymg.data import prepare_pyskl

    raw_only = [
        flag
        for flag, value in (
            ("--split-file", args.split_file),
            ("--subjects", args.subjects),
            ("--train-subjects", args.train_subjects),
            ("--img-shape", args.img_shape),
            ("--split-rest", args.split_rest),
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
        source_layout=args.source_layout,
        on_error=on_error,
        trim_padding=not args.keep_padding,
    )
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    print(
        f"wrote {report['path']}: {report['clips']} clips ({splits or 'no splits'}), "
        f"layout {report['layout']}, skipped {report['skipped']}"
    )
    return 0


def _run_untrimmed(
    args: argparse.Namespace, source: Path, on_error: str, given: dict[str, Any]
) -> int:
    from pymg.data import prepare_untrimmed

    report = prepare_untrimmed(
        source, args.out, layout=args.layout, split_files=args.split_file,
        split_rest=args.split_rest, subjects=args.subjects, hand_order=args.hand_order,
        frame_base=args.frame_base, on_error=on_error, progress=sys.stderr.isatty(),
        mmpose=args.mmpose, pixel=args.pixel, **given,
    )  # fmt: skip
    splits = ", ".join(f"{name} {row['videos']}" for name, row in report["splits"].items())
    print(
        f"wrote {report['path']}: {report['videos']} whole videos, {report['segments']} "
        f"segments, layout {report['layout']}, splits by {report['split_rule']} ({splits}), "
        f"skipped {report['skipped']}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Convert the release folder or pickle named by ``args.input``; print what was written."""
    from pymg.data import prepare_release

    source = Path(args.input)
    on_error = "skip" if args.skip_bad else "raise"
    if source.is_file() and source.suffix.lower() in (".pkl", ".pickle"):
        return _run_pickle(args, source, on_error)
    if not source.is_dir():
        raise CLIError(f"input must be a release folder or a PYSKL .pkl file, got {source}")
    if args.source_layout is not None:
        raise CLIError("--source-layout applies to PYSKL pickles; a release's readers know theirs")
    train_subjects = _train_subjects(args.train_subjects)
    if train_subjects is not None and args.subjects is None:
        raise CLIError("--train-subjects needs --subjects FILE (the video -> subject table)")
    given: dict[str, Any] = {}  # unset options keep the library's defaults
    if train_subjects is not None:
        given["train_subjects"] = train_subjects
    if args.img_shape is not None:
        given["img_shape"] = tuple(args.img_shape)
    if args.untrimmed:
        return _run_untrimmed(args, source, on_error, given)
    report = prepare_release(
        source,
        args.out,
        layout=args.layout,
        split_files=args.split_file,
        split_rest=args.split_rest,
        subjects=args.subjects,
        hand_order=args.hand_order,
        frame_base=args.frame_base or 0,
        on_error=on_error,
        progress=sys.stderr.isatty(),
        mmpose=args.mmpose,
        **given,
    )
    splits = ", ".join(f"{name} {row['clips']}" for name, row in report["splits"].items())
    print(
        f"wrote {report['path']}: {report['videos']} videos, {report['clips']} clips, "
        f"layout {report['layout']}, splits by {report['split_rule']} ({splits}), "
        f"skipped {report['skipped']}"
    )
    return 0
