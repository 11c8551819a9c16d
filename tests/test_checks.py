"""pymg.checks: the one int check and the one item-index check, their values and messages."""

from __future__ import annotations

import numpy as np
import pytest

from pymg.checks import ArgumentTypeError, check_index, check_int


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
