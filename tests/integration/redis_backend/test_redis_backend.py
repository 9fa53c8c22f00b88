"""What the contract suite does not cover: hash tags, concurrent movers, reclaim, limits."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
import redis
from brokerjobs_redis import RedisBackend
from brokerjobs_redis.durability import read_persistence
from brokerjobs_redis.keys import queue_keys
from brokerjobs_redis.subscription import RedisSubscription
from redis.crc import key_slot

from brokerjobs.errors import BrokerUnavailableError, ConfigurationError, DeliveryLostError
from tests.contract.conftest import message
from tests.faults.redis_server import RedisServer
from tests.support.backend_redis import LEASE_SECONDS, URL, RedisHarness
from tests.support.harness import nothing_within, receive

pytestmark = pytest.mark.redis


def test_every_key_of_a_queue_is_in_one_cluster_slot() -> None:
    keys = queue_keys("brokerjobs:", "emails")
    assert keys.stream == "brokerjobs:{emails}:stream"
    assert len({key_slot(key.encode()) for key in keys.all}) == 1
    with pytest.raises(ConfigurationError, match="may not contain"):
        queue_keys("brokerjobs:", "a{b}")


async def test_concurrent_movers_never_duplicate_a_delayed_message(rds: RedisHarness) -> None:
    producer = rds.new_redis_backend()
    queue = rds.queue("movers")
    await producer.declare(queue)
    await producer.publish_batch(queue, [message(delay=0.3) for _ in range(300)])
    # Six backends (own connections) run the mover script at the same moment, repeatedly.
    movers = [rds.new_redis_backend() for _ in range(6)]
    keys = producer.keys(queue)

    async def move(backend: RedisBackend) -> int:
        moved = 0
        for _ in range(30):
            done, _ = await backend.clients.aio().run(
                "MOVE_DUE", [keys.delayed, keys.stream, keys.dead], [50]
            )
            moved += int(done)
            await asyncio.sleep(0.02)
        return moved

    totals = await asyncio.gather(*(move(m) for m in movers))
    assert sum(totals) == 300
    stats = await producer.stats(queue)
    assert (stats.ready, stats.delayed) == (300, 0)


async def test_settling_a_reclaimed_delivery_raises_and_leaves_the_new_owner_alone(
    rds: RedisHarness,
) -> None:
    first = rds.new_redis_backend()
    queue = rds.queue("reclaim")
    await first.declare(queue)
    sent = message()
    await first.publish(queue, sent)
    frozen = await first.consume([queue], prefetch=1)
    stale = await receive(frozen)
    assert isinstance(frozen, RedisSubscription)
    frozen.abandon()  # a frozen process: no heartbeat, connection still open

    second = rds.new_redis_backend()
    taker = await second.consume([queue], prefetch=1)
    again = await receive(taker, timeout=LEASE_SECONDS + 8)
    assert (again.message_id, again.attempt) == (sent.message_id, 2)

    with pytest.raises(DeliveryLostError):
        await first.ack(stale)
    with pytest.raises(DeliveryLostError):
        await first.retry(stale, delay=0, reason="late")
    assert (await second.stats(queue)).in_flight == 1, "the new owner's copy is untouched"
    await second.ack(again)
    assert await nothing_within(taker, 0.5)
    await taker.stop()


async def test_attempt_counts_every_crash(rds: RedisHarness) -> None:
    queue = rds.queue("crashes")
    producer = rds.new_redis_backend()
    await producer.declare(queue)
    await producer.publish(queue, message())
    for expected in (1, 2, 3):
        worker = rds.new_redis_backend()
        subscription = await worker.consume([queue], prefetch=1)
        delivery = await receive(subscription, timeout=LEASE_SECONDS + 8)
        assert delivery.attempt == expected
        await rds.crash(worker)
    last = rds.new_redis_backend()
    subscription = await last.consume([queue], prefetch=1)
    delivery = await receive(subscription, timeout=LEASE_SECONDS + 8)
    assert delivery.attempt == 4
    await last.ack(delivery)
    await subscription.stop()


async def test_delivery_limit_parks_a_message_that_keeps_crashing_its_workers(
    rds: RedisHarness,
) -> None:
    queue = rds.queue("poison")
    producer = rds.new_redis_backend(delivery_limit=2)
    await producer.declare(queue)
    poison = message(b"not even an envelope")
    await producer.publish(queue, poison)
    for _ in range(2):
        worker = rds.new_redis_backend(delivery_limit=2)
        subscription = await worker.consume([queue], prefetch=1)
        await receive(subscription, timeout=LEASE_SECONDS + 8)
        await rds.crash(worker)
    reclaimer = rds.new_redis_backend(delivery_limit=2)
    subscription = await reclaimer.consume([queue], prefetch=1)
    # The reclaimer takes the entry over once idle past the lease, sees a third delivery
    # and parks it instead of handing it out.
    assert await nothing_within(subscription, LEASE_SECONDS + 4)
    assert (await reclaimer.stats(queue)).dead == 1
    [dead] = await reclaimer.dead_letters(queue)
    assert dead.message_id == poison.message_id and dead.body == poison.body
    assert dead.reason.startswith("delivery limit: delivered 2 times")
    assert dead.attempt == 2
    await subscription.stop()


async def test_stats_oldest_ready_age_and_delayed_apart_from_ready(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend()
    queue = rds.queue("stats")
    await backend.declare(queue)
    assert (await backend.stats(queue)).oldest_ready_age is None
    await backend.publish(queue, message())
    await backend.publish(queue, message(delay=3600))
    await asyncio.sleep(0.3)
    stats = await backend.stats(queue)
    assert (stats.ready, stats.delayed, stats.in_flight) == (1, 1, 0)
    assert stats.oldest_ready_age is not None and 0.25 <= stats.oldest_ready_age < 30


async def test_stats_of_a_queue_nobody_declared(rds: RedisHarness) -> None:
    stats = await rds.new_redis_backend().stats(rds.queue("never"))
    assert (stats.ready, stats.in_flight, stats.delayed, stats.dead) == (0, 0, 0, 0)


async def test_sync_publish_from_many_threads_and_a_forked_child(rds: RedisHarness) -> None:
    import os

    backend = rds.new_redis_backend()
    queue = rds.queue("threads")
    await backend.declare(queue)
    backend.publish_sync(queue, message())  # the parent's pool exists before the fork
    errors: list[BaseException] = []

    def publish_many() -> None:
        try:
            for _ in range(25):
                backend.publish_sync(queue, message())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pid = os.fork()
    if pid == 0:  # the child publishes through the inherited backend, then leaves at once
        try:
            backend.publish_batch_sync(queue, [message() for _ in range(5)])
        finally:
            os._exit(0)
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    assert errors == [] and os.waitstatus_to_exitcode(status) == 0
    assert (await backend.stats(queue)).ready == 1 + 200 + 5


async def test_a_group_deleted_under_a_consumer_is_created_again(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend()
    queue = rds.queue("nogroup")
    subscription = await backend.consume([queue], prefetch=1)
    raw = redis.Redis.from_url(URL)
    raw.delete(backend.keys(queue).stream)  # as a restart without persistence would
    raw.close()
    sent = message()
    await backend.publish(queue, sent)
    delivery = await receive(subscription, timeout=5)
    assert delivery.message_id == sent.message_id
    await backend.ack(delivery)
    await subscription.stop()


async def test_unreachable_server_raises_broker_unavailable_without_the_password() -> None:
    backend = RedisBackend.from_options(
        url="redis://:pw-hunter2-pw@127.0.0.1:1/0", connect_timeout=2, socket_timeout=2
    )
    with pytest.raises(BrokerUnavailableError) as caught:
        await backend.publish("q", message())
    assert "pw-hunter2-pw" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
    with pytest.raises(BrokerUnavailableError):
        await asyncio.to_thread(backend.publish_sync, "q", message())
    await backend.aclose()
    backend.close()


async def test_consumer_on_a_server_without_persistence_warns(
    rds: RedisHarness, caplog: pytest.LogCaptureFixture
) -> None:
    backend = rds.new_redis_backend(warn_without_persistence=True)
    persistence = await read_persistence(backend.clients.aio().client)
    assert persistence.volatile, "the shared test server runs without AOF or RDB"
    with caplog.at_level(logging.WARNING, logger="brokerjobs.redis"):
        subscription = await backend.consume([rds.queue("volatile")], prefetch=1)
    assert any("has no persistence" in r.getMessage() for r in caplog.records)
    await subscription.stop()


async def test_many_concurrent_settlements_share_few_connections(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend(max_connections=3)
    queue = rds.queue("crowd")
    await backend.declare(queue)
    await backend.publish_batch(queue, [message() for _ in range(300)])
    subscription = await backend.consume([queue], prefetch=300)
    deliveries = [await receive(subscription) for _ in range(300)]
    # 300 acks and 300 extends at once on a pool of 3: batched, and none fails.
    await asyncio.gather(*(backend.extend(d, seconds=30) for d in deliveries))
    await asyncio.gather(*(backend.ack(d) for d in deliveries))
    stats = await backend.stats(queue)
    assert (stats.ready, stats.in_flight) == (0, 0)
    await subscription.stop()


async def test_settlements_survive_a_flushed_script_cache(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", appendfsync=None)  # private: SCRIPT FLUSH is ours
    server.start()
    backend = RedisBackend.from_options(url=server.url, warn_without_persistence=False)
    try:
        await backend.publish_batch("q", [message() for _ in range(3)])
        subscription = await backend.consume(["q"], prefetch=3)
        first = await receive(subscription)
        await backend.ack(first)  # the scripts are loaded now
        raw = redis.Redis.from_url(server.url)
        raw.script_flush()
        raw.close()
        rest = [await receive(subscription), await receive(subscription)]
        await asyncio.gather(*(backend.ack(d) for d in rest))
        assert (await backend.stats("q")).in_flight == 0
        await subscription.stop()
    finally:
        await backend.aclose()
        backend.close()
        server.stop()


async def test_publish_waiting_for_missing_replicas_raises(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend(replicas=1, replica_timeout=0.2)
    queue = rds.queue("wait")
    with pytest.raises(BrokerUnavailableError, match="acknowledged by 0 of 1 replicas"):
        await backend.publish(queue, message())
    with pytest.raises(BrokerUnavailableError, match="acknowledged by 0 of 1 replicas"):
        await asyncio.to_thread(backend.publish_sync, queue, message())
    # Written on the primary all the same: a retry may duplicate, never lose.
    assert (await backend.stats(queue)).ready == 2
