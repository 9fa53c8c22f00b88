"""dispatch(connection=...): a job enqueued in the caller's transaction shares its fate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from brokerjobs_sql import SQLiteBackend

import brokerjobs
from brokerjobs.errors import ConfigurationError
from brokerjobs.memory import MemoryBackend
from tests.unit.jobs_for_tests import SendWelcomeEmail


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> SQLiteBackend:
    backend = SQLiteBackend(tmp_path / "jobs.db")
    backend.migrate_sync()
    return backend


async def test_rolled_back_dispatch_never_exists_and_committed_one_does(
    sqlite_backend: SQLiteBackend,
) -> None:
    connection = sqlite3.connect(sqlite_backend.path, isolation_level=None)
    connection.execute("BEGIN")
    brokerjobs.dispatch(SendWelcomeEmail(user_id=1), backend=sqlite_backend, connection=connection)
    connection.execute("ROLLBACK")
    assert (await sqlite_backend.stats("emails")).ready == 0

    connection.execute("BEGIN")
    kept = brokerjobs.dispatch_many(
        [SendWelcomeEmail(user_id=2), SendWelcomeEmail(user_id=3)],
        backend=sqlite_backend,
        connection=connection,
    )
    connection.execute("COMMIT")
    assert len(kept) == 2
    assert (await sqlite_backend.stats("emails")).ready == 2
    connection.close()
    await sqlite_backend.aclose()
    sqlite_backend.close()


def test_connection_on_a_broker_backend_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="SQL backends"):
        brokerjobs.dispatch(
            SendWelcomeEmail(user_id=1), backend=MemoryBackend(), connection=object()
        )
