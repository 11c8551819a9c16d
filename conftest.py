"""Runs the examples of README.md and docs/**/*.md as part of ``pytest`` (with Sybil).

pyproject's ``testpaths`` lists ``README.md`` and ``docs`` beside ``tests``, and this file (at the
repository root, so that it sees README.md) tells pytest to collect every Markdown file there:

* ```` ```python ```` blocks run in one namespace per page, in order (a page reads like a session);
* ```` ```bash ```` blocks run with ``bash -e -o pipefail``, where ``pymg`` and ``python`` are the
  interpreter and the pymg under test;
* ```` ```toml title="NAME" ```` blocks are checked as TOML and written to ``NAME`` (the title
  Material shows above the block), so later blocks can load them; other ```` ```toml ```` blocks
  are only checked;
* ``text`` and ``diff`` blocks are not run.

Every page runs in a fresh temporary folder. A block that cannot run in CI is preceded by a
visible skip comment that names why, which pytest reports as a skip with that reason::

    <!-- skip: next "needs the iMiGUE data (licence-gated)" -->
    <!-- skip: next if(not CUDA, reason="needs a CUDA GPU") -->     (runs where there is one)

The reason must contain one of :data:`SKIP_REASONS`. ``<!-- clear-namespace -->`` empties the
page's Python namespace, so the blocks after it must stand alone (their own imports). Setup a
reader does not need to see goes in an ``<!-- invisible-code-block: python -->`` (or ``bash``)
comment, which runs like a block.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

try:
    from sybil import Document, Example, Region, Sybil
    from sybil.parsers.markdown import (
        ClearNamespaceParser,
        CodeBlockParser,
        PythonCodeBlockParser,
        SkipParser,
    )
except ImportError:  # the `test` extra is not installed: tests/ still runs, the docs do not
    Sybil = None  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parent
#: What a skip's reason must name: the only reasons a documented example may not run in CI.
SKIP_REASONS = ("needs a CUDA GPU", "needs the iMiGUE data", "needs the network", "takes minutes")
#: Seconds one shell block may run before it fails (the docs part of the suite stays short).
SHELL_TIMEOUT = 240

if Sybil is not None:

    class ShellBlockParser(CodeBlockParser):
        """```` ```bash ```` blocks, run by :func:`run_shell`."""

        language = "bash"

        def evaluate(self, example: Example) -> str | None:
            return run_shell(example)

    class TomlBlockParser(CodeBlockParser):
        """```` ```toml ```` blocks: parsed; written to the file named by ``title="..."``."""

        language = "toml"

        def __call__(self, document: Document) -> Iterable[Region]:
            for region in self.lexers(document):
                info = str(region.lexemes["arguments"]).split(None, 1)
                if info and info[0] == "toml":
                    title = re.search(r'title="([^"]+)"', info[1] if len(info) > 1 else "")
                    region.parsed = (title.group(1) if title else None, region.lexemes["source"])
                    region.evaluator = self.evaluate
                    yield region

        def evaluate(self, example: Example) -> str | None:
            name, text = example.parsed
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover - tomli is pymg's own dependency there
                import tomli as tomllib
            tomllib.loads(str(text))
            if name is not None:
                Path(name).write_text(str(text))
            return None

    class PageClearParser(ClearNamespaceParser):
        """``<!-- clear-namespace -->``: the next blocks stand alone (the page's folder stays)."""

        @staticmethod
        def evaluate(example: Example) -> None:
            namespace = example.document.namespace
            keep = {k: v for k, v in namespace.items() if k.startswith("DOCS_") or k == "CUDA"}
            namespace.clear()
            namespace.update(keep)

    class ReasonedSkipParser(SkipParser):
        """Sybil's ``skip`` comments, refused without a reason from :data:`SKIP_REASONS`."""

        def __call__(self, document: Document) -> Iterable[Region]:
            for region in super().__call__(document):
                action, reason = region.parsed
                if action in ("next", "start") and not any(
                    r in (reason or "") for r in SKIP_REASONS
                ):
                    line = document.text.count("\n", 0, region.start) + 1
                    raise ValueError(
                        f"{document.path}:{line}: 'skip: {action}' needs a reason naming one of "
                        f'{SKIP_REASONS}, e.g. <!-- skip: next "needs a CUDA GPU" -->; '
                        f"got {reason!r}"
                    )
                yield region


def _pymg_root() -> Path:
    """The folder holding the ``pymg`` under test (the repository for an editable install)."""
    import pymg

    return Path(pymg.__file__).resolve().parents[1]


def run_shell(example: Any) -> None:
    """Run one bash block in the page's folder; AssertionError with its output when it fails."""
    ns = example.namespace
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", str(example.parsed)],
        cwd=ns["DOCS_DIR"],
        env=ns["DOCS_ENV"],
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        out = (done.stdout + done.stderr)[-4000:]
        raise AssertionError(
            f"exit status {done.returncode}:\n{str(example.parsed).strip()}\n{out}"
        )


def setup_page(namespace: dict[str, Any]) -> None:
    """A fresh folder per page (also the working directory of its Python blocks), and an
    environment where ``pymg`` and ``python`` are this interpreter with the pymg under test."""
    import torch

    work = Path(tempfile.mkdtemp(prefix="pymg-docs-"))
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    (bin_dir / "pymg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pymg "$@"\n')
    (bin_dir / "pymg").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_pymg_root()), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("OMP_NUM_THREADS", "2")
    namespace.update(
        DOCS_DIR=str(work), DOCS_ENV=env, DOCS_OLD_CWD=os.getcwd(), CUDA=torch.cuda.is_available()
    )
    os.chdir(work)


def teardown_page(namespace: dict[str, Any]) -> None:
    """Back to the old working directory; the page's folder is removed."""
    os.chdir(namespace["DOCS_OLD_CWD"])
    shutil.rmtree(namespace["DOCS_DIR"], ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skipped example is reported at its page and line, not inside unittest."""
    report = yield
    example = getattr(item, "example", None)
    if example is not None and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(example.path), example.line, report.longrepr[2])
    return report


if Sybil is not None:
    pytest_collect_file = Sybil(
        parsers=[
            ReasonedSkipParser(),
            PageClearParser(),
            PythonCodeBlockParser(),
            ShellBlockParser(),
            TomlBlockParser(),
        ],
        patterns=["*.md"],
        excludes=["CHANGELOG.md", "CONTRIBUTING.md"],
        setup=setup_page,
        teardown=teardown_page,
    ).pytest()
