"""Tick claiming: how N schedulers agree that each tick is dispatched exactly once.

A :class:`TickClaimer` publishes a tick's message for the scheduler loop and says
whether this scheduler was the one to dispatch it. Implementations:

* :class:`StoreClaimer`: a tick key set-if-absent in a :class:`brokerjobs.Store` (SQL,
  Redis, DynamoDB, memory), then marked done once the broker confirmed the publish.
* :class:`~brokerjobs.schedules.broker_claims.LeaseClaimer`: one leader elected by the
  broker (RabbitMQ's exclusive queue), which records each tick in the same broker
  operation as the publish.
* :class:`~brokerjobs.schedules.broker_claims.DeduplicationClaimer`: every scheduler
  publishes every tick and the broker drops the copies (SQS FIFO deduplication).
* :class:`InProcessClaimer`: schedulers of one process (the in-memory backend).

:func:`~brokerjobs.schedules.choose.claimer_for` picks one for a backend.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
import weakref
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import ClassVar, Protocol, runtime_checkable

from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.schedules.declarations import Schedule, parse_tick, tick_text


class TickStore(Protocol):
    """The part of :class:`brokerjobs.Store` (``brokerjobs/store.py``) that claiming uses.

    Declared here structurally, so that any Store satisfies it.
    """

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool: ...

    async def get(self, key: str) -> bytes | None: ...

    async def compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float
    ) -> bool: ...


@runtime_checkable
class TickClaimer(Protocol):
    """What the scheduler loop needs to dispatch each tick once among many schedulers."""

    description: str
    """How ticks are claimed, for logs and ``brokerjobs schedule list``."""

    async def leadership(self) -> int | None:
        """None while this scheduler must not dispatch; else a term number.

        The loop forgets where it was (and asks :meth:`resume_point` again) whenever
        the term changes: a scheduler that lost and regained a lease must not trust
        what it remembered. Claimers without leaders always answer 0.
        """
        ...

    async def resume_point(self, schedule: Schedule, now: datetime) -> datetime | None:
        """The last tick known to be handled, or None when nothing is known (start now)."""
        ...

    async def publish(
        self, schedule: Schedule, tick: datetime, queue: str, message: OutgoingMessage
    ) -> bool:
        """Dispatch ``tick``'s message once; False when another scheduler dispatched it.

        Raises :class:`~brokerjobs.errors.BrokerUnavailableError` when the outcome is
        unknown; the loop retries with the same message.
        """
        ...

    async def aclose(self) -> None:
        """Give up leases and connections. Idempotent."""
        ...


def owner_id() -> str:
    """This scheduler's identity in claims: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class _ProcessClaims:
    """What the schedulers of one process on one backend have claimed."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.claimed: OrderedDict[str, None] = OrderedDict()
        self.last: dict[str, datetime] = {}


class InProcessClaimer:
    """Claims within one process: for the in-memory backend, whose queues are per process."""

    description = "in-process (the in-memory backend's schedulers share this process)"
    # Per backend object, shared by every scheduler of the process; gone with the backend.
    _spaces: ClassVar[weakref.WeakKeyDictionary[Backend, _ProcessClaims]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._claims = self._spaces.setdefault(backend, _ProcessClaims())

    async def leadership(self) -> int | None:
        return 0

    async def resume_point(self, schedule: Schedule, now: datetime) -> datetime | None:
        return self._claims.last.get(schedule.name)

    async def publish(
        self, schedule: Schedule, tick: datetime, queue: str, message: OutgoingMessage
    ) -> bool:
        claims = self._claims
        if message.message_id in claims.claimed:
            return False
        claims.claimed[message.message_id] = None
        try:
            await self.backend.publish(queue, message)
        except BaseException:
            del claims.claimed[message.message_id]  # not sent: the next try may claim it
            raise
        if len(claims.claimed) > claims.LIMIT:
            claims.claimed.popitem(last=False)
        claims.last[schedule.name] = max(tick, claims.last.get(schedule.name, tick))
        return True

    async def aclose(self) -> None:
        return None


DONE = b"done"


class StoreClaimer:
    """A tick key set-if-absent per tick, in a :class:`brokerjobs.Store`.

    ``set_if_absent(tick, b"pending:<owner>", ttl=lease)`` makes this scheduler the
    tick's owner; after the broker confirmed the publish the key becomes ``done`` (kept
    for ``retention``). A scheduler that finds a tick pending under another owner waits
    for it to become done, or for the lease to expire (its owner died before
    publishing): then it claims and publishes the tick itself.

    Where this can still double a tick: the owner dies after the broker confirmed the
    publish and before it wrote ``done`` (a few milliseconds); after ``lease`` seconds
    another scheduler publishes it again, with the same message id.
    """

    def __init__(
        self,
        store: TickStore,
        backend: Backend,
        *,
        prefix: str = "brokerjobs:schedule:",
        lease: float = 15.0,
        retention: float = 7 * 86_400.0,
        poll: float = 0.1,
    ) -> None:
        self.store = store
        self.backend = backend
        self.prefix = prefix
        self.lease = lease
        self.retention = retention
        self.poll = poll
        self.owner = owner_id()
        self.description = f"store ({type(store).__name__}): a tick key set-if-absent"

    def _tick_key(self, schedule: Schedule, tick: datetime) -> str:
        return f"{self.prefix}{schedule.name}:tick:{tick_text(tick)}"

    def _last_key(self, schedule: Schedule) -> str:
        return f"{self.prefix}{schedule.name}:last"

    async def leadership(self) -> int | None:
        return 0

    async def resume_point(self, schedule: Schedule, now: datetime) -> datetime | None:
        value = await self.store.get(self._last_key(schedule))
        return parse_tick(value.decode()) if value else None

    async def publish(
        self, schedule: Schedule, tick: datetime, queue: str, message: OutgoingMessage
    ) -> bool:
        key = self._tick_key(schedule, tick)
        token = f"pending:{self.owner}".encode()
        while not await self.store.set_if_absent(key, token, ttl=self.lease):
            value = await self.store.get(key)
            if value == token:
                break  # ours: a retry after an unknown outcome
            if value == DONE:
                await self._advance_last(schedule, tick)
                return False
            if value is not None:
                # Another scheduler is publishing it: wait until it is done, or until its
                # lease expires (it died before publishing) and the tick is ours to take.
                await asyncio.sleep(self.poll)
        await self.backend.publish(queue, message)
        await self.store.compare_and_set(key, token, DONE, ttl=self.retention)
        await self._advance_last(schedule, tick)
        return True

    async def _advance_last(self, schedule: Schedule, tick: datetime) -> None:
        """Move the schedule's last-tick record forward to ``tick`` (never back)."""
        key = self._last_key(schedule)
        value = tick_text(tick).encode()
        ttl = self.retention
        for _ in range(10):
            current = await self.store.get(key)
            if current is None:
                if await self.store.set_if_absent(key, value, ttl=ttl):
                    return
                continue
            if parse_tick(current.decode()) >= tick:
                return
            if await self.store.compare_and_set(key, current, value, ttl=ttl):
                return

    async def aclose(self) -> None:
        return None


def lookback(schedule: Schedule, now: datetime, window: float) -> datetime:
    """``now`` minus the misfire grace, bounded by a deduplication ``window`` (seconds)."""
    return now - timedelta(seconds=min(schedule.misfire.grace, window))
