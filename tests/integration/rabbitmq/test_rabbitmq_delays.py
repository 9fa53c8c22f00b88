"""Delays through the binary wait levels: never early, no head-of-line blocking, days long."""

from __future__ import annotations

import time

import pytest

from brokerjobs.errors import PublishRejectedError
from tests.integration.rabbitmq.conftest import message
from tests.support.backend_rabbitmq import RabbitMQHarness
from tests.support.harness import eventually, nothing_within, receive

pytestmark = pytest.mark.rabbitmq


async def test_an_hour_delay_published_first_does_not_hold_up_a_second(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("hol")
    hour, second = message(delay=3600.0), message(delay=1.0)
    published = time.monotonic()
    await backend.publish(queue, hour)
    await backend.publish(queue, second)
    subscription = await backend.consume([queue], prefetch=2)
    delivery = await receive(subscription, timeout=1.0 + rabbit.timing_tolerance)
    assert delivery.message_id == second.message_id
    assert time.monotonic() - published >= 1.0
    await backend.ack(delivery)
    assert (await backend.stats(queue)).delayed == 1
    await subscription.stop()


async def test_delays_that_are_not_a_multiple_of_the_unit_are_rounded_up(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("odd")
    published = time.monotonic()
    # 1.3 s = 5.2 units of 0.25 s: travels 4 + 2 units through two wait levels (1.5 s).
    await backend.publish_batch(queue, [message(delay=1.3)])
    subscription = await backend.consume([queue], prefetch=1)
    assert await nothing_within(subscription, 1.25)
    delivery = await receive(subscription, timeout=1.0 + rabbit.timing_tolerance)
    assert time.monotonic() - published >= 1.3
    await backend.ack(delivery)
    await subscription.stop()


async def test_delays_of_days_wait_in_the_levels_and_show_as_delayed(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("days")
    await backend.publish(queue, message(delay=3 * 86400.0))
    await backend.publish(queue, message(delay=45 * 86400.0 + 0.1))

    async def both_delayed() -> bool:
        stats = await backend.stats(queue)
        return (stats.delayed, stats.ready) == (2, 0)

    await eventually(both_delayed)
    with pytest.raises(PublishRejectedError, match="max_delay"):
        await backend.publish(queue, message(delay=10_000 * 86400.0))
