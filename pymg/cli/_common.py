"""What the command modules share: the user-error type, ``--set`` and the one-line error text."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["CLIError", "add_set", "metrics_line", "one_line", "overrides"]


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
