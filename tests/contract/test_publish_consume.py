"""Publish, consume, ack, release: the basic hand-over every backend must get right."""

from __future__ import annotations

import asyncio

from brokerjobs.backend import Backend
from tests.contract.conftest import message
from tests.support.harness import BackendHarness, eventually, nothing_within, receive


async def test_published_message_is_delivered_once_with_its_body_and_id(
    backend: Backend, queue: str
) -> None:
    sent = message(b'{"hello": "world", "bytes": "\\u00e9"}')
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=4)

    delivery = await receive(subscription)
    assert (delivery.queue, delivery.body, delivery.message_id, delivery.attempt) == (
        queue,
        sent.body,
        sent.message_id,
        1,
    )
    await backend.ack(delivery)
    assert await nothing_within(subscription, 0.5)
    await subscription.stop()


async def test_ack_removes_the_message(backend: Backend, queue: str) -> None:
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)

    async def counted_in_flight() -> bool:
        stats = await backend.stats(queue)
        return stats.in_flight == 1 and stats.ready == 0

    await eventually(counted_in_flight)
    await backend.ack(delivery)
    await subscription.stop()

    async def empty() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.in_flight, stats.delayed, stats.dead) == (0, 0, 0, 0)

    await eventually(empty)


async def test_sync_publish_reaches_async_consumer(backend: Backend, queue: str) -> None:
    sent = message()
    await asyncio.to_thread(backend.publish_sync, queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    assert delivery.message_id == sent.message_id
    await backend.ack(delivery)
    await subscription.stop()


async def test_publish_to_an_undeclared_queue_declares_it(
    harness: BackendHarness, backend: Backend
) -> None:
    fresh = harness.queue("undeclared")
    sent = message()
    await backend.publish(fresh, sent)
    subscription = await backend.consume([fresh], prefetch=1)
    delivery = await receive(subscription)
    assert delivery.message_id == sent.message_id
    await backend.ack(delivery)
    await subscription.stop()


async def test_batch_publish_delivers_every_message(backend: Backend, queue: str) -> None:
    batch = [message() for _ in range(25)]
    await backend.publish_batch(queue, batch)
    await asyncio.to_thread(backend.publish_batch_sync, queue, [message() for _ in range(5)])
    subscription = await backend.consume([queue], prefetch=10)

    seen: set[str] = set()
    for _ in range(30):
        delivery = await receive(subscription)
        seen.add(delivery.message_id)
        await backend.ack(delivery)
    assert {m.message_id for m in batch} <= seen
    assert len(seen) == 30
    await subscription.stop()


async def test_prefetch_bounds_unsettled_deliveries(backend: Backend, queue: str) -> None:
    await backend.publish_batch(queue, [message() for _ in range(5)])
    subscription = await backend.consume([queue], prefetch=2)
    first, second = await receive(subscription), await receive(subscription)
    assert await nothing_within(subscription, 0.5)

    await backend.ack(first)
    third = await receive(subscription)
    assert len({first.message_id, second.message_id, third.message_id}) == 3
    for delivery in (second, third):
        await backend.ack(delivery)
    await subscription.stop()


async def test_release_makes_the_message_available_at_once_without_counting_it(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    await backend.release(delivery)
    await subscription.stop()

    other = await harness.new_backend()
    second = await other.consume([queue], prefetch=1)
    again = await receive(second, timeout=3.0)
    assert again.message_id == sent.message_id
    assert again.attempt == 1
    await other.ack(again)
    await second.stop()


async def test_stopped_subscription_ends_iteration_and_keeps_its_buffer(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    batch = [message() for _ in range(4)]
    await backend.publish_batch(queue, batch)
    subscription = await backend.consume([queue], prefetch=4)
    held = await receive(subscription)
    await subscription.stop()
    assert [d async for d in subscription] == []

    # Whatever the stopped subscription had fetched but not handed out is available again
    # now (not after a lease or visibility timeout).
    other = await harness.new_backend()
    second = await other.consume([queue], prefetch=4)
    rest = {(await receive(second, timeout=3.0)).message_id for _ in range(3)}
    assert rest == {m.message_id for m in batch} - {held.message_id}
    await backend.ack(held)
    await second.stop()
