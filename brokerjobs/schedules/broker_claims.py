"""Tick claiming with the broker alone, for deployments that have no Store.

Two backend capabilities, typed optional protocols that a backend implements when its
broker can do this (checked with ``isinstance``; no backend knows about schedules):

:class:`SchedulerLeaseSupport` (RabbitMQ)
    A leader lease the broker guarantees to one connection at a time (an exclusive
    queue), and a *journal*: the publish of a tick's message also records it, in the same
    broker operation, as the schedule's latest tick. The leader dispatches; when it dies
    (its connection closes) another scheduler takes the lease and reads the journal, so
    it continues exactly after the last tick the broker accepted: none missed, none twice.
    Publishes go over the lease's own connection, so a scheduler that lost its lease
    cannot publish at all.

:class:`DeduplicationSupport` (SQS FIFO queues)
    The broker drops a message whose id it saw in the last ``window`` seconds (SQS's
    ``MessageDeduplicationId``, 5 minutes). Every scheduler publishes every tick; the
    broker keeps one. Needs no leader and no failover, but only works for ticks
    re-published within the window: a restart looks back at most ``window - margin``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.errors import BrokerUnavailableError, PublishRejectedError
from brokerjobs.schedules.claiming import lookback
from brokerjobs.schedules.declarations import Schedule, tick_of

DEDUPLICATION_MARGIN = 60.0
"""Seconds kept clear of the end of the broker's deduplication window."""


class SchedulerLease(Protocol):
    """A broker-held leader lease with a per-schedule journal of the latest tick."""

    @property
    def held(self) -> bool:
        """Whether this process holds the lease right now (its connection is open)."""
        ...

    @property
    def term(self) -> int:
        """Counts acquisitions: changes whenever the lease was lost and taken again."""
        ...

    async def acquire(self) -> bool:
        """Try once to take the lease; False at once when another process holds it."""
        ...

    async def latest(self, journal: str) -> str | None:
        """The message id last published to ``journal`` (by any leader), or None."""
        ...

    async def publish(self, queue: str, message: OutgoingMessage, journal: str) -> None:
        """Publish to ``queue`` and, in the same broker operation, record it in ``journal``.

        Raises :class:`~brokerjobs.errors.BrokerUnavailableError` when the lease is not
        held (nothing is sent) or the outcome is unknown.
        """
        ...

    async def aclose(self) -> None:
        """Release the lease (close its connection). Idempotent."""
        ...


@runtime_checkable
class SchedulerLeaseSupport(Protocol):
    """A backend that can elect a scheduler leader (see the module docstring)."""

    def scheduler_lease(self, group: str) -> SchedulerLease:
        """A lease shared by every scheduler of ``group``."""
        ...


@runtime_checkable
class DeduplicationSupport(Protocol):
    """A backend whose broker drops repeated message ids on some queues."""

    def deduplication_window(self, queue: str) -> float | None:
        """Seconds during which ``queue`` drops a repeated message id; None if it does not."""
        ...


class LeaseClaimer:
    """Only the lease holder dispatches; each publish also journals the tick."""

    def __init__(self, lease: SchedulerLease, group: str) -> None:
        self.lease = lease
        self.group = group
        self.description = f"broker lease (group {group!r}): one leader, a journal per schedule"
        self._unsure: str | None = None  # a message whose publish outcome is unknown

    async def leadership(self) -> int | None:
        if self.lease.held or await self.lease.acquire():
            return self.lease.term
        return None

    async def resume_point(self, schedule: Schedule, now: datetime) -> datetime | None:
        latest = await self.lease.latest(schedule.name)
        return tick_of(latest, schedule.name) if latest else None

    async def publish(
        self, schedule: Schedule, tick: datetime, queue: str, message: OutgoingMessage
    ) -> bool:
        if not self.lease.held:
            raise BrokerUnavailableError("the scheduler lease was lost; not dispatching")
        # The last try may have reached the broker (a confirm timed out): the journal says
        # whether it did. Rejections are not unsure: the broker refused the message.
        if (
            self._unsure == message.message_id
            and await self.lease.latest(schedule.name) == message.message_id
        ):
            self._unsure = None
            return True
        self._unsure = message.message_id
        try:
            await self.lease.publish(queue, message, schedule.name)
        except PublishRejectedError:
            self._unsure = None  # refused, not unknown: publish again next time
            raise
        self._unsure = None
        return True

    async def aclose(self) -> None:
        await self.lease.aclose()


class DeduplicationClaimer:
    """Every scheduler publishes every tick; the broker keeps the first copy."""

    def __init__(self, backend: Backend, window: float) -> None:
        self.backend = backend
        self.window = window
        self.description = (
            f"broker deduplication ({window:g} s window): every scheduler publishes, "
            "the broker keeps one copy"
        )

    async def leadership(self) -> int | None:
        return 0

    async def resume_point(self, schedule: Schedule, now: datetime) -> datetime | None:
        # Nothing is recorded: look back as far as the broker still drops copies.
        return lookback(schedule, now, self.window - DEDUPLICATION_MARGIN)

    async def publish(
        self, schedule: Schedule, tick: datetime, queue: str, message: OutgoingMessage
    ) -> bool:
        await self.backend.publish(queue, message)
        return True

    async def aclose(self) -> None:
        return None
