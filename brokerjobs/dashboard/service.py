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
FIND_STEPS = (100, 1000, ops.SCAN_LIMIT)


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
        """One page of queue counts: fresh samples where there are, ``stats`` otherwise."""
        size = self.settings.page_size
        names = self.queues[(number - 1) * size : number * size]
        rows = []
        for name in names:
            fresh = self.history.fresh(name, self.settings.sample_interval)
            rows.append(fresh if fresh is not None else await self.queue_stats(name))
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
        """One page of dead letters; pages reach the first :data:`~ops.SCAN_LIMIT` letters."""
        size = self.settings.page_size
        start = (number - 1) * size
        end = min(start + size, ops.SCAN_LIMIT)
        if where.active:  # the backend lists, it does not search: scan as the CLI does
            found = await self.backend.dead_letters(queue, limit=ops.SCAN_LIMIT)
            kept = [d for d in found if where.keeps(d)]
            return Page(kept[start:end], number, len(kept) > end, len(kept))
        # Read up to this page only, and one more to tell whether a next page exists.
        found = await self.backend.dead_letters(queue, limit=min(end + 1, ops.SCAN_LIMIT))
        return Page(found[start:end], number, len(found) > end)

    async def find_letter(self, queue: str, message_id: str) -> DeadLetter | None:
        """The dead letter with exactly this id (None when gone).

        Read in growing steps up to :data:`~ops.SCAN_LIMIT` letters: a letter opened from
        the first page is found after reading 100, not 10,000 (RabbitMQ reads one message
        per round trip).
        """
        for limit in FIND_STEPS:
            found = await self.backend.dead_letters(queue, limit=limit)
            for dead in found:
                if dead.message_id == message_id:
                    return dead
            if len(found) < limit:
                return None
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
