"""MkDocs hook: a nav that tolerates pages not written yet.

``mkdocs build --strict`` fails on a nav entry whose page does not exist. Several pages
are written by different people at different times, so the nav in ``mkdocs.yml`` lists
every planned page and this hook drops the ones that are missing (and sections left
empty), instead of shipping placeholder pages. Backend pages under ``backends/`` that the
nav does not list yet are appended to the "Backends" section, so a new backend's page is
published as soon as it exists.

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


def add_unlisted_backends(nav: list[NavItem], docs_dir: Path) -> list[NavItem]:
    """``nav`` with every ``backends/*.md`` page it does not list added to its Backends section."""
    listed = listed_pages(nav)
    extra: list[NavItem] = [
        {_title(page): page.relative_to(docs_dir).as_posix()}
        for page in sorted((docs_dir / "backends").glob("*.md"))
        if page.relative_to(docs_dir).as_posix() not in listed
    ]
    if not extra:
        return nav
    for item in nav:
        if isinstance(item, dict) and isinstance(item.get(BACKENDS_SECTION), list):
            item[BACKENDS_SECTION].extend(extra)
            return nav
    return [*nav, {BACKENDS_SECTION: extra}]


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
        config["nav"] = add_unlisted_backends(prune(config["nav"], docs_dir), docs_dir)
        _planned_but_missing.clear()
        _planned_but_missing.update(planned - listed_pages(config["nav"]))
    return config


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs entry point: links to planned pages not written yet become plain text."""
    return unlink_missing(markdown, page.file.src_uri, _planned_but_missing)
