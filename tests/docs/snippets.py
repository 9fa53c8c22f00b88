"""Finding the Python examples in the documentation, and the rules that say which run.

Every fenced block opened with ```` ```python ```` or ```` ```py ```` (attributes such as
``title="jobs.py"`` allowed, indented fences inside tabs and admonitions too) is an
example. A page's examples run in order, in one fresh process and one namespace, with the
in-memory backend as the default (``BROKERJOBS_BACKEND=memory``), so no broker is needed.

An HTML comment on the last non-blank line before the fence changes that (it does not
show on the rendered page):

``<!-- docs-test: skip REASON -->``
    Compiled (a syntax error still fails) but not run. The reason is required.
``<!-- docs-test: needs BROKER[,BROKER...] [REASON] -->``
    Talks to a real broker (``rabbitmq``, ``sqs``, ``postgres``, ``mysql``...). Compiled
    always; run, in its place in the page, only when every listed broker is named in
    ``BROKERJOBS_DOCS_BROKERS`` (e.g. ``BROKERJOBS_DOCS_BROKERS=rabbitmq``). Later
    blocks must not depend on what such a block defines.

Any other ``docs-test:`` comment is an error, so a typo cannot silently skip an example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
_PYTHON = {"python", "py", "python3"}
_BROKER_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class SnippetError(ValueError):
    """A page breaks the documentation-example conventions."""


@dataclass(frozen=True, slots=True)
class Snippet:
    """One Python example of a page."""

    path: str
    line: int
    """1-based line number of the first line of code (the line after the fence)."""
    code: str
    skip_reason: str | None = None
    needs: tuple[str, ...] = ()

    def runs_with(self, brokers: frozenset[str]) -> bool:
        """Whether this example is executed when ``brokers`` are available."""
        if self.skip_reason is not None:
            return False
        return all(name in brokers for name in self.needs)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _language(info: str) -> str:
    words = info.strip().split()
    if not words:
        return ""
    return words[0].lstrip(".{").rstrip("}").lower()


def _directive(path: str, line_number: int, body: str) -> tuple[str | None, tuple[str, ...]]:
    """``(skip_reason, needs)`` from a ``docs-test:`` comment body."""
    keyword, _, rest = body.partition(" ")
    rest = rest.strip()
    if keyword == "skip":
        if not rest:
            raise SnippetError(f"{path}:{line_number}: 'docs-test: skip' needs a reason")
        return rest, ()
    if keyword == "needs":
        names = tuple(name.strip() for name in rest.split(" ", 1)[0].split(",") if name.strip())
        if not names or not all(_BROKER_NAME.match(name) for name in names):
            raise SnippetError(
                f"{path}:{line_number}: 'docs-test: needs' takes broker names, e.g. "
                "'needs rabbitmq' or 'needs rabbitmq,sqs'"
            )
        return None, names
    raise SnippetError(
        f"{path}:{line_number}: unknown directive 'docs-test: {body}' "
        "(use 'skip REASON' or 'needs BROKER')"
    )


def extract(text: str, path: str) -> list[Snippet]:
    """Every Python example in the Markdown ``text`` of the page at ``path``."""
    lines = text.splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opener = _FENCE_OPEN.match(lines[index])
        if opener is None:
            if _DIRECTIVE.match(lines[index]) and not _next_is_fence(lines, index):
                raise SnippetError(
                    f"{path}:{index + 1}: a docs-test comment must come right before a code fence"
                )
            index += 1
            continue
        indent, fence = opener.group("indent"), opener.group("fence")
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        if end == len(lines):
            raise SnippetError(f"{path}:{index + 1}: code fence is never closed")
        if _language(opener.group("info")) in _PYTHON:
            body = [_dedent(line, indent) for line in lines[index + 1 : end]]
            skip_reason, needs = _preceding_directive(lines, index, path)
            snippets.append(Snippet(path, index + 2, "\n".join(body) + "\n", skip_reason, needs))
        elif _preceding_directive(lines, index, path) != (None, ()):
            raise SnippetError(f"{path}:{index + 1}: docs-test comments apply to Python only")
        index = end + 1
    return snippets


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def _next_is_fence(lines: list[str], index: int) -> bool:
    for line in lines[index + 1 :]:
        if line.strip():
            return _FENCE_OPEN.match(line) is not None
    return False


def _preceding_directive(
    lines: list[str], fence_index: int, path: str
) -> tuple[str | None, tuple[str, ...]]:
    for back in range(fence_index - 1, -1, -1):
        if not lines[back].strip():
            continue
        found = _DIRECTIVE.match(lines[back])
        if found is None:
            return None, ()
        return _directive(path, back + 1, found.group("body"))
    return None, ()


def _dedent(line: str, indent: str) -> str:
    return line[len(indent) :] if line.startswith(indent) else line.lstrip()


def page_snippets(docs_dir: Path, page: Path) -> list[Snippet]:
    """The examples of ``page``, named relative to the repository root."""
    relative = page.relative_to(docs_dir.parent).as_posix()
    return extract(page.read_text(encoding="utf-8"), relative)
