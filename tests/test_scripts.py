"""Tests of the release tooling in scripts/: the wheel checker and the benchmark plot.

The scripts are loaded by path from ``tests/../scripts`` (scripts/smoke_wheel.sh copies both
folders when it runs the suite against an installed wheel); the tests skip where it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name: str) -> ModuleType:
    path = SCRIPTS / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} is not here (tests copied away from the repository)")
    spec = importlib.util.spec_from_file_location(f"_pymg_scripts_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check_wheel() -> ModuleType:
    return _load("check_wheel")


@pytest.fixture(scope="module")
def plot_benchmarks() -> ModuleType:
    return _load("plot_benchmarks")


# ---- check_wheel --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("archs", "sass", "ptx"),
    [
        ("80-real;90", {"80", "90"}, {"90"}),
        ("90", {"90"}, {"90"}),
        ("75-virtual; 86-real", {"86"}, {"75"}),
        ("80-real,90a", {"80", "90a"}, {"90a"}),
    ],
)
def test_parse_archs(check_wheel: ModuleType, archs: str, sass: set[str], ptx: set[str]) -> None:
    assert check_wheel.parse_archs(archs) == (sass, ptx)


@pytest.mark.parametrize("bad", ["sm_80", "80-fake", "native"])
def test_parse_archs_rejects_garbage(check_wheel: ModuleType, bad: str) -> None:
    with pytest.raises(ValueError, match="archs: cannot parse"):
        check_wheel.parse_archs(bad)


def _source_tree(root: Path) -> Path:
    for rel in ("pymg/__init__.py", "pymg/configs/demo.toml", "pymg/labels/table.npy"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    (root / "pymg/__pycache__").mkdir()
    (root / "pymg/__pycache__/__init__.cpython-311.pyc").write_bytes(b"x")
    return root


def test_source_package_files_skips_caches(check_wheel: ModuleType, tmp_path: Path) -> None:
    files = check_wheel.source_package_files(_source_tree(tmp_path))
    assert files == ["pymg/__init__.py", "pymg/configs/demo.toml", "pymg/labels/table.npy"]
    with pytest.raises(ValueError, match="source: .* has no pymg/"):
        check_wheel.source_package_files(tmp_path / "pymg")


def _report(check_wheel: ModuleType, names: list[str], source: list[str]) -> list[str]:
    report = check_wheel.WheelReport(
        wheel="w.whl", size_bytes=0, tags=[], version="0.1.0", variant="cpu"
    )
    check_wheel.check_members(names, source, report)
    return list(report.problems)


def test_check_members_clean(check_wheel: ModuleType) -> None:
    names = [
        "pymg/",
        "pymg/__init__.py",
        "pymg/_C.cpython-311-x86_64-linux-gnu.so",
        "pymg/configs/demo.toml",
        "pymg-0.1.0.dist-info/METADATA",
    ]
    assert _report(check_wheel, names, ["pymg/__init__.py", "pymg/configs/demo.toml"]) == []


@pytest.mark.parametrize(
    ("bad_name", "message"),
    [
        ("pymg/build/CMakeCache.txt", "build-tree"),
        ("pymg/CMakeFiles/_C.dir/bindings.cpp.o", "build-tree"),
        ("pymg/__pycache__/x.cpython-311.pyc", "build-tree"),
        ("pymg/kernels.cu", "build-tree"),
        ("tests/test_x.py", "unexpected top-level"),
        ("build/cp311/_C.so", "unexpected top-level"),
        ("pymg.libs/libgomp-1a2b3c4d.so.1", "second OpenMP runtime"),
        ("pymg.libs/libfoo-1a2b3c4d.so", "unexpected library bundled"),
    ],
)
def test_check_members_flags(check_wheel: ModuleType, bad_name: str, message: str) -> None:
    problems = _report(check_wheel, ["pymg/__init__.py", bad_name], ["pymg/__init__.py"])
    assert any(message in p and bad_name in p for p in problems), problems


def test_check_members_missing_source_file(check_wheel: ModuleType) -> None:
    problems = _report(check_wheel, ["pymg/__init__.py"], ["pymg/__init__.py", "pymg/labels/t.npy"])
    assert problems == ["source file missing from wheel: pymg/labels/t.npy"]


def _fake_wheel(path: Path, members: dict[str, bytes], tag: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("pymg-0.1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nTag: {tag}\n")
        zf.writestr("pymg-0.1.0.dist-info/METADATA", "Name: pymg\nVersion: 0.1.0\n")
    return path


def test_check_wheel_without_extension(check_wheel: ModuleType, tmp_path: Path) -> None:
    source = _source_tree(tmp_path / "src")
    members = {rel: b"x" for rel in check_wheel.source_package_files(source)}
    wheel = _fake_wheel(tmp_path / "pymg.whl", members, "cp311-cp311-linux_x86_64")
    report = check_wheel.check_wheel(
        wheel, source, "cpu", "80-real;90", ["pymg/py.typed"], None, False
    )
    assert report.version == "0.1.0"
    assert report.tags == ["cp311-cp311-linux_x86_64"]
    assert report.data["pymg/labels/*.npy"] == 1
    assert "required file missing from wheel: pymg/py.typed" in report.problems
    assert any("expected exactly one compiled module" in p for p in report.problems)
    assert check_wheel.main([str(wheel), "--source", str(source), "--variant", "cpu"]) == 1
    with pytest.raises(ValueError, match="variant: expected 'cuda' or 'cpu'"):
        check_wheel.check_wheel(wheel, source, "gpu", "90", [], None, False)


# ---- plot_benchmarks -----------------------------------------------------------------------------


def _bench(group: str | None, name: str, median: float) -> dict[str, object]:
    stats = {
        "median": median,
        "min": median * 0.8,
        "q1": median * 0.9,
        "q3": median * 1.3,
        "rounds": 7,
    }
    return {"group": group, "name": name, "stats": stats}


def test_load_and_table(plot_benchmarks: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    rows_in = [_bench("heatmaps", "test_joint[cpu]", 0.0125), _bench(None, "test_model", 2.5)]
    path.write_text(json.dumps({"benchmarks": rows_in}))
    rows = plot_benchmarks.load_benchmarks(path)
    assert [(r.group, r.name, r.median, r.rounds) for r in rows] == [
        ("heatmaps", "joint[cpu]", 0.0125, 7),
        ("benchmarks", "model", 2.5, 7),
    ]
    table = plot_benchmarks.markdown_table(rows).splitlines()
    assert table[2] == "| heatmaps | joint[cpu] | 10 ms | 12.5 ms | 5 ms | 7 |"
    assert table[3] == "| benchmarks | model | 2 s | 2.5 s | 1 s | 7 |"


def test_labels_name_the_varying_params(plot_benchmarks: ModuleType, tmp_path: Path) -> None:
    benches = [_bench("g", f"test_x[{b}]", 1.0) for b in ("numpy", "cpp", "torch")]
    for bench, backend in zip(benches, ("numpy", "cpp", "torch"), strict=True):
        bench["params"] = {"case": "Case(V=17)", "backend": backend, "k": 1}
    lone = _bench("h", "test_lone[a]", 1.0)
    lone["params"] = {"backend": "numpy"}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": [*benches, lone]}))
    rows = plot_benchmarks.load_benchmarks(path)
    assert [r.label for r in rows] == ["numpy", "cpp", "torch", "lone[a]"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(2.5, "2.5 s"), (0.0158, "15.8 ms"), (1.82e-4, "182 us"), (3e-8, "30 ns")]
)
def test_format_seconds(plot_benchmarks: ModuleType, seconds: float, text: str) -> None:
    assert plot_benchmarks.format_seconds(seconds) == text


def test_plot_writes_png(plot_benchmarks: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    benches = [_bench(f"group{i % 4}", f"test_case{i}", 10.0 ** (-i)) for i in range(1, 9)]
    path.write_text(json.dumps({"benchmarks": benches}))
    out = tmp_path / "img" / "bench.png"
    assert plot_benchmarks.main([str(path), "-o", str(out), "--title", "t"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "not a pytest-benchmark JSON"),
        ('{"benchmarks": []}', "holds no benchmark"),
        ('{"benchmarks": [{"name": "x"}]}', "without name/stats.median"),
    ],
)
def test_load_rejects_bad_files(
    plot_benchmarks: ModuleType, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        plot_benchmarks.load_benchmarks(path)
    assert plot_benchmarks.main([str(path), "-o", str(tmp_path / "x.png")]) == 1


# ---- griffe_rst_roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            ":func:`joint_heatmaps` and :class:`~pymg.topology.Skeleton`",
            "`joint_heatmaps` and `Skeleton`",
        ),
        (":py:meth:`pymg.models.PoseC3D.forward`", "`pymg.models.PoseC3D.forward`"),
        (":mod:`!pymg.ops`, ``code`` and :unknown:`x`", "`pymg.ops`, ``code`` and :unknown:`x`"),
        ("no roles: a `b` c", "no roles: a `b` c"),
    ],
)
def test_strip_roles(text: str, want: str) -> None:
    pytest.importorskip("griffe")
    assert _load("griffe_rst_roles").strip_roles(text) == want


def test_fence_doctests() -> None:
    pytest.importorskip("griffe")
    fence = _load("griffe_rst_roles").fence_doctests
    text = "Summary.\n\n>>> a = 1\n>>> a\n1\n\nText.\n\nExamples:\n    >>> b = 2\n\nAfter."
    want = (
        "Summary.\n\n```pycon\n>>> a = 1\n>>> a\n1\n```\n\nText.\n\n"
        "Examples:\n    >>> b = 2\n\nAfter."
    )
    assert fence(text) == want
    assert fence("  >>> x") == "  ```pycon\n  >>> x\n  ```"
    assert fence("no session") == "no session"


def test_main_filters_groups_and_plots_min(plot_benchmarks: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"benchmarks": [_bench("joint N=1", "test_a", 0.01)]}))
    second.write_text(json.dumps({"benchmarks": [_bench("limb N=32", "test_b", 0.02)]}))
    out = tmp_path / "min.png"
    argv = [str(first), str(second), "-o", str(out), "--stat", "min", "--groups", "N=1$"]
    assert plot_benchmarks.main(argv) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert plot_benchmarks.main([*argv[:4], "--groups", "nothing"]) == 1
    rows = plot_benchmarks.load_benchmarks(first)
    with pytest.raises(ValueError, match="stat: expected 'median' or 'min'"):
        plot_benchmarks.plot_benchmarks(rows, out, stat="mean")
