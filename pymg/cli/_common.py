"""What the command modules share: the user-error type, ``--set``, the one-line error text and
the handler that shows the library's log lines."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CLIError",
    "HelpFormatter",
    "add_set",
    "log_to_stderr",
    "metrics_line",
    "one_line",
    "overrides",
    "plural",
]

LOGGER = logging.getLogger("pymg")


class _Lines(logging.Formatter):
    """Info lines as they are; warnings and errors prefixed with ``warning:`` / ``error:``."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        return text


@contextlib.contextmanager
def log_to_stderr(level: int = logging.INFO) -> Iterator[None]:
    """Show the ``pymg`` logger's records (and Python warnings) on stderr while the command runs.

    The handler writes to the ``sys.stderr`` of the moment it is installed and is removed on
    exit, so ``main`` can be called many times in one process (tests, notebooks).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Lines())
    previous_level, previous_propagate = LOGGER.level, LOGGER.propagate
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False
    show = warnings.showwarning

    def _warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        LOGGER.warning(str(message))

    warnings.showwarning = _warning
    try:
        yield
    finally:
        warnings.showwarning = show
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(previous_level)
        LOGGER.propagate = previous_propagate


def plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"3 epochs"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but an ``examples:`` epilog keeps its lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:") or text.startswith("example:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class CLIError(Exception):
    """A user-facing error of the command line (bad argument combination...)."""


def add_set(p: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--set section.key=value`` option to ``p``."""
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=0.05 (repeatable)",
    )


def overrides(args: argparse.Namespace) -> list[str]:
    """The ``--set`` values plus ``--work-dir`` / ``--device`` as config overrides."""
    out = list(args.set or [])
    if getattr(args, "work_dir", None):
        out.append(f"runtime.work_dir={json.dumps(str(args.work_dir))}")
    if getattr(args, "device", None):
        out.append(f"runtime.device={args.device}")
    return out


def metrics_line(name: str, metrics: dict[str, Any]) -> str:
    """``name: top1 ..% top5 ..% mean class acc ..% (N clips)`` for a metrics dict."""
    return (
        f"{name}: top1 {100 * metrics['top1']:.2f}%  top5 {100 * metrics['top5']:.2f}%  "
        f"mean class acc {100 * metrics['mean_class_accuracy']:.2f}%  "
        f"({metrics['num_samples']} clips)"
    )


def one_line(exc: BaseException) -> str:
    """The message a user sees for ``exc``: its first line; the type name for unexpected ones."""
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
