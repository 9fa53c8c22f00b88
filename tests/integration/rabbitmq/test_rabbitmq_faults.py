"""Connection faults, server-side cancels and poison messages on the real broker.

Broker-wide faults (``rabbitmqctl stop_app``/``start_app``, memory alarms) would disturb
everyone sharing the broker; they belong to the fault suite. Here every fault is scoped
to this test's own connections.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from brokerjobs_rabbitmq import publisher_sync

from brokerjobs.errors import BrokerUnavailableError, DeliveryLostError
from tests.integration.rabbitmq.conftest import close_named_connections, message
from tests.support.backend_rabbitmq import RabbitMQHarness
from tests.support.harness import eventually, nothing_within, receive

pytestmark = pytest.mark.rabbitmq


async def test_closed_connections_lose_nothing_and_a_new_subscription_resumes(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("dropped")
    batch = [message() for _ in range(40)]
    await backend.publish_batch(queue, batch)
    subscription = await backend.consume([queue], prefetch=5)
    done = set()
    for _ in range(10):
        delivery = await receive(subscription)
        await backend.ack(delivery)
        done.add(delivery.message_id)
    held = await receive(subscription)

    closed = await close_named_connections(f"brokerjobs-test.{rabbit.prefix}.")
    assert closed >= 2  # the consumer and the publisher connections

    with pytest.raises(BrokerUnavailableError):
        await receive(subscription)
    with pytest.raises(DeliveryLostError):
        await backend.ack(held)  # never acked on a new channel

    late = message()
    await backend.publish(queue, late)  # the publisher reconnects by itself
    resumed = await backend.consume([queue], prefetch=5)
    rest: set[str] = set()
    while len(rest) < 31:
        delivery = await receive(resumed)
        rest.add(delivery.message_id)
        await backend.ack(delivery)
    assert rest == {m.message_id for m in batch} - done | {late.message_id}
    assert await nothing_within(resumed, 0.5)
    await resumed.stop()


async def test_deleting_the_queue_under_a_consumer_ends_its_subscription(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("cancelled")
    await backend.declare(queue)
    subscription = await backend.consume([queue], prefetch=1)
    pending = asyncio.ensure_future(receive(subscription, timeout=10))

    operator = await rabbit.new_rabbitmq_backend()
    channel = await operator._channel("test: delete the queue")
    await channel.queue_delete(operator.topology.names(queue).work)

    with pytest.raises(BrokerUnavailableError, match="cancelled the consumer"):
        await pending


async def test_a_job_that_kills_every_worker_ends_in_the_dead_letter_queue(
    rabbit: RabbitMQHarness,
) -> None:
    limit = 2
    queue = rabbit.queue("poison")
    producer = await rabbit.new_rabbitmq_backend(delivery_limit=limit)
    poison = message(b'{"poison": true}')
    await producer.publish(queue, poison)

    for attempt in range(1, limit + 2):
        worker = await rabbit.new_rabbitmq_backend(delivery_limit=limit)
        subscription = await worker.consume([queue], prefetch=1)
        delivery = await receive(subscription)
        assert (delivery.message_id, delivery.attempt) == (poison.message_id, attempt)
        await rabbit.crash(worker)  # the job killed its worker before any settlement

    async def buried() -> bool:
        return (await producer.stats(queue)).dead == 1

    await eventually(buried)
    [dead] = await producer.dead_letters(queue)
    assert dead.message_id == poison.message_id
    assert dead.body == poison.body
    assert "delivery limit" in dead.reason
    stats = await producer.stats(queue)
    assert (stats.ready, stats.in_flight) == (0, 0)


async def test_classic_queues_count_crash_redeliveries_and_releases_correctly(
    rabbit: RabbitMQHarness,
) -> None:
    queue = rabbit.queue("classic")
    backend = await rabbit.new_rabbitmq_backend(queue_type="classic")
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    first = await receive(subscription)
    await backend.release(first)
    again = await receive(subscription)
    assert (again.message_id, again.attempt) == (sent.message_id, 1)
    await rabbit.crash(backend)

    survivor = await rabbit.new_rabbitmq_backend(queue_type="classic")
    resumed = await survivor.consume([queue], prefetch=1)
    redelivered = await receive(resumed)
    assert (redelivered.message_id, redelivered.attempt) == (sent.message_id, 2)
    await survivor.retry(redelivered, delay=0, reason="again")
    retried = await receive(resumed)
    assert retried.attempt == 3
    await survivor.ack(retried)
    await resumed.stop()


async def test_sync_publish_after_the_broker_dropped_an_idle_connection(
    rabbit: RabbitMQHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An idle pika connection misses its heartbeats and the broker closes it; pika does not
    # notice until its next I/O. The publisher checks idle connections before using them.
    monkeypatch.setattr(publisher_sync, "IDLE_CHECK", 0.0)
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("idle")
    first, second = message(), message()
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=1) as one_thread:  # same thread, same connection
        await loop.run_in_executor(one_thread, backend.publish_sync, queue, first)
        closed = await close_named_connections(f"brokerjobs-test.{rabbit.prefix}.sync-publisher")
        assert closed == 1
        await loop.run_in_executor(one_thread, backend.publish_sync, queue, second)
        await loop.run_in_executor(one_thread, backend.close)
    subscription = await backend.consume([queue], prefetch=2)
    seen = {(await receive(subscription)).message_id for _ in range(2)}
    assert seen == {first.message_id, second.message_id}
    await subscription.stop()


async def test_a_broker_close_is_one_warning_not_an_error_with_a_traceback(
    rabbit: RabbitMQHarness, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("closed")
    await backend.declare(queue)
    subscription = await backend.consume([queue], prefetch=1)
    caplog.set_level(logging.DEBUG)
    assert await close_named_connections(f"brokerjobs-test.{rabbit.prefix}.") >= 1
    with pytest.raises(BrokerUnavailableError):
        await receive(subscription)
    driver = [r for r in caplog.records if r.name.startswith("aiormq") and r.levelno >= 30]
    assert driver == [], [r.getMessage() for r in driver]
    ours = [r.getMessage() for r in caplog.records if r.name == "brokerjobs.rabbitmq"]
    assert any(m.startswith("RabbitMQ closed the connection: 320") for m in ours), ours
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("aiormq"))
