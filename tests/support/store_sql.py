"""Store harnesses for the SQL stores: SQLite (a temporary file), PostgreSQL, MariaDB.

PostgreSQL and MariaDB are the shared servers (tests fail, never skip, when they are
down, saying how to start them); each test's keys are deleted afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import pytest
from brokerjobs_sql.coordination import MySQLStore, PostgresStore, SQLiteStore, SQLStore

from brokerjobs.store import Store
from tests.support import backend_mysql, backend_postgres
from tests.support.harness_store import StoreHarness


class SQLStoreHarness(StoreHarness):
    """Deletes this test's rows from ``brokerjobs_store`` at the end."""

    async def cleanup(self) -> None:
        for store in self.stores:
            assert isinstance(store, SQLStore)
            store.jobs.execute("DELETE FROM {store} WHERE store_key LIKE %s", (f"{self.prefix}:%",))
            return


class SQLiteStoreHarness(SQLStoreHarness):
    name: ClassVar[str] = "sqlite"
    clock_tolerance: ClassVar[float] = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="brokerjobs-store-"))
        self.path = self.directory / "store.db"

    def store_spec(self) -> str:
        return f"sqlite:///{self.path}"  # path is absolute: sqlite:////tmp/...

    def make_store(self) -> Store:
        return SQLiteStore.from_url(self.store_spec())

    async def aclose(self) -> None:
        await super().aclose()
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresStoreHarness(SQLStoreHarness):
    name: ClassVar[str] = "postgres"

    def __init__(self) -> None:
        super().__init__()
        backend_postgres.require_postgres()

    def store_spec(self) -> str:
        return backend_postgres.URL

    def make_store(self) -> Store:
        return PostgresStore.from_url(self.store_spec())


class MySQLStoreHarness(SQLStoreHarness):
    name: ClassVar[str] = "mysql"

    def __init__(self) -> None:
        super().__init__()
        backend_mysql.require_mysql()

    def store_spec(self) -> str:
        return backend_mysql.URL

    def make_store(self) -> Store:
        return MySQLStore.from_url(self.store_spec())


HARNESSES = [SQLiteStoreHarness, PostgresStoreHarness, MySQLStoreHarness]
MARKS = {
    "sqlite": [pytest.mark.sqlite],
    "postgres": [pytest.mark.postgres],
    "mysql": [pytest.mark.mysql],
}
