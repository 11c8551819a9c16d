"""Checks of scalar arguments shared by every layer (one helper per kind; no torch import).

:func:`check_int` is the one int check of pymg: the public ops, datasets, transforms and engine
functions call it where a value comes from outside. Its message names the argument, what was
expected and the value (``size must be a positive int, got 0``). Memory caps live beside it in
:mod:`pymg.limits` (:func:`~pymg.limits.check_nbytes`).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

__all__ = ["ArgumentTypeError", "check_int", "describe"]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type. A ``TypeError``, and a ``ValueError`` too, so callers that
    catch bad values (a config loader, a command) catch it with them."""


def describe(value: Any) -> str:
    """A short description of a value for messages (a tensor by dtype, shape and device)."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype") and hasattr(value, "device"):
        return f"a {value.dtype} tensor of shape {tuple(shape)} on {value.device}"
    return f"{type(value).__name__} {value!r}"


def check_int(
    value: Any, name: str, *, minimum: int, none_ok: bool = False, expected: str | None = None
) -> Any:
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum`` (None if ``none_ok``).

    numpy and other :class:`numbers.Integral` integers are accepted; ``bool`` is not. The message
    says ``{name} must be {expected}, got {value!r}``, ``expected`` being ``"an int >= {minimum}"``
    (``" or None"`` added when ``none_ok``) unless the caller words it (``"a positive int"``).

    Raises:
        ArgumentTypeError: not an integer.
        ValueError: below ``minimum``.
    """
    if value is None and none_ok:
        return None
    if expected is None:
        expected = f"an int >= {minimum}" + (" or None" if none_ok else "")
    if isinstance(value, bool) or not isinstance(value, Integral):
        shown = describe(value) if hasattr(value, "shape") else repr(value)
        raise ArgumentTypeError(f"{name} must be {expected}, got {shown}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)
