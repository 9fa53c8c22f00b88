"""Leases on SQS: heartbeats outlive the visibility timeout, shutdown gives messages back now."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from brokerjobs.errors import BrokerUnavailableError, DeliveryLostError
from tests.integration.sqs.conftest import message
from tests.support.backend_sqs import SQSHarness
from tests.support.harness import nothing_within, receive

pytestmark = pytest.mark.sqs


async def test_running_and_prefetched_messages_outlive_the_visibility_timeout(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue()
    worker = sqs.sqs_backend()
    await worker.publish_batch(queue, [message(), message()])
    subscription = await worker.consume([queue], prefetch=2)
    running = await receive(subscription)  # the other one waits in the prefetch buffer
    rival = await sqs.sqs_backend().consume([queue], prefetch=2)

    # Three visibility timeouts (2 s each) pass while the job "runs" and the worker
    # heartbeats it explicitly; the buffered message is kept by the subscription itself.
    started = time.monotonic()
    while time.monotonic() - started < 3 * sqs.visibility_timeout:
        await worker.extend(running, seconds=sqs.visibility_timeout)
        assert await nothing_within(rival, 0.5)

    buffered = await receive(subscription, timeout=1.0)
    assert (running.attempt, buffered.attempt) == (1, 1)
    await worker.ack(running)
    await worker.ack(buffered)
    assert await nothing_within(rival, 2 * sqs.visibility_timeout)
    await rival.stop()
    await subscription.stop()


async def test_an_unsettled_delivery_is_kept_by_the_subscription_heartbeat_alone(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue()
    worker = sqs.sqs_backend()
    await worker.publish(queue, message())
    subscription = await worker.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    rival = await sqs.sqs_backend().consume([queue], prefetch=1)
    assert await nothing_within(rival, 3 * sqs.visibility_timeout)
    await worker.ack(delivery)
    await rival.stop()
    await subscription.stop()


async def test_stop_releases_buffered_messages_visible_at_once_and_uncounted(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue()
    # A 60 s visibility: anything seen within seconds was released, not expired.
    worker = sqs.sqs_backend(visibility_timeout=60)
    sent = [message() for _ in range(5)]
    await worker.publish_batch(queue, sent)
    subscription = await worker.consume([queue], prefetch=5)
    held = await receive(subscription)
    await subscription.stop()

    other = await sqs.sqs_backend(visibility_timeout=60).consume([queue], prefetch=5)
    started = time.monotonic()
    rest = [await receive(other, timeout=3.0) for _ in range(4)]
    assert time.monotonic() - started < 3.0
    assert {d.message_id for d in rest} == {m.message_id for m in sent} - {held.message_id}
    assert {d.attempt for d in rest} == {1}, "a release is not an attempt"
    await worker.ack(held)
    await other.stop()


async def test_stop_waits_for_the_long_poll_in_flight_before_releasing(sqs: SQSHarness) -> None:
    """celery/kombu#1835: a poll returning after the release left messages hidden."""
    queue = sqs.queue()
    await sqs.sqs_backend().declare(queue)
    worker = sqs.sqs_backend(visibility_timeout=60, wait_time=3)
    subscription = await worker.consume([queue], prefetch=10)
    await asyncio.sleep(0.3)  # let the long poll start: it is what this test is about

    sent = [message() for _ in range(3)]
    publisher = sqs.sqs_backend()
    await asyncio.gather(publisher.publish_batch(queue, sent), subscription.stop())

    other = await sqs.sqs_backend(visibility_timeout=60).consume([queue], prefetch=10)
    got = {(await receive(other, timeout=3.0)).message_id for _ in range(3)}
    assert got == {m.message_id for m in sent}
    await other.stop()


async def test_cancelled_reads_lose_nothing(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend()
    sent = [message() for _ in range(6)]
    await backend.publish_batch(queue, sent)
    subscription = await backend.consume([queue], prefetch=3)
    got: list[str] = []
    deadline = time.monotonic() + 15
    while len(got) < len(sent) and time.monotonic() < deadline:
        try:
            delivery = await asyncio.wait_for(anext(subscription), 0.01)
        except TimeoutError:
            continue
        got.append(delivery.message_id)
        await backend.ack(delivery)
    assert sorted(got) == sorted(m.message_id for m in sent)
    await subscription.stop()


async def test_release_then_retry_keeps_the_attempt_count_honest(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend()
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    attempts = []
    first = await receive(subscription)
    attempts.append(first.attempt)
    await backend.release(first)
    second = await receive(subscription)
    attempts.append(second.attempt)
    await backend.retry(second, delay=0, reason="again")
    third = await receive(subscription)
    attempts.append(third.attempt)
    await backend.ack(third)
    assert attempts == [1, 1, 2]
    await subscription.stop()


async def test_deliveries_of_a_failed_subscription_come_back_after_one_visibility_timeout(
    sqs: SQSHarness,
) -> None:
    """Bug 6: once iteration raised, the caller holds nothing it was handed (the worker
    never settles those); the subscription's heartbeat must stop hiding them."""
    queue = sqs.queue()
    worker = sqs.sqs_backend()
    sent = [message() for _ in range(3)]
    await worker.publish_batch(queue, sent)
    subscription = await worker.consume([queue], prefetch=4)  # room left: it keeps polling
    handed = await receive(subscription)

    def time_out(**kwargs: Any) -> None:
        raise ReadTimeoutError(endpoint_url=sqs.options()["endpoint_url"])

    worker.add_event_hook("before-call.sqs.ReceiveMessage", time_out)
    deadline = time.monotonic() + 30
    with pytest.raises(BrokerUnavailableError):
        while time.monotonic() < deadline:  # the two buffered ones may come first
            await receive(subscription, timeout=30)
    await subscription.stop()  # what the worker does with a failed subscription

    other = sqs.sqs_backend()
    rival = await other.consume([queue], prefetch=3)
    again = [await receive(rival, timeout=sqs.redelivery_timeout) for _ in range(3)]
    attempts = {d.message_id: d.attempt for d in again}
    assert attempts.keys() == {m.message_id for m in sent}
    assert attempts[handed.message_id] == 2
    with pytest.raises(DeliveryLostError):
        await worker.ack(handed)
    for delivery in again:
        await other.ack(delivery)
    await rival.stop()
