"""The scheduler lease on the real broker: one holder, a journal, no publish without it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend

from brokerjobs.backend import OutgoingMessage
from brokerjobs.errors import BrokerUnavailableError
from brokerjobs.schedules import LeaseClaimer, SchedulerLeaseSupport, claimer_for
from tests.support.backend_rabbitmq import RabbitMQHarness

pytestmark = pytest.mark.rabbitmq
GROUP = "lease-test"


@pytest.fixture
async def pair(rabbit: RabbitMQHarness) -> AsyncIterator[tuple[RabbitMQBackend, RabbitMQBackend]]:
    first = await rabbit.new_rabbitmq_backend()
    second = await rabbit.new_rabbitmq_backend()
    yield first, second
    channel = await first._channel("delete the lease test's journal")
    base = f"{first.settings.prefix}scheduler.{GROUP}"
    await channel.queue_delete(f"{base}.s.last")
    await channel.exchange_delete(f"{base}.s")


async def test_only_one_scheduler_holds_the_lease_until_its_connection_closes(
    pair: tuple[RabbitMQBackend, RabbitMQBackend],
) -> None:
    first, second = pair
    assert isinstance(first, SchedulerLeaseSupport)
    one, two = first.scheduler_lease(GROUP), second.scheduler_lease(GROUP)
    try:
        assert await one.acquire()
        assert not await two.acquire()
        assert not await two.acquire()  # and again: a refused try leaves nothing behind
        await one.aclose()  # as a SIGKILL would: the broker drops the exclusive queue
        assert await two.acquire()
        assert two.held and two.term == 1
    finally:
        await one.aclose()
        await two.aclose()


async def test_the_journal_holds_the_latest_tick_for_the_next_leader(
    pair: tuple[RabbitMQBackend, RabbitMQBackend], rabbit: RabbitMQHarness
) -> None:
    first, second = pair
    queue = rabbit.queue("ticks")
    one, two = first.scheduler_lease(GROUP), second.scheduler_lease(GROUP)
    try:
        assert await one.acquire()
        assert await one.latest("s") is None
        for tick in ("s@2026-01-01T00:00:01Z", "s@2026-01-01T00:00:02Z"):
            await one.publish(queue, OutgoingMessage(b"{}", tick), "s")
        await one.aclose()
        assert await two.acquire()
        assert await two.latest("s") == "s@2026-01-01T00:00:02Z"
        assert await two.latest("s") == "s@2026-01-01T00:00:02Z"  # reading keeps it
        stats = await first.stats(queue)
        assert stats.ready == 2  # both ticks reached the work queue, journalled or not
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_scheduler_without_the_lease_cannot_publish(
    pair: tuple[RabbitMQBackend, RabbitMQBackend], rabbit: RabbitMQHarness
) -> None:
    first, second = pair
    one, two = first.scheduler_lease(GROUP), second.scheduler_lease(GROUP)
    try:
        assert await one.acquire()
        assert not await two.acquire()
        with pytest.raises(BrokerUnavailableError, match="not held"):
            await two.publish(rabbit.queue("ticks"), OutgoingMessage(b"{}", "s@x"), "s")
    finally:
        await one.aclose()
        await two.aclose()


async def test_rabbitmq_without_a_store_claims_ticks_with_the_lease(
    pair: tuple[RabbitMQBackend, RabbitMQBackend],
) -> None:
    claimer = claimer_for(pair[0], [], group=GROUP)
    assert isinstance(claimer, LeaseClaimer)
    await claimer.aclose()
