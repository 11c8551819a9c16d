"""pymg.checks: the one int check and the one item-index check, their values and messages."""

from __future__ import annotations

import numpy as np
import pytest

from pymg.checks import (
    ArgumentTypeError,
    check_index,
    check_int,
    check_keypoint_shape,
    check_score_shape,
)


@pytest.mark.parametrize(
    ("value", "kwargs", "out"),
    [(3, {}, 3), (np.int16(2), {}, 2), (None, {"none_ok": True}, None), (-1, {"minimum": -1}, -1)],
)
def test_check_int_returns_plain_ints(value, kwargs, out):
    got = check_int(value, "x", **{"minimum": 0, **kwargs})
    assert got == out and type(got) is type(out)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, ArgumentTypeError, "x must be an int >= 1, got True"),
        (2.0, ArgumentTypeError, "x must be an int >= 1, got 2.0"),
        (None, ArgumentTypeError, "x must be an int >= 1, got None"),
        (0, ValueError, "x must be an int >= 1, got 0"),
    ],
)
def test_check_int_messages(value, error, message):
    with pytest.raises(error) as info:
        check_int(value, "x", minimum=1)
    assert str(info.value) == message


def test_check_int_type_errors_are_value_errors_too():
    with pytest.raises(ValueError, match="size must be a positive int, got 'a'"):
        check_int("a", "size", minimum=1, expected="a positive int")
    with pytest.raises(TypeError):
        check_int("a", "size", minimum=1)


@pytest.mark.parametrize("length", [1, 2, 7])
def test_check_index_matches_python_sequences(length):
    items = list(range(length))
    for index in range(-length - 2, length + 2):
        try:
            want = items[index]
        except IndexError:
            with pytest.raises(IndexError, match=f"index {index} out of range for {length} clips"):
                check_index(index, length)
        else:
            assert check_index(np.int64(index), length) == want


def test_check_index_without_negatives_and_wording():
    assert check_index(0, 3, negative=False) == 0
    with pytest.raises(IndexError, match=r"^index -1 out of range for 3 clips$"):
        check_index(-1, 3, negative=False)
    with pytest.raises(IndexError, match=r"^clip index 3 out of range for 3 videos$"):
        check_index(3, 3, name="clip index", what="videos")
    with pytest.raises(TypeError, match=r"^index must be an int or slice, got str$"):
        check_index("0", 3, expected="an int or slice")
    with pytest.raises(TypeError, match="index must be an int, got bool"):
        check_index(True, 3)
    with pytest.raises(IndexError, match="out of range for 0 clips"):
        check_index(0, 0)


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((1, 3, 5), {}, r"^kp must have shape \[M, T, V, 2\], got \[1, 3, 5\]$"),
        ((1, 3, 5, 3), {}, r"^kp must have shape \[M, T, V, 2\], got \[1, 3, 5, 3\]$"),
        ((1, 3, 5, 2), {"batched": True}, r"^kp must have shape \[N, M, T, V, 2\], got"),
        ((1, 3, 5, 4), {"channels": (2, 3)}, r"\[M, T, V, 2\] \(or \[\.\.\., 3\]\), got \[1, 3"),
    ],
)
def test_check_keypoint_shape_messages(shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_keypoint_shape(shape, "kp", **kwargs)


def test_check_keypoint_and_score_shapes_pass_and_return_leading_axes():
    assert check_keypoint_shape((2, 3, 5, 3), channels=(2, 3)) == (2, 3, 5)
    assert check_keypoint_shape(np.zeros((4, 1, 3, 5, 2)).shape, batched=True) == (4, 1, 3, 5)
    check_score_shape((4, 1, 3, 5), (4, 1, 3, 5, 2), batched=True)
    with pytest.raises(ValueError, match=r"^s must have shape \[M, T, V\] = \[1, 3, 5\] to match "):
        check_score_shape((1, 3, 4), (1, 3, 5, 2), "s")
    with pytest.raises(ValueError, match=r"\[N, M, T, V\] = \[2, 1, 3, 5\] .* got \[1, 3, 5\]$"):
        check_score_shape((1, 3, 5), (2, 1, 3, 5, 2), batched=True)
