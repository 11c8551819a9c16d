"""The one memory cap of pymg, and the one check that applies it.

Readers size their arrays from the files they read and the public ops size their outputs from
their arguments; both ask :func:`check_nbytes` first, so a tiny hostile file or a typo such as
``size=(100000, 100000)`` fails with an error that names the file or argument, the bytes asked
and the limit, instead of a bare ``MemoryError`` or the allocator aborting the process.

The cap is :data:`DEFAULT_MAX_ARRAY_BYTES` (2 GiB), overridden by the ``PYMG_MAX_ARRAY_BYTES``
environment variable or, where a function offers it, its ``max_array_bytes=`` argument. It holds
for one array *and* for the total a reader allocates for one file. This module imports nothing
from pymg (and neither torch), so every layer can use it.
"""

from __future__ import annotations

import os
import re
from numbers import Integral
from typing import Any

__all__ = [
    "DEFAULT_MAX_ARRAY_BYTES",
    "MAX_ARRAY_BYTES_ENV",
    "SizeLimitError",
    "check_nbytes",
    "resolve_max_array_bytes",
]

DEFAULT_MAX_ARRAY_BYTES = 2 * 1024**3
"""Default cap on the bytes of one array, and on the total one file may make a reader allocate."""

MAX_ARRAY_BYTES_ENV = "PYMG_MAX_ARRAY_BYTES"
"""Environment variable that overrides :data:`DEFAULT_MAX_ARRAY_BYTES` (bytes; suffixes K, M, G,
T are binary multiples, e.g. ``8G``)."""

_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def resolve_max_array_bytes(value: int | None = None) -> int:
    """The cap in bytes: ``value`` if given, else ``$PYMG_MAX_ARRAY_BYTES``, else
    :data:`DEFAULT_MAX_ARRAY_BYTES`.

    Raises:
        ValueError: ``value`` is not a positive int, or the environment variable is not a size
            such as ``4294967296``, ``4G`` or ``512MiB``.
    """
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
            raise ValueError(f"max_array_bytes must be a positive int, got {value!r}")
        return int(value)
    text = os.environ.get(MAX_ARRAY_BYTES_ENV)
    if text is None or not text.strip():
        return DEFAULT_MAX_ARRAY_BYTES
    match = _SIZE.fullmatch(text)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(
            f"{MAX_ARRAY_BYTES_ENV}={text!r}: expected a positive size in bytes such as "
            "4294967296, 4G or 512MiB"
        )
    return int(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " ")


class SizeLimitError(ValueError):
    """Something would need more bytes than the cap allows; raised before allocating.

    Attributes:
        source: the file or argument; member: what within it (an array, a sheet, the total);
        nbytes: bytes it would need; limit: the cap in force.
    """

    def __init__(self, source: str, member: str, nbytes: int, limit: int) -> None:
        super().__init__(
            f"{source}: {member} needs {nbytes} bytes ({nbytes / 2**30:.3g} GiB), over the cap of "
            f"{limit} bytes (raise it with max_array_bytes=... or the {MAX_ARRAY_BYTES_ENV} "
            "environment variable if the input is trusted)"
        )
        self.source = source
        self.member = member
        self.nbytes = nbytes
        self.limit = limit


def check_nbytes(
    source: str,
    member: str,
    nbytes: int,
    limit: int | None = None,
    *,
    error: Any = SizeLimitError,
) -> int:
    """Return ``nbytes`` if it is at most the cap, else raise ``error`` (a SizeLimitError class).

    Args:
        source: the file or argument named in the message (``"a.csv"``, ``"size"``).
        member: what needs the bytes (``"keypoint [1, 40, 137, 2] float32"``).
        nbytes: the bytes it would need (a Python int: no overflow).
        limit: the cap; None resolves it (:func:`resolve_max_array_bytes`).
        error: the exception class to raise (a subclass of :class:`SizeLimitError`).
    """
    cap = resolve_max_array_bytes() if limit is None else limit
    if nbytes > cap:
        raise error(source, member, int(nbytes), cap)
    return nbytes
