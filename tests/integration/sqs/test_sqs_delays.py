"""Delays beyond SQS's 15 min DelaySeconds: hops that are never early and never counted."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from brokerjobs.clock import Clock
from brokerjobs.errors import PublishRejectedError
from tests.integration.sqs.conftest import message
from tests.support.backend_sqs import SQSHarness
from tests.support.harness import nothing_within, receive

pytestmark = pytest.mark.sqs


class JumpClock(Clock):
    """Real time plus an offset the test moves forward: a 20 min wait in no time."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self.offset

    def jump(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds


def count_sends(backend: Any) -> list[int]:
    """Sizes of every SendMessageBatch the backend makes (hops are re-sends)."""
    sizes: list[int] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["Entries"]))

    backend.add_event_hook("provide-client-params.sqs.SendMessageBatch", hook)
    return sizes


async def test_a_twenty_minute_delay_hops_and_is_never_early(sqs: SQSHarness) -> None:
    clock = JumpClock()
    queue = sqs.queue()
    # Hops of 1 s instead of 900 s: the backend re-sends until the clock says it is due.
    producer = sqs.sqs_backend(clock=clock, max_native_delay=1)
    consumer = sqs.sqs_backend(clock=clock, max_native_delay=1)
    hops = count_sends(consumer)
    due = clock.now() + 20 * 60
    sent = message(delay=20 * 60)
    await producer.publish(queue, sent)

    subscription = await consumer.consume([queue], prefetch=1)
    assert await nothing_within(subscription, 4.0)
    assert len(hops) >= 2, "the consumer re-sent the message at least twice"

    clock.jump(due - clock.now() - 3)  # 3 s of the 20 min left: still not due
    assert await nothing_within(subscription, 1.5)
    delivery = await receive(subscription, timeout=6.0)
    assert clock.now() >= due, "never early"
    assert clock.now() <= due + 1 + sqs.timing_tolerance
    assert (delivery.message_id, delivery.body, delivery.attempt) == (sent.message_id, sent.body, 1)
    await consumer.ack(delivery)
    await subscription.stop()


async def test_hops_and_the_last_fraction_of_a_second_keep_real_time(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend(max_native_delay=1)
    published = time.monotonic()
    await backend.publish(queue, message(delay=3.4))
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription, timeout=3.4 + sqs.timing_tolerance + 1)
    waited = time.monotonic() - published
    assert 3.4 <= waited <= 3.4 + sqs.timing_tolerance
    assert delivery.attempt == 1
    await backend.ack(delivery)
    await subscription.stop()


async def test_retry_longer_than_the_visibility_cap_is_re_sent_with_the_next_attempt(
    sqs: SQSHarness,
) -> None:
    clock = JumpClock()
    queue = sqs.queue()
    backend = sqs.sqs_backend(clock=clock, max_native_delay=1)
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    first = await receive(subscription)
    await backend.retry(first, delay=13 * 3600, reason="see you tomorrow")  # > 12 h cap
    assert await nothing_within(subscription, 2.5)
    clock.jump(13 * 3600 + 1)
    again = await receive(subscription, timeout=6.0)
    assert again.attempt == 2
    await backend.ack(again)
    await subscription.stop()


async def test_fifo_queues_refuse_per_message_delays_clearly(sqs: SQSHarness) -> None:
    backend = sqs.sqs_backend()
    with pytest.raises(PublishRejectedError, match=r"FIFO queue .* per-message delays"):
        await backend.publish(sqs.queue("later.fifo"), message(delay=5))
