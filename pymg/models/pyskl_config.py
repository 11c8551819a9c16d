"""Read PYSKL / mmaction2 config files without executing them.

PYSKL and mmaction2 configs are Python files, normally run by mmcv/mmengine. pymg parses them with
:mod:`ast` and evaluates only a safe subset:

* literals: numbers (with a sign), strings, ``True``/``False``/``None``, lists, tuples, sets and
  dicts of literals;
* ``dict(key=value, ...)`` and ``list(iterable)`` calls whose arguments are themselves allowed;
* names assigned earlier in the same file (``left_kp = [1, 3]`` ... ``left_kp=left_kp``).

The top level may only hold ``name = value`` assignments (and a docstring). ``_base_`` files are
read the same way and merged as mmcv/mmengine do (a dict in the file updates the inherited one key
by key; ``_delete_=True`` replaces it). Anything else (an import, another call, an attribute, an
operator, a loop...) raises :class:`PysklConfigError` naming the file and line; nothing is run.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["PysklConfigError", "merge_configs", "parse_pyskl_config", "read_pyskl_config"]

_ALLOWED = (
    "literal values, dict(...)/list(...) calls with literal arguments and names assigned earlier"
)


class PysklConfigError(ValueError):
    """A PYSKL/mmaction2 config that pymg cannot read without executing it (names file and line)."""


MAX_CONFIG_VALUES = 1_000_000
"""Most values (numbers, strings, list/dict entries) one config file may produce. Real PYSKL
configs hold a few thousand; names that repeat names ("billion laughs": ``a1 = [a0, a0]``,
``a2 = [a1, a1]``...) double with each line and are stopped here, before they are built."""


class _Reader:
    def __init__(self, source: str, where: str):
        self.where = where
        self.names: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}  # values each name stands for
        self.made = 0
        try:
            self.tree = ast.parse(source, filename=where, mode="exec")
        except SyntaxError as exc:
            raise PysklConfigError(f"{where}:{exc.lineno}: not valid Python: {exc.msg}") from None

    def fail(self, node: ast.AST, what: str) -> PysklConfigError:
        line = getattr(node, "lineno", "?")
        return PysklConfigError(
            f"{self.where}:{line}: {what} is not allowed; pymg reads configs without running "
            f"them and accepts only {_ALLOWED}"
        )

    def run(self) -> dict[str, Any]:
        for index, stmt in enumerate(self.tree.body):
            if index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # module docstring
            if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
                before = self.made
                value = self.value(stmt.value)
                for target in stmt.targets:
                    self.names[target.id] = value  # type: ignore[attr-defined]
                    self.sizes[target.id] = self.made - before  # type: ignore[attr-defined]
                continue
            raise self.fail(stmt, _describe(stmt))
        return self.names

    def _grow(self, node: ast.AST, count: int) -> None:
        self.made += count
        if self.made > MAX_CONFIG_VALUES:
            raise PysklConfigError(
                f"{self.where}:{getattr(node, 'lineno', '?')}: the config grows past "
                f"{MAX_CONFIG_VALUES} values (names that repeat names double with each line); "
                "refused before building it"
            )

    def value(self, node: ast.AST) -> Any:
        self._grow(node, 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (int, float, str, bool, type(None))):
                return node.value
            raise self.fail(node, f"the constant {node.value!r}")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand if isinstance(node.op, ast.USub) else operand
            raise self.fail(node, "a sign on a non-number")
        if isinstance(node, ast.List):
            return [self.value(e) for e in self._elements(node.elts)]
        if isinstance(node, ast.Tuple):
            return tuple(self.value(e) for e in self._elements(node.elts))
        if isinstance(node, ast.Set):
            return {self.value(e) for e in self._elements(node.elts)}
        if isinstance(node, ast.Dict):
            out = {}
            for key, val in zip(node.keys, node.values, strict=True):
                if key is None:
                    raise self.fail(val, "dict unpacking (**)")
                out[self.value(key)] = self.value(val)
            return out
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise self.fail(node, f"the name {node.id!r} (not assigned earlier in the file)")
            self._grow(node, self.sizes.get(node.id, 0))
            return _copy(self.names[node.id])
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, _describe(node))

    def _elements(self, elements: list[ast.expr]) -> list[ast.expr]:
        for e in elements:
            if isinstance(e, ast.Starred):
                raise self.fail(e, "unpacking (*)")
        return elements

    def call(self, node: ast.Call) -> Any:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        if name == "dict" and "dict" not in self.names:
            if node.args:
                raise self.fail(node, "dict(...) with positional arguments")
            out = {}
            for kw in node.keywords:
                if kw.arg is None:
                    raise self.fail(node, "dict(**...) unpacking")
                out[kw.arg] = self.value(kw.value)
            return out
        if name == "list" and "list" not in self.names:
            if node.keywords or len(node.args) > 1:
                raise self.fail(node, "list(...) with more than one argument")
            if not node.args:
                return []
            items = self.value(node.args[0])
            if not isinstance(items, (list, tuple, set, str, dict)):
                raise self.fail(node, "list(...) of a non-iterable")
            return list(items)
        called = name if name is not None else ast.unparse(func)
        raise self.fail(node, f"a call to {called}(...)")


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Import: "an import",
        ast.ImportFrom: "an import",
        ast.FunctionDef: "a function definition",
        ast.ClassDef: "a class definition",
        ast.Attribute: "an attribute access",
        ast.Subscript: "indexing",
        ast.BinOp: "an operator expression",
        ast.BoolOp: "a boolean expression",
        ast.Compare: "a comparison",
        ast.JoinedStr: "an f-string",
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.IfExp: "a conditional expression",
    }
    for kind, text in kinds.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return f"a call to {ast.unparse(node.value.func)}(...)"
    return f"a {type(node).__name__} statement or expression"


def _copy(value: Any) -> Any:
    """A deep copy of plain config values (so two uses of a name never share a dict)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


def parse_pyskl_config(source: str, where: str = "<config>") -> dict[str, Any]:
    """Evaluate the safe subset of one config file's text (``_base_`` is NOT followed).

    Args:
        source: the file's Python text.
        where: the name used in error messages.

    Returns:
        ``{name: value}`` for every top-level assignment, in file order.

    Raises:
        PysklConfigError: anything outside the subset, naming ``where`` and the line.
    """
    return _Reader(source, where).run()


def merge_configs(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """mmcv/mmengine inheritance: ``child``'s dicts update ``base``'s recursively.

    A child dict with ``_delete_=True`` replaces the inherited one (the flag is dropped).
    """
    out = {k: _copy(v) for k, v in base.items()}
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            if value.get("_delete_", False):
                out[key] = {k: _copy(v) for k, v in value.items() if k != "_delete_"}
            else:
                out[key] = merge_configs(out[key], value)
        elif isinstance(value, dict):
            out[key] = {k: _copy(v) for k, v in value.items() if k != "_delete_"}
        else:
            out[key] = _copy(value)
    return out


def read_pyskl_config(path: str | os.PathLike[str], *, _seen: tuple[Path, ...] = ()) -> dict:
    """Read a PYSKL / mmaction2 config file without executing it.

    ``_base_`` files (a path or a list of paths, relative to the file) are read the same way and
    merged; a base file that does not exist is skipped (model-zoo configs usually spell the whole
    model out) and listed under the key ``"_missing_bases_"``.

    Args:
        path: the ``.py`` config.

    Returns:
        the config as nested plain values (``cfg["model"]["backbone"]["type"]``...).

    Raises:
        FileNotFoundError: no file at ``path``.
        PysklConfigError: a construct that would need execution (naming file and line), or a
            ``_base_`` cycle.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise FileNotFoundError(f"config: no file at {os.fspath(path)!r}")
    if file in _seen:
        raise PysklConfigError(f"{file}: _base_ files include each other in a cycle")
    values = parse_pyskl_config(file.read_text(encoding="utf-8"), str(file))
    bases = values.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, (list, tuple)) or not all(isinstance(b, str) for b in bases):
        raise PysklConfigError(f"{file}: _base_ must be a path or a list of paths, got {bases!r}")
    merged: dict[str, Any] = {}
    missing: list[str] = []
    for base in bases:
        base_file = (file.parent / base).resolve()
        if not base_file.is_file():
            missing.append(base)
            continue
        inherited = read_pyskl_config(base_file, _seen=(*_seen, file))
        missing.extend(inherited.pop("_missing_bases_", []))
        merged = merge_configs(merged, inherited)
    merged = merge_configs(merged, values)
    if missing:
        merged["_missing_bases_"] = missing
    return merged
