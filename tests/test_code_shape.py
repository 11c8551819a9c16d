"""Rules of the house that hold for the whole of pymg/: functions of at most 80 lines (the
argparse set-up of a command included) and a library that does not print."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pymg

PACKAGE = Path(pymg.__file__).resolve().parent  # the package under test (repo or installed wheel)
MAX_LINES = 80
PENDING: set[str] = set()
"""Functions still over the limit while they are being split; an entry must go once it is short."""


def _visit(node: ast.AST, where: str, prefix: str, out: dict[str, int]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            out[f"{where}::{name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
            _visit(child, where, name + ".", out)
        elif isinstance(child, ast.ClassDef):
            _visit(child, where, prefix + child.name + ".", out)


def _functions() -> dict[str, int]:
    """``{"pymg/<file>::<qualified name>": lines}`` of every function and method in pymg/."""
    out: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        _visit(tree, path.relative_to(PACKAGE.parent).as_posix(), "", out)
    return out


def test_no_function_is_longer_than_80_lines() -> None:
    lengths = _functions()
    assert len(lengths) > 500  # the walk found the package
    too_long = {k: n for k, n in lengths.items() if n > MAX_LINES and k not in PENDING}
    assert not too_long, f"functions over {MAX_LINES} lines: {too_long}"
    done = sorted(k for k in PENDING if lengths.get(k, 0) <= MAX_LINES)
    assert not done, f"short now (drop them from PENDING): {done}"


@pytest.mark.parametrize("folder", ["data", "engine", "models", "ops", "topology", "labels"])
def test_the_library_does_not_print(folder: str) -> None:
    calls = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                calls.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not calls, f"print() outside pymg/cli (log through logging.getLogger('pymg')): {calls}"


def test_no_global_matplotlib_backend() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "matplotlib.use(" in text or "import matplotlib.pyplot" in text:
            found.append(path.relative_to(PACKAGE.parent).as_posix())
    assert not found, f"pyplot or a global backend outside the command: {found}"
