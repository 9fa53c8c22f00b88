"""Late ack and retries: nothing unsettled is lost, attempts count every delivery."""

from __future__ import annotations

import time

from brokerjobs.backend import Backend
from tests.contract.conftest import message
from tests.support.harness import BackendHarness, nothing_within, receive


async def test_unsettled_delivery_comes_back_after_its_consumer_crashes(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    first = await receive(subscription)
    assert first.attempt == 1

    await harness.crash(backend)

    survivor = await harness.new_backend()
    second_subscription = await survivor.consume([queue], prefetch=1)
    again = await receive(second_subscription, timeout=harness.redelivery_timeout + 5)
    assert (again.message_id, again.body) == (sent.message_id, sent.body)
    assert again.attempt == 2, "a redelivery after a crash counts as an attempt"
    await survivor.ack(again)
    assert await nothing_within(second_subscription, 0.5)
    await second_subscription.stop()


async def test_retry_redelivers_after_the_delay_with_the_next_attempt(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    first = await receive(subscription)

    retried_at = time.monotonic()
    await backend.retry(first, delay=2.0, reason="ValueError: boom")
    assert await nothing_within(subscription, 1.5), "retry must not come back early"
    again = await receive(subscription, timeout=2.0 + harness.timing_tolerance)
    waited = time.monotonic() - retried_at
    assert again.message_id == sent.message_id
    assert again.body == sent.body
    assert again.attempt == 2
    assert waited >= 2.0 - 0.05
    await backend.ack(again)
    await subscription.stop()


async def test_retry_without_delay_counts_attempts_up(backend: Backend, queue: str) -> None:
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    attempts = []
    for _ in range(3):
        delivery = await receive(subscription)
        attempts.append(delivery.attempt)
        await backend.retry(delivery, delay=0.0, reason="again")
    last = await receive(subscription)
    attempts.append(last.attempt)
    await backend.ack(last)
    assert attempts == [1, 2, 3, 4]
    await subscription.stop()


async def test_extend_keeps_the_delivery_owned(backend: Backend, queue: str) -> None:
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    await backend.extend(delivery, seconds=60)
    await backend.ack(delivery)
    stats = await backend.stats(queue)
    assert stats.in_flight == 0
    await subscription.stop()
