"""When a dead letter was parked: to the millisecond, read back from the real broker.

``brokerjobs-dead-at`` used to go out as a Python float, which the AMQP table encoding
wrote as a 32-bit float: times came back as multiples of 128 s. It is now an integer of
milliseconds; letters parked by older versions (float seconds) are still read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from brokerjobs_rabbitmq import headers as hdr
from pamqp.commands import Basic

from tests.integration.rabbitmq.conftest import message
from tests.support.backend_rabbitmq import RabbitMQHarness
from tests.support.harness import receive

pytestmark = pytest.mark.rabbitmq


async def test_dead_letter_time_is_exact_to_the_millisecond(rabbit: RabbitMQHarness) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("deadtime")
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    before = datetime.now(UTC)
    await backend.dead_letter(delivery, reason="boom")
    after = datetime.now(UTC)
    await subscription.stop()

    [dead] = await backend.dead_letters(queue)
    assert dead.dead_lettered_at is not None
    slack = timedelta(milliseconds=2)
    assert before - slack <= dead.dead_lettered_at <= after + slack, (before, dead, after)


async def test_dead_letters_parked_with_the_old_float_header_are_still_read(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("deadtime-old")
    await backend.declare(queue)
    parked = 1_764_806_400.0  # 2025-12-04 00:00:00 UTC: exact in a 32-bit float too
    channel = await backend._channel("publish an old-format dead letter")
    await channel.basic_publish(
        b"{}",
        routing_key=backend.topology.names(queue).dead,
        properties=Basic.Properties(
            message_id="old-float",
            headers={hdr.REASON: "old", hdr.ORIGIN: queue, hdr.DEAD_AT: parked},
        ),
    )
    await channel.close()
    [dead] = await backend.dead_letters(queue)
    assert dead.dead_lettered_at == datetime.fromtimestamp(parked, UTC)


def test_the_header_is_an_integer_of_milliseconds() -> None:
    written = hdr.dead_letter_headers({}, queue="q", attempt_number=1, reason="r")[hdr.DEAD_AT]
    assert isinstance(written, int)
    assert abs(written - datetime.now(UTC).timestamp() * 1000) < 5_000
    assert hdr.dead_time(1_764_806_400_123) == datetime(2025, 12, 4, 0, 0, 0, 123_000, UTC)
    assert hdr.dead_time(1_764_806_400.0) == datetime(2025, 12, 4, tzinfo=UTC)
    assert hdr.dead_time(b"garbage") is None and hdr.dead_time(None) is None
