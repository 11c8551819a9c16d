"""The ``pymg`` command (console script; also ``python -m pymg``): a package of commands.

Each command is one module here, ``pymg/cli/<command>.py``, holding its parser beside its handler:
``register(sub)`` adds the sub-parser (arguments, help, ``func=run``) and ``run(args)`` calls the
library and prints. :data:`COMMANDS` lists the modules in help order. The library speaks only
through the ``pymg`` logger; while a command runs, its records (and Python warnings) are shown on
stderr, results go to stdout. Errors reach the user as one line on stderr with exit code 2;
``--debug`` re-raises them with the full traceback; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pymg._version import __version__
from pymg.cli._common import CLIError, log_to_stderr, one_line

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]

#: command modules of ``pymg/cli/``, in the order ``pymg --help`` lists them
COMMANDS: tuple[str, ...] = (
    "demo",
    "prepare",
    "train",
    "test",
    "detect",
    "fuse",
    "evaluate_detections",
    "export",
    "bench",
    "viz",
    "ablate",
    "info",
    "import_checkpoint",
    "configs",
)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``pymg`` command: one sub-parser per module of COMMANDS."""
    parser = argparse.ArgumentParser(
        prog="pymg",
        description="Skeleton-based micro-gesture recognition (PoseC3D / ST-GCN).",
    )
    parser.add_argument("--version", action="version", version=f"pymg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"pymg.cli.{name}")
        p = module.register(sub)
        # `pymg train ... --debug` works too
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


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
        with log_to_stderr():
            return int(args.func(args))
    except KeyboardInterrupt:
        print("pymg: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"pymg {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
