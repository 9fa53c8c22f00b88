"""What the contract suite does not cover: drivers under threads and fork, NOTIFY, errors."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from brokerjobs_sql import MySQLBackend, PostgresBackend, SQLBackend, SQLiteBackend
from brokerjobs_sql.urls import mysql_connect_args, redact

from brokerjobs.errors import BrokerUnavailableError
from tests.integration.sql.conftest import POSTGRES, message
from tests.support import backend_postgres
from tests.support.backend_sqlite import LEASE_SECONDS, SQLHarness
from tests.support.harness import nothing_within, receive


async def test_sync_publish_from_many_threads(db: SQLHarness) -> None:
    backend = await db.new_backend()
    queue = db.queue("threads")
    await backend.declare(queue)
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
    assert errors == []
    assert (await backend.stats(queue)).ready == 200


async def test_sync_publish_in_a_forked_child_leaves_the_parent_connection_intact(
    db: SQLHarness,
) -> None:
    backend = await db.new_backend()
    queue = db.queue("fork")
    backend.publish_sync(queue, message(b"parent before"))
    pid = os.fork()
    if pid == 0:  # the child: must open its own connection, never reuse the parent's
        try:
            backend.publish_sync(queue, message(b"child"))
            backend.close()
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    backend.publish_sync(queue, message(b"parent after"))
    assert (await backend.stats(queue)).ready == 3


async def test_a_batch_larger_than_one_statement_is_published_whole(db: SQLHarness) -> None:
    backend = await db.new_backend()
    queue = db.queue("batch")
    await backend.publish_batch(queue, [message() for _ in range(2345)])
    assert (await backend.stats(queue)).ready == 2345


async def test_higher_priority_first_and_queues_in_the_order_given(db: SQLHarness) -> None:
    backend = await db.new_backend()
    low, high = db.queue("low"), db.queue("high")
    await backend.publish(low, message(b"low queue"))
    await backend.publish(high, message(b"normal", priority=0))
    await backend.publish(high, message(b"urgent", priority=5))
    subscription = await backend.consume([high, low], prefetch=1)
    bodies = []
    for _ in range(3):
        delivery = await receive(subscription)
        bodies.append(delivery.body)
        await backend.ack(delivery)
    assert bodies == [b"urgent", b"normal", b"low queue"]
    await subscription.stop()


async def test_stop_gives_buffered_rows_back_uncounted(db: SQLHarness) -> None:
    backend = await db.new_backend()
    queue = db.queue("stop")
    await backend.publish_batch(queue, [message() for _ in range(5)])
    subscription = await backend.consume([queue], prefetch=5)
    held = await receive(subscription)
    await subscription.stop()
    stats = await backend.stats(queue)
    assert (stats.ready, stats.in_flight) == (4, 1)

    other = await db.new_backend()
    second = await other.consume([queue], prefetch=5)
    for _ in range(4):
        delivery = await receive(second)
        assert delivery.attempt == 1 and delivery.message_id != held.message_id
        await other.ack(delivery)
    await backend.ack(held)
    await second.stop()


async def test_a_live_consumer_keeps_its_lease_past_the_lease_length(db: SQLHarness) -> None:
    backend = await db.new_backend()
    queue = db.queue("lease")
    await backend.publish(queue, message())
    subscription = await backend.consume([queue], prefetch=1)
    held = await receive(subscription)

    rival = await db.new_backend()
    rival_subscription = await rival.consume([queue], prefetch=1)
    assert await nothing_within(rival_subscription, LEASE_SECONDS * 2.5)
    await backend.ack(held)
    await rival_subscription.stop()
    await subscription.stop()


@pytest.mark.parametrize("db", [POSTGRES], indirect=True)
async def test_postgres_notify_wakes_an_idle_consumer_at_once(db: SQLHarness) -> None:
    sleepy = PostgresBackend(backend_postgres.URL, poll_interval=60.0)
    db.backends.append(sleepy)
    queue = db.queue("notify")
    await sleepy.declare(queue)
    subscription = await sleepy.consume([queue], prefetch=1)
    assert await nothing_within(subscription, 0.5)  # claimed nothing: now idle for 60 s

    publisher = await db.new_backend()
    await publisher.publish(queue, message(b"wake up"))
    delivery = await receive(subscription, timeout=3.0)
    assert delivery.body == b"wake up"
    await sleepy.ack(delivery)
    await subscription.stop()


@pytest.mark.parametrize(
    "backend",
    [
        PostgresBackend("postgresql://jobs:s3cr3t-pw@127.0.0.1:1/jobs", connect_timeout=2),
        MySQLBackend("mysql://jobs:s3cr3t-pw@127.0.0.1:1/jobs", connect_timeout=2),
        SQLiteBackend("/nonexistent-dir/s3cr3t-pw/jobs.db", busy_timeout=1),
    ],
    ids=["postgres", "mysql", "sqlite"],
)
async def test_an_unreachable_database_is_unavailable_and_secrets_stay_hidden(
    backend: SQLBackend,
) -> None:
    with pytest.raises(BrokerUnavailableError) as raised:
        backend.publish_sync("q", message())
    with pytest.raises(BrokerUnavailableError):
        await backend.stats("q")
    if not isinstance(backend, SQLiteBackend):
        assert "s3cr3t-pw" not in str(raised.value)
        assert "s3cr3t-pw" not in repr(backend)
    await backend.aclose()


def test_urls_lose_their_passwords_and_mysql_urls_parse() -> None:
    assert (
        redact("postgresql://app:pa%40ss@db:5432/x failed")
        == "postgresql://app:***@db:5432/x failed"
    )
    assert redact("host=db password=hunter2 user=app") == "host=db password=*** user=app"
    assert mysql_connect_args("mysql://app:p%40ss@db:3307/jobs") == {
        "host": "db",
        "port": 3307,
        "user": "app",
        "password": "p@ss",
        "database": "jobs",
    }
    with pytest.raises(ValueError, match="names no database"):
        mysql_connect_args("mysql://app:secret@db")
