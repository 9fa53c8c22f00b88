"""Delays are never early, never block shorter ones, and stats tell the states apart."""

from __future__ import annotations

import time

from brokerjobs.backend import Backend
from tests.contract.conftest import message
from tests.support.harness import BackendHarness, eventually, nothing_within, receive


async def test_delayed_message_is_not_early_and_roughly_on_time(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    published_at = time.monotonic()
    await backend.publish(queue, message(delay=2.0))
    subscription = await backend.consume([queue], prefetch=1)
    assert await nothing_within(subscription, 1.5)
    delivery = await receive(subscription, timeout=0.5 + harness.timing_tolerance + 1.0)
    waited = time.monotonic() - published_at
    assert 2.0 - 0.05 <= waited <= 2.0 + harness.timing_tolerance + 0.5
    assert delivery.attempt == 1
    await backend.ack(delivery)
    await subscription.stop()


async def test_long_delay_published_first_does_not_hold_up_a_short_one(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    long = message(delay=3600.0)
    short = message(delay=1.0)
    await backend.publish(queue, long)
    await backend.publish(queue, short)
    subscription = await backend.consume([queue], prefetch=2)
    delivery = await receive(subscription, timeout=1.0 + harness.timing_tolerance + 2.0)
    assert delivery.message_id == short.message_id
    await backend.ack(delivery)
    await subscription.stop()


async def test_stats_count_ready_in_flight_delayed_and_dead(backend: Backend, queue: str) -> None:
    await backend.publish_batch(queue, [message() for _ in range(3)])
    await backend.publish(queue, message(delay=3600.0))
    subscription = await backend.consume([queue], prefetch=2)
    held = await receive(subscription)
    buried = await receive(subscription)
    await backend.dead_letter(buried, reason="test")

    async def as_expected() -> bool:
        stats = await backend.stats(queue)
        # One more may sit in the subscription's prefetch buffer instead of "ready".
        return (
            stats.ready + stats.in_flight == 2
            and stats.in_flight >= 1
            and stats.delayed == 1
            and stats.dead == 1
        )

    await eventually(as_expected)
    await backend.ack(held)
    await subscription.stop()
    stats = await backend.stats(queue)
    assert stats.queue == queue
