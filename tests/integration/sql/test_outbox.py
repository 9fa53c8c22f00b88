"""The transactional outbox: a job published in the caller's transaction shares its fate."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pymysql
from brokerjobs_sql.urls import mysql_connect_args

from tests.integration.sql.conftest import message
from tests.support import backend_mysql, backend_postgres
from tests.support.backend_sqlite import SQLHarness, SQLiteHarness
from tests.support.harness import nothing_within, receive

ORDERS = "brokerjobs_test_orders"


def business_connection(db: SQLHarness) -> Any:
    """A plain driver connection, as the application's own data layer would hold."""
    if isinstance(db, SQLiteHarness):
        return sqlite3.connect(db.path, isolation_level=None)
    if db.name == "postgres":
        return psycopg.connect(backend_postgres.URL, autocommit=True)
    return pymysql.connect(**mysql_connect_args(backend_mysql.URL), autocommit=True)


def order_exists(connection: Any, order: str) -> bool:
    placeholder = "?" if isinstance(connection, sqlite3.Connection) else "%s"
    cursor = connection.cursor()
    cursor.execute(f"SELECT 1 FROM {ORDERS} WHERE ref = {placeholder}", (order,))
    found = cursor.fetchone() is not None
    cursor.close()
    return found


def place_order(db: SQLHarness, connection: Any, order: str, queue: str, *, commit: bool) -> str:
    """Insert an order and publish its job in one transaction; commit or roll back."""
    backend = db.backends[0]
    placeholder = "?" if isinstance(connection, sqlite3.Connection) else "%s"
    job = message(order.encode())
    cursor = connection.cursor()
    cursor.execute("BEGIN")
    cursor.execute(f"INSERT INTO {ORDERS} (ref) VALUES ({placeholder})", (order,))
    backend.publish_in(connection, queue, [job])
    cursor.execute("COMMIT" if commit else "ROLLBACK")
    cursor.close()
    return job.message_id


async def test_a_job_published_in_a_rolled_back_transaction_never_runs(db: SQLHarness) -> None:
    backend = await db.new_backend()
    queue = db.queue("outbox")
    await backend.migrate()
    connection = business_connection(db)
    try:
        connection.cursor().execute(f"CREATE TABLE IF NOT EXISTS {ORDERS} (ref VARCHAR(64))")
        subscription = await backend.consume([queue], prefetch=1)

        place_order(db, connection, f"{db.prefix}-lost", queue, commit=False)
        assert not order_exists(connection, f"{db.prefix}-lost")
        assert await nothing_within(subscription, 1.5)
        stats = await backend.stats(queue)
        assert (stats.ready, stats.delayed, stats.in_flight) == (0, 0, 0)

        kept = place_order(db, connection, f"{db.prefix}-kept", queue, commit=True)
        assert order_exists(connection, f"{db.prefix}-kept")
        delivery = await receive(subscription, timeout=5.0)
        assert (delivery.message_id, delivery.body) == (kept, f"{db.prefix}-kept".encode())
        await backend.ack(delivery)
        await subscription.stop()
    finally:
        cursor = connection.cursor()
        placeholder = "?" if isinstance(connection, sqlite3.Connection) else "%s"
        cursor.execute(f"DELETE FROM {ORDERS} WHERE ref LIKE {placeholder}", (f"{db.prefix}-%",))
        connection.close()
