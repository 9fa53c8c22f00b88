"""Memory-only worker tests: reconnection after a dropped connection, lease heartbeat.

A harness ``crash`` kills a backend for good (like kill -9), so re-subscribing on the
same instance is only testable where the backend can come back: the memory backend's
``crash()`` drops the connection and lets the next ``consume`` reconnect.
"""

from __future__ import annotations

import asyncio
import uuid

from brokerjobs import dispatch_async
from brokerjobs.errors import BrokerUnavailableError
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.worker import CallNext, JobEvent, Reconnect, Worker
from tests.support.harness import eventually
from tests.worker import jobs


async def test_worker_resubscribes_after_the_connection_drops_and_never_settles_stale() -> None:
    store = MemoryStore()
    backend, producer = MemoryBackend(store), MemoryBackend(store)
    token = uuid.uuid4().hex
    outcomes: list[tuple[int, str | None]] = []

    async def watch(event: JobEvent, call_next: CallNext) -> None:
        await call_next()
        outcomes.append((event.attempt, event.outcome))

    worker = Worker(
        backend, ["q"], concurrency=2, middleware=[watch], reconnect=Reconnect(base=0.05, cap=0.2)
    )
    task = asyncio.create_task(worker.run())
    await dispatch_async(jobs.Sleep(token=token, seconds=0.5), backend=producer, queue="q")
    await eventually(lambda: _count(token, 1))
    backend.crash()
    await dispatch_async(jobs.Succeed(token=token + "after"), backend=producer, queue="q")
    await eventually(lambda: _count(token + "after", 1))
    await eventually(lambda: _count(token + ":done", 2))

    async def drained() -> bool:
        stats = await producer.stats("q")
        return (stats.ready, stats.in_flight, stats.dead) == (0, 0, 0)

    await eventually(drained)
    worker.request_stop()
    assert await asyncio.wait_for(task, 10) is True
    # The first run finished after its connection died: not settled (the broker had
    # already given it back); the redelivery ran and was acked.
    assert (1, "lost") in outcomes and (2, "ack") in outcomes
    assert len(jobs.runs(token + "after")) == 1


async def test_heartbeat_keeps_running_and_buffered_deliveries_owned() -> None:
    store = MemoryStore()
    backend, rival = MemoryBackend(store, lease=0.6), MemoryBackend(store, lease=0.6)
    token = uuid.uuid4().hex
    await dispatch_async(jobs.Sleep(token=token, seconds=2.0), backend=backend, queue="q")
    await dispatch_async(jobs.Succeed(token=token + "next"), backend=backend, queue="q")
    worker = Worker(backend, ["q"], concurrency=1, prefetch=1)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _count(token, 1))
    subscription = await rival.consume(["q"], prefetch=1)
    try:
        # Both leases (0.6 s) would lapse several times over during the 2 s job.
        taken = await asyncio.wait_for(anext(subscription), 2.5)
    except TimeoutError:
        taken = None
    finally:
        await subscription.stop()
    assert taken is None, "a held delivery was redelivered to another consumer"
    await eventually(lambda: _count(token + "next", 1))
    worker.request_stop()
    assert await asyncio.wait_for(task, 10) is True
    assert len(jobs.runs(token)) == 1 and len(jobs.runs(token + "next")) == 1


async def _count(token: str, count: int) -> bool:
    return len(jobs.runs(token)) >= count


class FlakyDeclare(MemoryBackend):
    """Unreachable for the first ``failures`` declares."""

    def __init__(self, store: MemoryStore, failures: int) -> None:
        super().__init__(store)
        self.failures = failures

    async def declare(self, queue: str) -> None:
        if self.failures:
            self.failures -= 1
            raise BrokerUnavailableError("connection refused (simulated)")
        await super().declare(queue)


async def test_worker_waits_for_an_unreachable_broker_at_start() -> None:
    store = MemoryStore()
    backend = FlakyDeclare(store, failures=3)
    token = uuid.uuid4().hex
    await dispatch_async(jobs.Succeed(token=token), backend=MemoryBackend(store), queue="q")
    worker = Worker(backend, ["q"], reconnect=Reconnect(base=0.05, cap=0.1), stop_when_idle=True)
    assert await asyncio.wait_for(worker.run(), 10) is True
    assert backend.failures == 0 and len(jobs.runs(token)) == 1


async def test_a_stop_request_ends_the_wait_for_the_broker_at_once() -> None:
    backend = FlakyDeclare(MemoryStore(), failures=1000)
    worker = Worker(backend, ["q"], reconnect=Reconnect(base=30, cap=30, jitter=0))
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _declared_once(backend))
    worker.request_stop()
    assert await asyncio.wait_for(task, 2) is True


async def _declared_once(backend: FlakyDeclare) -> bool:
    return backend.failures < 1000
