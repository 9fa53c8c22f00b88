"""MkDocs hook: a nav that tolerates pages not written yet.

``mkdocs build --strict`` fails on a nav entry whose page does not exist. Several pages
are written by different people at different times, so the nav in ``mkdocs.yml`` lists
every planned page and this hook drops the ones that are missing (and sections left
empty), instead of shipping placeholder pages. Backend pages under ``backends/`` that the
nav does not list yet are appended to the "Backends" section, so a new backend's page is
published as soon as it exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NavItem = str | dict[str, Any]

BACKENDS_SECTION = "Backends"


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


def on_config(config: Any, **kwargs: Any) -> Any:
    """MkDocs entry point: replace the configured nav with its tolerant version."""
    if config["nav"]:
        docs_dir = Path(config["docs_dir"])
        config["nav"] = add_unlisted_backends(prune(config["nav"], docs_dir), docs_dir)
    return config
