"""The case idempotency keys exist for, on every backend: a worker dies after its job
completed and before the ack, the broker delivers the message again, and the job does not
run again (the record said "done" before the ack was attempted)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

import brokerjobs
from brokerjobs import stores
from brokerjobs.backend import Backend, Delivery
from brokerjobs.errors import DeliveryLostError
from brokerjobs.store_memory import InMemoryStore
from brokerjobs.worker import Hooks, JobEvent, Worker
from tests.guards import jobs
from tests.support.harness import BackendHarness, eventually


@pytest.fixture
def store() -> AsyncIterator[InMemoryStore]:
    shared = InMemoryStore()  # both "workers" are in this process: one store for both
    previous = stores.override(shared)
    yield shared
    stores.override(previous)


def dies_before_acking(harness: BackendHarness, backend: Backend, acks: list[str]) -> None:
    """Make ``backend``'s worker die (kill -9 style) when it tries to ack."""

    async def ack(delivery: Delivery) -> None:
        acks.append(delivery.message_id)
        await harness.crash(backend)
        raise DeliveryLostError("the worker died before its ack reached the broker")

    backend.ack = ack  # type: ignore[method-assign]


async def test_a_redelivery_after_completion_is_acked_without_running(
    harness: BackendHarness, store: InMemoryStore
) -> None:
    queue = harness.queue("crash")
    key = uuid.uuid4().hex
    first = await harness.new_backend()
    await first.declare(queue)
    await brokerjobs.dispatch_async(jobs.Once(key=key), backend=first, queue=queue)
    attempted: list[str] = []
    dies_before_acking(harness, first, attempted)
    doomed = Worker(first, [queue], concurrency=1)
    running = asyncio.create_task(doomed.run())

    async def ran_once() -> bool:
        return bool(attempted)

    await eventually(ran_once, timeout=30)
    doomed.stop_now()
    await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 30)
    assert jobs.runs[f"once-{key}"] == 1

    events: list[JobEvent] = []
    hooks = Hooks()
    hooks.after(events.append)
    survivor = Worker(await harness.new_backend(), [queue], concurrency=1, hooks=hooks)
    task = asyncio.create_task(survivor.run())

    async def redelivered() -> bool:
        return bool(events)

    await eventually(redelivered, timeout=harness.redelivery_timeout + 30)
    survivor.request_stop()
    await asyncio.wait_for(task, 30)
    (event,) = events
    assert event.message_id == attempted[0] and event.attempt == 2  # a duplicate delivery
    assert event.duration is None, "the redelivered job ran again"
    assert jobs.runs[f"once-{key}"] == 1  # ... and not a duplicate completed run
