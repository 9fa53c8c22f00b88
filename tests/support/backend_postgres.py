"""Test harness for the PostgreSQL backend: the shared tables, a queue prefix per test.

Needs PostgreSQL on 127.0.0.1:5432 (``BROKERJOBS_TEST_POSTGRES_URL`` overrides); fails,
never skips, when it is down, saying how to start it.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest
from brokerjobs_sql import PostgresBackend, SQLBackend

from tests.support.backend_sqlite import LEASE_SECONDS, SQLHarness

URL = os.environ.get("BROKERJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def require_postgres(url: str = URL) -> None:
    """Fail the test with instructions when PostgreSQL cannot be reached."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}); start it with: {START}", pytrace=False)


class PostgresHarness(SQLHarness):
    """Backends on the shared PostgreSQL ``test`` database; this test's rows removed after."""

    name: ClassVar[str] = "postgres"

    def __init__(self) -> None:
        super().__init__()
        require_postgres()

    def options(self) -> dict[str, Any]:
        return {"url": URL, "lease_seconds": LEASE_SECONDS, "poll_interval": 0.25}

    def make_backend(self) -> SQLBackend:
        return PostgresBackend(**self.options())

    async def aclose(self) -> None:
        await delete_rows(self.backends, self.prefix)
        await super().aclose()


async def delete_rows(backends: list[SQLBackend], prefix: str) -> None:
    """Delete every row of queues named ``prefix-...`` (this test's queues)."""
    if not backends:
        return
    store = backends[0].store
    for table in ("{jobs}", "{dead}"):
        store.execute(f"DELETE FROM {table} WHERE queue LIKE %s", (f"{prefix}-%",))


HARNESS = PostgresHarness
MARKS = [pytest.mark.postgres]
