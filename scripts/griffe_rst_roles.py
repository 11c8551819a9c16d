"""Griffe extension for the API reference: Sphinx roles as inline code, doctests as code blocks.

pymg's docstrings are Google style, but some name other objects the Sphinx way
(``:func:`joint_heatmaps```, ``:class:`~pymg.topology.Skeleton```). mkdocstrings renders Markdown,
where such a role would appear literally; this extension rewrites each role to inline code before
the docstring is parsed (``~`` keeps the last dotted component, as Sphinx does), and fences
free-standing ``>>>`` sessions, which Markdown would show as block quotes. mkdocs.yml loads it
(the path is relative to mkdocs.yml)::

    plugins:
      - mkdocstrings:
          handlers:
            python:
              options:
                extensions: [scripts/griffe_rst_roles.py]
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const|term|ref|doc)"
    r":`(?P<tilde>[~!]?)(?P<target>[^`]+)`"
)


def strip_roles(text: str) -> str:
    """``:func:`a.b``` -> ```a.b```, ``:class:`~a.B``` -> ```B```; other text unchanged."""

    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if match.group("tilde") == "~":
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return ROLE.sub(replace, text)


EXAMPLES_HEADER = re.compile(r"^(?P<indent>\s*)Examples?:\s*$")


def fence_doctests(text: str) -> str:
    """Wrap free-standing ``>>>`` sessions in ```` ```pycon ```` fences.

    Markdown would render ``>>>`` as nested block quotes. A session runs from its first ``>>>`` line
    to the next blank line. Sessions inside a Google ``Examples:`` section are left alone: the
    docstring parser already shows those as code.
    """
    out: list[str] = []
    lines = text.split("\n")
    examples_indent: int | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if stripped and examples_indent is not None and indent <= examples_indent:
            examples_indent = None
        header = EXAMPLES_HEADER.match(line)
        if header:
            examples_indent = len(header.group("indent"))
        if stripped.startswith(">>>") and examples_indent is None:
            pad = line[:indent]
            out.append(f"{pad}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{pad}```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class RstRoles(griffe.Extension):
    """Rewrites the Sphinx roles of every docstring that griffe loads."""

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        """Called once per loaded object (module, class, function, attribute)."""
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(strip_roles(obj.docstring.value))
