"""pymg.ops has no import circle (module level or inside functions) and one backend choice."""

from __future__ import annotations

import ast
from pathlib import Path

import pymg.ops as ops
from pymg.ops import backend, backend_native, backend_torch, constants

OPS_DIR = Path(ops.__file__).parent


def _imports(path: Path, package: str) -> set[str]:
    """pymg modules ``path`` imports anywhere in its body (``from pkg import mod`` counts mod)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("pymg.")}


def _graph() -> dict[str, set[str]]:
    modules = {f"pymg.ops.{p.stem}": p for p in OPS_DIR.glob("*.py") if p.stem != "__init__"}
    modules["pymg._native"] = OPS_DIR.parent / "_native.py"
    return {name: _imports(path, "pymg.ops") & set(modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_ops() -> None:
    graph = _graph()
    assert "pymg.ops.backend" in graph["pymg.ops.custom_ops"]  # the graph does see imports
    assert _cycle(graph) is None, _cycle(graph)


def test_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_constants_and_backends_import_nothing_from_the_public_ops() -> None:
    graph = _graph()
    assert graph["pymg.ops.constants"] == set()
    assert graph["pymg._native"] == set()
    for name in ("pymg.ops.backend_native", "pymg.ops.backend_torch"):
        assert graph[name] <= {"pymg.ops.constants", "pymg._native"}, (name, graph[name])


def test_one_backend_choice_with_identical_interfaces() -> None:
    methods = ("joint_heatmaps_into", "limb_heatmaps_into", "gather_frames_into")
    for name in methods:
        want = ast.dump(ast.parse(_signature(backend.Backend, name)))
        for impl in (backend_native.NativeBackend, backend_torch.TorchBackend):
            assert ast.dump(ast.parse(_signature(impl, name))) == want, (impl, name)
    assert backend.get_backend("reference", backend.torch.device("cpu")) is backend_torch.TORCH


def _signature(cls: type, name: str) -> str:
    import inspect

    return f"def f{inspect.signature(getattr(cls, name))}: pass"


def test_constants_are_the_public_ones() -> None:
    assert ops.STRATEGIES is constants.STRATEGIES
    assert ops.HEATMAP_DTYPES is constants.HEATMAP_DTYPES
    assert ops.GATHER_MODES == ("linear", "nearest")
    assert ops.WINDOW_SIGMAS == 3.0
