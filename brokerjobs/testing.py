"""Testing helpers for services using brokerjobs (also a pytest plugin).

Inside :func:`fake_broker` (or the ``fake_broker`` pytest fixture) every backend, by
name or by default, is one in-memory backend with a fake clock: ``dispatch()`` works
without any broker, :meth:`FakeBroker.dispatched` shows what was sent, and
:meth:`FakeBroker.drain` runs the queued jobs through the real :class:`~brokerjobs.Worker`
until nothing is left, jumping the fake clock over delays and retry backoffs::

    def test_signup_sends_a_welcome_email(fake_broker):
        signup(user_id=42)                       # calls dispatch(SendWelcomeEmail(...))
        assert fake_broker.dispatched(SendWelcomeEmail) == [SendWelcomeEmail(user_id=42)]
        assert fake_broker.drain().succeeded == 1
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from brokerjobs import discovery
from brokerjobs.backend import DeadLetter, OutgoingMessage
from brokerjobs.clock import FakeClock
from brokerjobs.job import Job, registry
from brokerjobs.memory import MemoryBackend
from brokerjobs.options import DEFAULT_QUEUE
from brokerjobs.store_memory import InMemoryStore
from brokerjobs.worker import Hooks, JobEvent, Worker
from brokerjobs.worker.hooks import CallNext

J = TypeVar("J", bound=Job)

MAX_CLOCK_JUMP = 400 * 24 * 3600.0
"""drain() gives up waiting for delayed messages further away than this (fake) time."""


@dataclass(frozen=True, slots=True)
class Sent:
    """One dispatched message as the fake broker received it."""

    queue: str
    message_id: str
    job_name: str
    payload: dict[str, Any]
    delay: float


@dataclass(slots=True)
class DrainResult:
    """What :meth:`FakeBroker.drain` ran."""

    events: list[JobEvent] = field(default_factory=list)

    def _count(self, outcome: str) -> int:
        return sum(1 for event in self.events if event.outcome == outcome)

    @property
    def succeeded(self) -> int:
        return self._count("ack")

    @property
    def retried(self) -> int:
        return self._count("retry")

    @property
    def dead_lettered(self) -> int:
        return self._count("dead_letter")

    @property
    def deferred(self) -> int:
        """Deliveries put back unrun by a rate or concurrency limit or a busy key."""
        return self._count("deferred")

    @property
    def skipped(self) -> int:
        """Deliveries acked without running (their idempotency key was already completed)."""
        return sum(1 for event in self.events if event.outcome == "ack" and event.duration is None)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by job runs, in order (including retried ones)."""
        return [event.error for event in self.events if event.error is not None]


class RecordingMemoryBackend(MemoryBackend):
    """A memory backend that remembers every message published to it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock, lease=3600.0)
        self.sent: list[Sent] = []

    def _record(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            try:
                document = json.loads(message.body)
                job_name, payload = str(document["job"]), dict(document["payload"])
            except (ValueError, KeyError, TypeError):
                job_name, payload = "", {}
            self.sent.append(Sent(queue, message.message_id, job_name, payload, message.delay))

    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        self._record(queue, [message])
        await super().publish(queue, message)

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self._record(queue, messages)
        await super().publish_batch(queue, messages)

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        self._record(queue, [message])
        super().publish_sync(queue, message)

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self._record(queue, messages)
        super().publish_batch_sync(queue, messages)


class FakeBroker:
    """The in-memory stand-in for every broker during a test."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.backend = RecordingMemoryBackend(self.clock)

    @overload
    def dispatched(self, job_type: type[J]) -> list[J]: ...
    @overload
    def dispatched(self, job_type: None = None) -> list[Job]: ...
    def dispatched(self, job_type: type[Job] | None = None) -> list[Any]:
        """Jobs dispatched so far (optionally only of ``job_type``), rebuilt from the wire."""
        jobs: list[Job] = []
        for sent in self.backend.sent:
            if sent.job_name not in registry:
                continue
            cls = registry.get(sent.job_name)
            if job_type is None or issubclass(cls, job_type):
                jobs.append(cls.model_validate(sent.payload))
        return jobs

    @property
    def store(self) -> InMemoryStore:
        """The coordination store the guards use (on the fake clock): assert on its keys."""
        return self.backend.coordination_store()

    @property
    def sent(self) -> list[Sent]:
        """Every message published, with queue, id and delay."""
        return list(self.backend.sent)

    def queues(self) -> list[str]:
        """Queues that received messages, in first-use order (``default`` first)."""
        names = [DEFAULT_QUEUE]
        for sent in self.backend.sent:
            if sent.queue not in names:
                names.append(sent.queue)
        return names

    def dead_letters(self, queue: str = DEFAULT_QUEUE) -> list[DeadLetter]:
        return self.backend.store.dead_letters(queue, 10_000)

    def drain(
        self, queues: Sequence[str] | None = None, *, run_delayed: bool = True
    ) -> DrainResult:
        """Run queued jobs until the queues are empty (see :meth:`drain_async`)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.drain_async(queues, run_delayed=run_delayed))
        raise RuntimeError("drain() cannot run inside an event loop; use await drain_async()")

    async def drain_async(
        self, queues: Sequence[str] | None = None, *, run_delayed: bool = True
    ) -> DrainResult:
        """Run the real worker over ``queues`` (default: every queue used) until idle.

        With ``run_delayed``, the fake clock then jumps to the next delayed message
        (a ``delay=``, an ETA, a retry's backoff) and the worker runs again, until no
        message is left. Jobs run one at a time, in queue order.
        """
        result = DrainResult()
        hooks = Hooks()
        hooks.after(result.events.append)
        hooks.on_retry(result.events.append)
        hooks.on_dead_letter(result.events.append)

        async def record_deferred(event: JobEvent, call_next: CallNext) -> None:
            await call_next()
            if event.outcome == "deferred":
                result.events.append(event)

        while True:
            names = list(queues) if queues is not None else self.queues()
            worker = Worker(
                self.backend,
                names,
                concurrency=1,
                prefetch=1,
                hooks=hooks,
                middleware=[record_deferred],
                stop_when_idle=True,
                shutdown_timeout=0,
                priority_grace=0.001,
            )
            await worker.run()
            if not run_delayed or not await self._skip_to_next_delayed(names):
                return result

    async def _skip_to_next_delayed(self, queues: Sequence[str]) -> bool:
        async def pending() -> tuple[int, int]:
            ready = delayed = 0
            for name in queues:
                stats = await self.backend.stats(name)
                ready, delayed = ready + stats.ready, delayed + stats.delayed
            return ready, delayed

        ready, delayed = await pending()
        jumped, step = 0.0, 0.25
        while not ready and delayed and jumped < MAX_CLOCK_JUMP:
            self.clock.advance(step)
            jumped += step
            step *= 2
            ready, delayed = await pending()
        return ready > 0


_active: list[FakeBroker] = []


@contextmanager
def fake_broker() -> Iterator[FakeBroker]:
    """Swap every backend for one in-memory :class:`FakeBroker` until the block ends."""
    broker = FakeBroker()
    previous = discovery.override(broker.backend)
    _active.append(broker)
    try:
        yield broker
    finally:
        _active.remove(broker)
        discovery.override(previous)


def current() -> FakeBroker:
    """The active fake broker (inside :func:`fake_broker` or the pytest fixture)."""
    if not _active:
        raise RuntimeError("no fake broker is active: use the fake_broker fixture or context")
    return _active[-1]


def dispatched(job_type: type[Job] | None = None) -> list[Job]:
    """Jobs dispatched to the active fake broker (see :meth:`FakeBroker.dispatched`)."""
    return current().dispatched(job_type)


def drain(queues: Sequence[str] | None = None, *, run_delayed: bool = True) -> DrainResult:
    """Run the active fake broker's queued jobs until none is left."""
    return current().drain(queues, run_delayed=run_delayed)


async def drain_async(
    queues: Sequence[str] | None = None, *, run_delayed: bool = True
) -> DrainResult:
    """Async twin of :func:`drain`."""
    return await current().drain_async(queues, run_delayed=run_delayed)


try:  # the pytest plugin part; the helpers above work without pytest
    import pytest
except ImportError:  # pragma: no cover
    pass
else:

    @pytest.fixture(name="fake_broker")
    def _fake_broker_fixture() -> Iterator[FakeBroker]:
        """Every backend is one in-memory fake broker during the test."""
        with fake_broker() as broker:
            yield broker
