"""A PYSKL config whose names repeat names ("billion laughs") is refused before it is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymg.models.pyskl_config import (
    MAX_CONFIG_VALUES,
    PysklConfigError,
    parse_pyskl_config,
    read_pyskl_config,
)


def test_billion_laughs_config_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    lines = ["a0 = [1, 1]"] + [f"a{i} = [a{i - 1}, a{i - 1}]" for i in range(1, 32)]
    path = tmp_path / "laughs.py"
    path.write_text("\n".join(lines) + "\n")
    # values made: a0 = 1 list + 2 numbers; a(i) = 1 list + 2 names + 2 copies of a(i-1)
    size, made, line = 3, 3, 1
    while made <= MAX_CONFIG_VALUES:
        size, line = 3 + 2 * size, line + 1
        made += size
    with pytest.raises(PysklConfigError, match=rf"laughs.py:{line}: the config grows past "):
        read_pyskl_config(path)


def test_repeated_names_within_the_budget_are_read() -> None:
    source = "a0 = [1, 2]\n" + "".join(f"a{i} = [a{i - 1}, a{i - 1}]\n" for i in range(1, 15))
    names = parse_pyskl_config(source, "ok.py")
    flat: list[int] = []

    def walk(value: object) -> None:
        if isinstance(value, list):
            for v in value:
                walk(v)
        else:
            flat.append(int(value))  # type: ignore[call-overload]

    walk(names["a14"])
    assert flat == [1, 2] * 2**14
    assert MAX_CONFIG_VALUES == 1_000_000
