"""MkDocs hook: a nav that tolerates pages not written yet.

``mkdocs build --strict`` fails on a nav entry whose page does not exist. Several pages
are written by different people at different times, so the nav in ``mkdocs.yml`` lists
every planned page and this hook drops the ones that are missing (and sections left
empty), instead of shipping placeholder pages. Pages the nav does not list are appended:
``backends/*.md`` to the "Backends" section, any other to a "More" section, so a new
page is published as soon as it exists (list it in ``mkdocs.yml`` to place it better).

Links to a planned page that does not exist yet (one the nav names but the hook dropped)
are rendered as plain text until the page appears; a link to any other missing page is
still an error in a strict build.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

NavItem = str | dict[str, Any]

BACKENDS_SECTION = "Backends"
MORE_SECTION = "More"

_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]\((?P<target>[^)\s#]+\.md)(?P<anchor>#[^)\s]*)?\)")
_planned_but_missing: set[str] = set()


def _is_url(target: str) -> bool:
    return "://" in target or target.startswith("/")


def prune(nav: list[NavItem], docs_dir: Path) -> list[NavItem]:
    """``nav`` without entries whose Markdown file is missing under ``docs_dir``."""
    kept: list[NavItem] = []
    for item in nav:
        if isinstance(item, str):
            if _is_url(item) or (docs_dir / item).is_file():
                kept.append(item)
            continue
        ((title, target),) = item.items()
        if isinstance(target, list):
            children = prune(target, docs_dir)
            if children:
                kept.append({title: children})
        elif _is_url(target) or (docs_dir / target).is_file():
            kept.append(item)
    return kept


def listed_pages(nav: list[NavItem]) -> set[str]:
    """Every page path the nav links to."""
    pages: set[str] = set()
    for item in nav:
        target = item if isinstance(item, str) else next(iter(item.values()))
        if isinstance(target, list):
            pages |= listed_pages(target)
        else:
            pages.add(target)
    return pages


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem.replace("-", " ").title()


def _append(nav: list[NavItem], section: str, items: list[NavItem]) -> list[NavItem]:
    for item in nav:
        if isinstance(item, dict) and isinstance(item.get(section), list):
            item[section].extend(items)
            return nav
    return [*nav, {section: items}]


def add_unlisted(nav: list[NavItem], docs_dir: Path) -> list[NavItem]:
    """``nav`` with every page it does not list added: ``backends/*.md`` to "Backends",
    any other page to "More" (so a new page is never left out of the site)."""
    listed = listed_pages(nav)
    backends: list[NavItem] = []
    others: list[NavItem] = []
    for page in sorted(docs_dir.rglob("*.md")):
        path = page.relative_to(docs_dir).as_posix()
        if path in listed or path.startswith("_"):
            continue
        target = backends if path.startswith("backends/") else others
        target.append({_title(page): path})
    if backends:
        nav = _append(nav, BACKENDS_SECTION, backends)
    if others:
        nav = _append(nav, MORE_SECTION, others)
    return nav


def unlink_missing(markdown: str, page_path: str, missing: set[str]) -> str:
    """``markdown`` with links to the ``missing`` pages replaced by their text."""
    base = posixpath.dirname(page_path)

    def replace(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(base, match.group("target")))
        return match.group("text") if target in missing else match.group(0)

    return _LINK.sub(replace, markdown)


def on_config(config: Any, **kwargs: Any) -> Any:
    """MkDocs entry point: replace the configured nav with its tolerant version."""
    if config["nav"]:
        docs_dir = Path(config["docs_dir"])
        planned = listed_pages(config["nav"])
        config["nav"] = add_unlisted(prune(config["nav"], docs_dir), docs_dir)
        _planned_but_missing.clear()
        _planned_but_missing.update(planned - listed_pages(config["nav"]))
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs entry point: links to planned pages not written yet become plain text."""
    return unlink_missing(markdown, page.file.src_uri, _planned_but_missing)
