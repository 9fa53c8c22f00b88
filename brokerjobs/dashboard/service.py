"""What the pages and the JSON API ask of the backend, in one place.

Everything goes through the backend contract (``stats``, ``dead_letters``,
``replay_dead_letters``, ``purge_dead_letters``) and, for dead letters, through
:mod:`brokerjobs.dead_letter_ops`, the code ``brokerjobs dlq`` runs: a replay from the
page moves the same letters as the same command would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from brokerjobs import dead_letter_ops as ops
from brokerjobs.backend import Backend, DeadLetter, QueueStats
from brokerjobs.dashboard.history import History
from brokerjobs.dashboard.settings import DashboardSettings
from brokerjobs.errors import BrokerJobsError, QueueNotFoundError
from brokerjobs.telemetry.redact import redact

log = logging.getLogger("brokerjobs.dashboard")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """The dead-letter list's filters; all optional, combined with AND."""

    job: str | None = None
    """Job name, full or class name (as ``brokerjobs dlq list --filter job=NAME``)."""
    reason: str | None = None
    """Text the reason contains (case-insensitive)."""
    since: datetime | None = None
    """Dead-lettered at or after (letters without a time never match)."""

    @property
    def active(self) -> bool:
        return bool(self.job or self.reason or self.since)

    def keeps(self, dead: DeadLetter) -> bool:
        if not ops.matches(dead, self.job):
            return False
        if self.reason and self.reason.casefold() not in dead.reason.casefold():
            return False
        if self.since is not None:
            when = dead.dead_lettered_at
            if when is None or when < self.since:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    number: int
    """1-based."""
    has_next: bool
    total: int | None = None
    """All rows, where known without reading them all."""


class Dashboard:
    """One backend, the queues shown, and the samples kept for the charts."""

    def __init__(
        self, backend: Backend, queues: Sequence[str], settings: DashboardSettings
    ) -> None:
        self.backend = backend
        self.queues = list(dict.fromkeys(queues))
        self.settings = settings
        self.history = History(settings.history_size)
        self.undeclared: set[str] = set()
        """Queues the broker does not know yet (no worker or dispatch declared them)."""

    @property
    def backend_description(self) -> str:
        """The backend's name and where it points, secrets redacted."""
        where = _location(self.backend)
        return f"{self.backend.name} ({redact(where)})" if where else self.backend.name

    # -- queues ----------------------------------------------------------------------
    async def queue_page(self, number: int) -> Page[QueueStats]:
        size = self.settings.page_size
        names = self.queues[(number - 1) * size : number * size]
        rows = [await self.queue_stats(name) for name in names]
        return Page(rows, number, number * size < len(self.queues), len(self.queues))

    async def queue_stats(self, queue: str) -> QueueStats:
        """``stats(queue)``, sampled; zeros (and listed in :attr:`undeclared`) if no queue yet."""
        try:
            stats = await self.backend.stats(queue)
        except QueueNotFoundError:
            self.undeclared.add(queue)
            return QueueStats(queue, ready=0, in_flight=0, delayed=0, dead=0)
        self.undeclared.discard(queue)
        self.history.add(stats)
        return stats

    async def sample_forever(self) -> None:
        """Sample every queue each ``sample_interval`` seconds (runs for the app's life)."""
        while True:
            for name in self.queues:
                try:
                    await self.queue_stats(name)
                except BrokerJobsError as exc:  # the broker may come back: keep sampling
                    log.warning("could not sample %s: %s", name, exc)
            await asyncio.sleep(self.settings.sample_interval)

    # -- dead letters ----------------------------------------------------------------
    async def letter_page(self, queue: str, number: int, where: LetterFilter) -> Page[DeadLetter]:
        size = self.settings.page_size
        if where.active:  # the backend lists, it does not search: scan as the CLI does
            found = [d for d in await self.backend.dead_letters(queue, limit=ops.SCAN_LIMIT)]
            kept = [d for d in found if where.keeps(d)]
            start = (number - 1) * size
            return Page(kept[start : start + size], number, len(kept) > start + size, len(kept))
        wanted = number * size + 1  # one more tells whether a next page exists
        found = await self.backend.dead_letters(queue, limit=wanted)
        start = (number - 1) * size
        return Page(found[start : start + size], number, len(found) > start + size)

    async def find_letter(self, queue: str, message_id: str) -> DeadLetter | None:
        """The dead letter with exactly this id (None when gone)."""
        for dead in await self.backend.dead_letters(queue, limit=ops.SCAN_LIMIT):
            if dead.message_id == message_id:
                return dead
        return None

    async def replay(self, queue: str, *, ids: Sequence[str] = (), job: str | None = None) -> int:
        return await ops.replay(self.backend, queue, ids=ids, job=job)

    async def purge(self, queue: str) -> int:
        return await ops.purge(self.backend, queue)

    async def close(self) -> None:
        with contextlib.suppress(BrokerJobsError):
            await self.backend.aclose()
        self.backend.close()


def _location(backend: Backend) -> str:
    settings = getattr(backend, "settings", None)
    for attribute in ("url", "path", "endpoint_url"):
        value = getattr(settings, attribute, None)
        if value is None:
            continue
        secret = getattr(value, "get_secret_value", None)
        return str(secret() if callable(secret) else value)
    return ""
