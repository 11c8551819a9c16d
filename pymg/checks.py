"""Checks of arguments shared by every layer (one helper per kind; no torch import).

:func:`check_int` is the one int check of pymg: the public ops, datasets, transforms, models and
engine functions call it where a value comes from outside. Its message names the argument, what
was expected and the value (``size must be a positive int, got 0``). :func:`check_index` is the
one item-index check of pymg's sequences (datasets, clip files, synthetic data),
:func:`check_keypoint_shape` and :func:`check_score_shape` the one shape check of keypoints and
their scores wherever they come from outside. Memory caps live beside them in
:mod:`pymg.limits` (:func:`~pymg.limits.check_nbytes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

__all__ = [
    "ArgumentTypeError",
    "check_index",
    "check_int",
    "check_keypoint_shape",
    "check_score_shape",
    "describe",
]


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


def check_index(
    index: Any,
    length: int,
    *,
    name: str = "index",
    negative: bool = True,
    expected: str = "an int",
    what: str = "clips",
) -> int:
    """Return ``index`` as an int in ``[0, length)``; a negative one counts from the end when
    ``negative`` (as Python sequences do).

    The messages are ``{name} must be {expected}, got {type}`` and ``{name} {index} out of range
    for {length} {what}``.

    Raises:
        ArgumentTypeError: not an integer (``bool`` included).
        IndexError: outside ``[-length, length)`` (``[0, length)`` unless ``negative``).
    """
    if isinstance(index, bool) or not isinstance(index, Integral):
        raise ArgumentTypeError(f"{name} must be {expected}, got {type(index).__name__}")
    i = int(index)
    if negative and i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"{name} {index} out of range for {length} {what}")
    return i


def _axes(batched: bool) -> str:
    return "N, M, T, V" if batched else "M, T, V"


def check_keypoint_shape(
    shape: Sequence[Any],
    name: str = "keypoint",
    *,
    batched: bool = False,
    channels: Sequence[int] = (2,),
) -> tuple[Any, ...]:
    """The one shape check of keypoints: ``[M, T, V, C]`` for one clip, ``[N, M, T, V, C]`` when
    ``batched``, C one of ``channels``; returns the shape without C.

    Used by every layer that takes keypoints from outside: the clip check of the readers and
    datasets, :func:`pymg.data.collate`, the models' batch check, ``Recognizer.predict`` and the
    public ops. Only shapes are read (no values, no torch import), so the ops' symbolic shapes
    under ``torch.compile`` stay symbolic.

    Raises:
        ValueError: ``{name} must have shape [M, T, V, 2], got [...]`` (``(or [..., 3])`` added
            for each further allowed C).
    """
    if len(shape) != (5 if batched else 4) or shape[-1] not in channels:
        also = "".join(f" (or [..., {c}])" for c in channels[1:])
        got = [int(d) for d in shape]
        raise ValueError(
            f"{name} must have shape [{_axes(batched)}, {channels[0]}]{also}, got {got}"
        )
    return tuple(shape[:-1])


def check_score_shape(
    shape: Sequence[Any],
    keypoint_shape: Sequence[Any],
    name: str = "keypoint_score",
    *,
    batched: bool = False,
) -> None:
    """The one shape check of keypoint scores: ``keypoint_shape`` without its last axis
    (``[M, T, V]``, or ``[N, M, T, V]`` when ``batched``).

    Raises:
        ValueError: ``{name} must have shape [M, T, V] = [...] to match the keypoints, got [...]``.
    """
    expected = tuple(keypoint_shape[:-1])
    if tuple(shape) != expected:
        raise ValueError(
            f"{name} must have shape [{_axes(batched)}] = {[int(d) for d in expected]} to match "
            f"the keypoints, got {[int(d) for d in shape]}"
        )
