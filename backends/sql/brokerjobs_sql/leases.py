"""Leases: the receipt a delivery carries, and the heartbeat that keeps live ones owned.

While a consumer process lives, every row it claimed (buffered or being worked on) has its
lease pushed forward every third of the lease, so only a dead or frozen process loses
its rows: they come back once the lease runs out, as RabbitMQ gives back a dead
connection's messages. :meth:`Backend.extend` still lengthens a single lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from brokerjobs.errors import BackendError

if TYPE_CHECKING:
    from brokerjobs_sql.subscription import SQLSubscription

log = logging.getLogger("brokerjobs.sql")


@dataclass(frozen=True, slots=True)
class RowLease:
    """The receipt of a delivery: which row, under which claim token, for which consumer."""

    row_id: int
    token: str
    owner: SQLSubscription | None = field(default=None, compare=False, repr=False)


class LeaseKeeper:
    """Counts rows held per claim token and extends them all on a timer."""

    def __init__(
        self, extend: Callable[[list[str]], Awaitable[int]], interval: Callable[[], float]
    ) -> None:
        self._extend = extend
        self._interval = interval
        self._held: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def hold(self, token: str, rows: int) -> None:
        """Start keeping ``rows`` rows claimed under ``token`` (call on the event loop)."""
        self._held[token] += rows
        task = self._task
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._beat(), name="brokerjobs-sql-heartbeat")

    def drop(self, token: str) -> None:
        """One row of ``token`` was settled or released."""
        self._held[token] -= 1
        if self._held[token] <= 0:
            del self._held[token]

    @property
    def held(self) -> int:
        """Rows currently kept alive."""
        return sum(self._held.values())

    def stop(self) -> None:
        """Stop the heartbeat (leases then run out on their own)."""
        self._held.clear()
        if self._task is not None and not self._task.done():
            with contextlib.suppress(RuntimeError):  # its loop is already closed
                self._task.cancel()
        self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            tokens = list(self._held)
            if not tokens:
                self._task = None  # nothing held: the next hold() starts a new beat
                return
            try:
                await self._extend(tokens)
            except BackendError as exc:
                # The next beat tries again; if the database stays away, leases lapse
                # and the rows are redelivered, which is the promised outcome.
                log.warning("lease heartbeat failed: %s", exc)
