"""The in-memory backend on a fake clock: day-long delays and lease expiry in no time."""

from __future__ import annotations

import uuid

import pytest

from brokerjobs.backend import OutgoingMessage
from brokerjobs.clock import FakeClock
from brokerjobs.errors import BrokerUnavailableError, DeliveryLostError
from brokerjobs.memory import MemoryBackend
from tests.support.harness import nothing_within, receive


def _message(delay: float = 0.0) -> OutgoingMessage:
    return OutgoingMessage(body=b"{}", message_id=uuid.uuid4().hex, delay=delay)


async def test_a_two_day_delay_is_honoured_to_the_second() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    sent = _message(delay=2 * 86400)
    await backend.publish("q", sent)
    subscription = await backend.consume(["q"], prefetch=1)

    clock.advance(2 * 86400 - 1)
    assert await nothing_within(subscription, 0.05)
    assert (await backend.stats("q")).delayed == 1
    clock.advance(1)
    delivery = await receive(subscription, timeout=1)
    assert delivery.message_id == sent.message_id


async def test_an_expired_lease_redelivers_and_the_old_holder_cannot_settle() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock, lease=30)
    await backend.publish("q", _message())
    subscription = await backend.consume(["q"], prefetch=2)
    first = await receive(subscription, timeout=1)

    clock.advance(20)
    await backend.extend(first, seconds=30)
    clock.advance(20)
    assert await nothing_within(subscription, 0.05), "an extended lease must not expire"
    clock.advance(11)
    again = await receive(subscription, timeout=1)
    assert (again.message_id, again.attempt) == (first.message_id, 2)
    with pytest.raises(DeliveryLostError):
        await backend.ack(first)
    await backend.ack(again)


async def test_crash_hands_deliveries_back_and_breaks_the_subscription() -> None:
    backend = MemoryBackend(clock=FakeClock())
    await backend.publish("q", _message())
    subscription = await backend.consume(["q"], prefetch=1)
    held = await receive(subscription, timeout=1)
    backend.crash()
    with pytest.raises(BrokerUnavailableError):
        await receive(subscription, timeout=1)
    with pytest.raises(DeliveryLostError):
        await backend.ack(held)
    assert (await backend.stats("q")).ready == 1


async def test_priority_and_queue_order_within_one_subscription() -> None:
    backend = MemoryBackend(clock=FakeClock())
    low = OutgoingMessage(b"{}", "low", priority=0)
    high = OutgoingMessage(b"{}", "high", priority=5)
    await backend.publish_batch("b", [low, high])
    await backend.publish("a", OutgoingMessage(b"{}", "first-queue"))
    subscription = await backend.consume(["a", "b"], prefetch=3)
    order = [(await receive(subscription, timeout=1)).message_id for _ in range(3)]
    assert order == ["first-queue", "high", "low"]


def test_store_and_clock_together_are_refused() -> None:
    backend = MemoryBackend(clock=FakeClock())
    with pytest.raises(ValueError, match="not both"):
        MemoryBackend(backend.store, clock=FakeClock())
