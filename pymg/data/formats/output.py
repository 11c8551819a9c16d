"""Writing dataset files: the output path is checked before any work, and the write is atomic.

:func:`check_output_file` refuses an output that names an existing directory (before a long
conversion starts, not after it); :func:`write_atomically` writes ``<path>.tmp`` and renames it,
removing the temporary file whatever goes wrong (a full disk, an interruption), so no ``.tmp``
file is left behind and a previous file of that name stays as it was.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["check_output_file", "write_atomically"]


def check_output_file(path: str | os.PathLike[str], what: str = "output") -> str:
    """``path`` as a string after checking it can name a file to write.

    Raises:
        IsADirectoryError: ``path`` is an existing directory (the message names it and
            suggests a file inside it).
    """
    target = os.fspath(path)
    if os.path.isdir(target):
        hint = os.path.join(target, "data.npz")
        raise IsADirectoryError(
            errno.EISDIR,
            f"the {what} names an existing directory (give a file path such as {hint})",
            target,
        )
    return target


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> str:
    """Call ``write(handle)`` on ``<path>.tmp``, then rename it to ``path``; returns ``path``.

    Missing parent folders are created. On any failure the temporary file is removed; an
    OSError names the file (e.g. "No space left on device while writing ...").
    """
    target = check_output_file(path)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    tmp = target + ".tmp"
    try:
        with open(tmp, "wb") as handle:
            write(handle)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
            raise OSError(exc.errno, f"{exc.strerror} while writing {target}", target) from exc
        raise
    return target
