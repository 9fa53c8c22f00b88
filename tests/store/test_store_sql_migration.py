"""The store table arrives by migration (schema version 2), also on a version-1 database."""

from __future__ import annotations

from pathlib import Path

import pytest
from brokerjobs_sql import SQLiteBackend
from brokerjobs_sql.schema import STORE, VERSIONS

pytestmark = pytest.mark.sqlite


async def test_a_version_1_database_is_upgraded_and_its_jobs_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SQLiteBackend(path)
    old.migrate_sync()
    old.store.execute(f"DROP TABLE {STORE}")  # what version 1 had: no store table
    old.store.execute(f"DELETE FROM {VERSIONS}")
    old.store.execute(f"INSERT INTO {VERSIONS} (version) VALUES (1)")
    old.store.execute(
        "INSERT INTO {jobs} (queue, message_id, body, priority, attempts, available_at,"
        " created_at, updated_at) VALUES ('q', 'm1', x'00', 0, 0, 0, 0, 0)"
    )
    old.close()

    new = SQLiteBackend(path)
    assert new.migrate_sync() == 2
    assert new.store.query(f"SELECT MAX(version) FROM {VERSIONS}") == [(2,)]
    assert new.store.query("SELECT message_id FROM {jobs}") == [("m1",)]
    store = new.coordination_store()
    assert await store.set_if_absent("k", b"v", ttl=60)
    assert await store.get("k") == b"v"
    await store.aclose()
    new.close()
