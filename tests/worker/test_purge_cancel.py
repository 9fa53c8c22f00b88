"""Purge and cancel, the optional capabilities, on every backend (issue 14, item 21)."""

from __future__ import annotations

from datetime import timedelta

from brokerjobs.backend import Backend, Delivery, Subscription
from brokerjobs.capabilities import Cancellable, Purgeable
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, make_worker, running, send

CANNOT_CANCEL = {"rabbitmq", "sqs"}
"""Brokers that hand a queue's messages out in order and cannot delete one by id."""


async def held_and_dead(backend: Backend, queue: str, token: str) -> tuple[Subscription, Delivery]:
    """One message dead-lettered and one held (fetched, unsettled) by a subscription."""
    dead_id = await send(backend, queue, jobs.GiveUp(token=f"{token}-dead"))
    async with running(make_worker(backend, [queue], stop_when_idle=True)):
        await dead_letter(backend, queue, dead_id, timeout=30)
    held_id = await send(backend, queue, jobs.Succeed(token=f"{token}-held"))
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await anext(subscription)
    assert delivery.message_id == held_id
    return subscription, delivery


async def test_every_backend_can_purge(backend: Backend) -> None:
    assert isinstance(backend, Purgeable)


async def test_purge_deletes_ready_and_delayed_but_not_dead_letters(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    assert isinstance(backend, Purgeable)
    subscription, held = await held_and_dead(backend, queue, token)
    for index in range(3):
        await send(backend, queue, jobs.Succeed(token=f"{token}-{index}"))
    await send(backend, queue, jobs.Succeed(token=f"{token}-later"), delay=timedelta(hours=1))

    async def counted() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.delayed) == (3, 1)

    await eventually(counted, timeout=10)
    deleted = await backend.purge(queue)
    if harness.name == "sqs":
        assert deleted is None  # PurgeQueue does not say; it takes in-flight ones too
    else:
        assert deleted == 4

    async def purged() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.delayed, stats.dead) == (0, 0, 1)

    await eventually(purged, timeout=70)
    if harness.name != "sqs":
        assert (await backend.stats(queue)).in_flight == 1, "the held message stays"
        await backend.ack(held)
    await subscription.stop()


async def test_cancel_deletes_one_waiting_message_and_nothing_else(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    if harness.name in CANNOT_CANCEL:
        assert not isinstance(backend, Cancellable)
        return
    assert isinstance(backend, Cancellable)
    subscription, held = await held_and_dead(backend, queue, token)
    keep = await send(backend, queue, jobs.Succeed(token=f"{token}-keep"))
    drop = await send(backend, queue, jobs.Succeed(token=f"{token}-drop"))
    later = await send(
        backend, queue, jobs.Succeed(token=f"{token}-later"), delay=timedelta(hours=1)
    )
    assert await backend.cancel(queue, drop) is True
    assert await backend.cancel(queue, drop) is False, "already gone"
    assert await backend.cancel(queue, later) is True, "a delayed message can be cancelled"
    assert await backend.cancel(queue, held.message_id) is False, "a held (running) one cannot"
    assert await backend.cancel(queue, "no-such-id") is False
    assert await backend.cancel(f"{queue}-other", keep) is False, "ids are per queue"
    await backend.release(held)
    await subscription.stop()
    async with running(make_worker(backend, [queue], stop_when_idle=True)) as task:
        await task
    assert len(jobs.runs(f"{token}-keep")) == 1
    assert len(jobs.runs(f"{token}-held")) == 1
    assert not jobs.runs(f"{token}-drop") and not jobs.runs(f"{token}-later")
    stats = await backend.stats(queue)
    assert (stats.ready, stats.delayed, stats.dead) == (0, 0, 1)
