"""Publishing edge cases on the real broker: returns, timeouts, threads, fork, secrets."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend

from brokerjobs.errors import BrokerUnavailableError, ConfigurationError, PublishRejectedError
from tests.integration.rabbitmq.conftest import PausableProxy, message
from tests.support.backend_rabbitmq import RabbitMQHarness, broker_address
from tests.support.harness import receive

pytestmark = pytest.mark.rabbitmq


async def _delete_work_queue(backend: RabbitMQBackend, queue: str) -> None:
    channel = await backend._channel("test: delete the work queue")
    await channel.queue_delete(backend.topology.names(queue).work)
    await channel.close()


async def test_unroutable_publish_raises_instead_of_being_confirmed(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("gone")
    await backend.declare(queue)
    # Deleted behind the backend's back: RabbitMQ confirms the publish but returns it.
    await _delete_work_queue(backend, queue)

    with pytest.raises(PublishRejectedError, match="unroutable"):
        await backend.publish(queue, message())
    await backend.declare(queue)
    await _delete_work_queue(backend, queue)
    with pytest.raises(PublishRejectedError, match="unroutable"):
        await asyncio.to_thread(backend.publish_sync, queue, message())


async def test_unroutable_batch_reports_how_many_were_accepted(rabbit: RabbitMQHarness) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("gone-batch")
    await backend.declare(queue)
    await _delete_work_queue(backend, queue)
    # The delayed message still reaches its wait queue; the two direct ones are returned.
    batch = [message(), message(delay=5.0), message()]
    with pytest.raises(PublishRejectedError, match="1 of 3 messages were accepted") as caught:
        await backend.publish_batch(queue, batch)
    assert getattr(caught.value, "accepted", None) == 1


async def test_sync_publish_from_many_threads_at_once(rabbit: RabbitMQHarness) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("threads")
    await backend.declare(queue)
    batches = [[message() for _ in range(20)] for _ in range(8)]

    def publish(batch: list[object]) -> None:
        for outgoing in batch:
            backend.publish_sync(queue, outgoing)  # type: ignore[arg-type]

    def run_all() -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(publish, batches))

    await asyncio.to_thread(run_all)
    expected = {m.message_id for batch in batches for m in batch}
    subscription = await backend.consume([queue], prefetch=50)
    seen: set[str] = set()
    for _ in range(len(expected)):
        delivery = await receive(subscription)
        seen.add(delivery.message_id)
        await backend.ack(delivery)
    assert seen == expected
    await subscription.stop()
    backend.close()


async def test_sync_publish_in_a_forked_child_uses_its_own_connection(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("fork")
    before, in_child, after = message(), message(), message()

    def fork_and_publish() -> int:
        backend.publish_sync(queue, before)  # this thread now holds a pika connection
        pid = os.fork()
        if pid == 0:  # child: the inherited connection must not be touched
            code = 1
            try:
                backend.publish_sync(queue, in_child)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        backend.publish_sync(queue, after)  # the parent's connection survived the child
        return os.waitstatus_to_exitcode(status)

    assert await asyncio.to_thread(fork_and_publish) == 0
    subscription = await backend.consume([queue], prefetch=3)
    seen: set[str] = set()
    for _ in range(3):
        delivery = await receive(subscription)
        seen.add(delivery.message_id)
        await backend.ack(delivery)
    assert seen == {before.message_id, in_child.message_id, after.message_id}
    await subscription.stop()
    backend.close()


async def test_publish_times_out_when_the_broker_stops_answering(rabbit: RabbitMQHarness) -> None:
    proxy = await PausableProxy(broker_address()).start()
    try:
        backend = await rabbit.new_rabbitmq_backend(
            url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/", publish_timeout=1.0
        )
        queue = rabbit.queue("blackhole")
        await backend.publish(queue, message())
        await asyncio.to_thread(backend.publish_sync, queue, message())
        proxy.pause()

        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="within 1 s"):
            await backend.publish(queue, message())
        assert time.monotonic() - started < 3.0

        started = time.monotonic()
        with pytest.raises(BrokerUnavailableError, match="within 1 s"):
            await asyncio.to_thread(backend.publish_sync, queue, message())
        assert time.monotonic() - started < 3.0
    finally:
        await proxy.aclose()


async def test_passwords_never_appear_in_errors_reprs_or_logs(
    rabbit: RabbitMQHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-not-the-password"
    host, port = broker_address()
    wrong = await rabbit.new_rabbitmq_backend(url=f"amqp://guest:{secret}@{host}:{port}/")
    assert secret not in repr(wrong)
    assert secret not in repr(wrong.settings)
    with pytest.raises(ConfigurationError) as refused:
        await wrong.publish(rabbit.queue("secret"), message())
    with pytest.raises(ConfigurationError) as refused_sync:
        await asyncio.to_thread(wrong.publish_sync, rabbit.queue("secret"), message())

    unreachable = await rabbit.new_rabbitmq_backend(url=f"amqp://guest:{secret}@127.0.0.1:1/")
    with pytest.raises(BrokerUnavailableError) as down:
        await unreachable.publish(rabbit.queue("secret"), message())
    with pytest.raises(ConfigurationError) as invalid:
        RabbitMQBackend.from_options(url=f"http://guest:{secret}@{host}/")

    for error in (refused.value, refused_sync.value, down.value, invalid.value):
        assert secret not in str(error)
    assert "******" in str(down.value)
    assert secret not in caplog.text


async def test_sync_publish_declares_a_new_queue_and_concurrent_publishers_declare_once(
    rabbit: RabbitMQHarness,
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    fresh_sync, fresh_async = rabbit.queue("fresh-sync"), rabbit.queue("fresh-async")
    sent = message(delay=0.5)
    await asyncio.to_thread(backend.publish_sync, fresh_sync, sent)
    many = [message() for _ in range(50)]
    await asyncio.gather(*(backend.publish(fresh_async, m) for m in many))

    consumer = await rabbit.new_rabbitmq_backend()
    subscription = await consumer.consume([fresh_sync, fresh_async], prefetch=60)
    seen: set[str] = set()
    for _ in range(51):
        delivery = await receive(subscription)
        seen.add(delivery.message_id)
        await consumer.ack(delivery)
    assert seen == {sent.message_id} | {m.message_id for m in many}
    await subscription.stop()
    backend.close()


async def test_the_publisher_sees_aiormqs_blocked_state_without_a_timer(
    rabbit: RabbitMQHarness,
) -> None:
    """The hot path reads aiormq's private unblocked event; if aiormq renames it, every
    publish would pay for a timeout context (still correct, slower): catch it here."""
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("hot")
    await backend.publish(queue, message())
    channel = await backend._publisher._channel()
    unblocked = getattr(channel.connection, "_Connection__connection_unblocked", None)
    assert isinstance(unblocked, asyncio.Event)
    assert unblocked.is_set()


async def test_every_publish_says_its_body_is_json(rabbit: RabbitMQHarness) -> None:
    # Foreign consumers and the management UI read contentType (docs/wire-format.md).
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("typed")
    await backend.publish(queue, message())
    await asyncio.to_thread(backend.publish_sync, queue, message())
    await backend.publish(queue, message(delay=0.3))  # through the wait queues
    channel = await backend._channel("test: read raw properties")
    work = backend.topology.names(queue).work
    types: list[str | None] = []
    deadline = time.monotonic() + 30
    while len(types) < 3 and time.monotonic() < deadline:
        got = await channel.basic_get(work, no_ack=True)
        if got.delivery_tag is None:  # empty: the delayed one is still waiting
            await asyncio.sleep(0.1)
            continue
        types.append(got.header.properties.content_type)
    await channel.close()
    assert types == ["application/json"] * 3
