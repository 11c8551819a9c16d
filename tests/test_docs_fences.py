"""The docs' code blocks are all ones the docs run (conftest.py at the root runs them) and install
the distribution by its own name.

Every fenced block in README.md and docs/**/*.md names a language: ``python``, ``bash`` and
``toml`` blocks run under ``pytest`` (Sybil), ``text`` and ``diff`` do not; a bare fence or another
shell spelling (``sh``, ``console``) would hide a command from the docs run. ``pymg`` on the package
index is an unrelated project: install lines say ``pymg-microgesture``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("python", "bash", "toml", "text", "diff")
FENCE = re.compile(r"^ *(```+|~~~+)(.*)$")
# `pip install [options] [other packages] pymg...` (not prose saying never to write it in backticks)
OLD_NAME = re.compile(r"""pip install(?:\s+[-\w.=<>]+)*?\s+["']?pymg(?:\[|-\d|["'\s]|$)""", re.M)


def _pages() -> list[Path]:
    if not (ROOT / "README.md").is_file() or not (ROOT / "docs").is_dir():
        pytest.skip("README.md and docs/ are not here (tests copied away from the repository)")
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def fence_problems(text: str, name: str) -> list[str]:
    """``name:line: ...`` for each opening fence without a language of :data:`LANGUAGES`."""
    problems, opening = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match is None:
            continue
        if opening is None:
            opening = match.group(1)
            info = match.group(2).split()
            if not info or info[0] not in LANGUAGES:
                problems.append(f"{name}:{number}: fence {line.strip()!r} needs one of {LANGUAGES}")
        elif match.group(1).startswith(opening) and not match.group(2).strip():
            opening = None
    if opening is not None:
        problems.append(f"{name}: a code block is never closed")
    return problems


def test_fence_problems_finds_bare_and_unknown_fences() -> None:
    text = (
        "```python\nx = 1\n```\n\n```\npymg demo\n```\n\n```sh\nls\n```\n~~~bash\nls\n~~~\n```text"
    )
    assert fence_problems(text, "p.md") == [
        "p.md:5: fence '```' needs one of ('python', 'bash', 'toml', 'text', 'diff')",
        "p.md:9: fence '```sh' needs one of ('python', 'bash', 'toml', 'text', 'diff')",
        "p.md: a code block is never closed",
    ]


def test_every_block_names_a_language_the_docs_run_knows() -> None:
    problems = [p for page in _pages() for p in fence_problems(page.read_text(), page.name)]
    assert problems == []


@pytest.mark.parametrize(
    ("line", "old"),
    [
        ('pip install "pymg[data]"', True),
        ("pip install pymg", True),
        ("pip install 'pymg[viz]' numpy", True),
        ("pip install pymg-0.1.0-cp311-cp311-manylinux_2_34_x86_64.whl", True),
        ('pip install "pymg-microgesture[data]"', False),
        ("pip install pymg_microgesture-0.1.0-cp311-cp311-linux_x86_64.whl", False),
        ('pip install -e ".[test]"  # pymg and its tests', False),
        ('pip install -e ".[viz]" && pymg demo', False),
        ("so never `pip install pymg`. pymg is not on the index", False),
        ("pip install torch==2.13.0 pymg", True),
    ],
)
def test_old_name_pattern(line: str, old: bool) -> None:
    assert bool(OLD_NAME.search(line)) is old


def test_install_lines_name_the_distribution() -> None:
    files = [
        *_pages(),
        *sorted((ROOT / "pymg").rglob("*.py")),
        *sorted((ROOT / "scripts").glob("*")),
    ]
    found = [
        f"{path.relative_to(ROOT)}: {m.group(0)!r}"
        for path in files
        if path.is_file()
        for m in OLD_NAME.finditer(path.read_text(errors="replace"))
    ]
    assert found == [], "pymg on the package index is another project: say pymg-microgesture"


def test_no_isolation_builds_install_the_build_requirements_first() -> None:
    """building.md installs every build requirement before its ``--no-build-isolation`` lines."""
    _pages()
    pyproject = (ROOT / "pyproject.toml").read_text()
    requires = re.search(r"^requires = \[(.*)\]$", pyproject, flags=re.M)
    assert requires is not None
    wanted = re.findall(r'"([^"]+)"', requires.group(1))
    assert wanted and "scikit-build-core>=0.10" in wanted
    lines = (ROOT / "docs" / "building.md").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if "--no-build-isolation" in line)
    installs = [line for line in lines[:first] if line.startswith("pip install")]
    assert any(all(f'"{req}"' in line for req in wanted) for line in installs), wanted


def test_reproducing_states_the_splits_pymg_uses() -> None:
    """reproducing.md: the release has a validation split, and prepare never guesses subjects."""
    _pages()
    text = " ".join((ROOT / "docs" / "reproducing.md").read_text().split())
    assert "has no validation split" not in text
    assert "splits them by subject" not in text
    assert "`train`, `validate` and `test` folders" in text
    assert "`--subjects`" in text and "prepare stops and asks" in text
