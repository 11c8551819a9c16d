"""pytest configuration of the benchmark suites (``pytest benchmarks/ --benchmark-only``).

* collects ``bench_*.py`` files (the default ``testpaths = ["tests"]`` never loads this directory,
  so a plain ``pytest`` run does not see them);
* ``--bench-full`` enables the big cases, marked ``slow``; without it they are skipped so that the
  default run takes a few minutes on a 2-core machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-full",
        action="store_true",
        default=False,
        help="also run the big benchmark cases (marked slow): full batches, V=41, 64x64, numpy",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # Files named on the command line are already collected by pytest itself.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--bench-full"):
        return
    skip = pytest.mark.skip(reason="big benchmark case: run with --bench-full")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
