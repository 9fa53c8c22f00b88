"""The navigation's sections, and the place where later features add theirs.

Workflows (batches, sagas) and schedules are being built apart from the dashboard.
When they land, each adds a :class:`Section` with its routes to
:data:`DEFAULT_SECTIONS` (or passes it to :func:`brokerjobs.dashboard.create_app`), and
the page appears in the navigation with the same authentication, CSRF and read-only
rules as the rest: those are enforced for every route, not per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.routing import BaseRoute


@dataclass(frozen=True, slots=True)
class Section:
    """One entry of the navigation: a title, the path it links to, and its routes."""

    key: str
    title: str
    path: str
    routes: Sequence[BaseRoute] = field(default_factory=tuple)
    """Extra routes the section serves (the built-in ones live in pages.py/api.py)."""


DEFAULT_SECTIONS: tuple[Section, ...] = (
    Section("queues", "Queues", "/queues"),
    Section("workers", "Workers", "/workers"),
)


def sections_of(app: Starlette) -> Sequence[Section]:
    sections: Sequence[Section] = app.state.sections
    return sections
