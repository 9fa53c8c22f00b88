"""Fixtures for the SQL backend tests: a harness per database, each failing if it is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from brokerjobs.backend import OutgoingMessage
from tests.support.backend_mysql import MySQLHarness
from tests.support.backend_postgres import PostgresHarness
from tests.support.backend_sqlite import SQLHarness, SQLiteHarness

SQLITE = pytest.param(SQLiteHarness, id="sqlite", marks=pytest.mark.sqlite)
POSTGRES = pytest.param(PostgresHarness, id="postgres", marks=pytest.mark.postgres)
MYSQL = pytest.param(MySQLHarness, id="mysql", marks=pytest.mark.mysql)


@pytest.fixture(params=[SQLITE, POSTGRES, MYSQL])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[SQLHarness]:
    """A harness for each database (tests pick a subset with ``@pytest.mark.parametrize``)."""
    harness: SQLHarness = request.param()
    try:
        yield harness
    finally:
        await harness.aclose()


def message(body: bytes | None = None, *, delay: float = 0.0, priority: int = 0) -> OutgoingMessage:
    """A message with a fresh id; the body names it unless given."""
    message_id = uuid.uuid4().hex
    return OutgoingMessage(
        body=body if body is not None else f'{{"id":"{message_id}"}}'.encode(),
        message_id=message_id,
        delay=delay,
        priority=priority,
    )
