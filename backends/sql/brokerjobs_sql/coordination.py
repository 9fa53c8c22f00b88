"""The coordination :class:`~brokerjobs.store.Store` on the ``brokerjobs_store`` table.

One row per key; the database's clock decides expiry (``{now}`` in every statement), so
workers on machines with skewed clocks still agree. Every operation is one statement the
database runs atomically on the primary key; none reads a row and then writes it from
here:

* ``set_if_absent``: delete the key's row *if expired*, then insert-or-ignore. Two
  racers can never both insert one primary key, and a live row is never deleted.
* ``compare_and_set`` / ``compare_and_delete``: ``UPDATE``/``DELETE … WHERE value = %s
  AND expires_at > {now}``; the row lock serializes racers.
* ``count_in_window``: open the window with the same insert-or-ignore, else
  ``UPDATE … SET counter = counter + 1 WHERE counter < limit``.

Expired rows are removed lazily: by the next ``set_if_absent`` on the same key, and now and
then by a sweep of every expired row (an index on ``expires_at`` keeps it cheap).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from brokerjobs.errors import (
    BackendError,
    BrokerUnavailableError,
    StoreError,
    StoreUnavailableError,
)
from brokerjobs.store import BlockingStore, check_key, check_ttl, check_window
from brokerjobs_sql.dialects import MySQLDialect, PostgresDialect, SQLiteDialect
from brokerjobs_sql.store import JobStore

T = TypeVar("T")

_DELETE_EXPIRED = "DELETE FROM {store} WHERE store_key = %s AND expires_at <= {now}"
_INSERT_ROWS = "(store_key, value, counter, expires_at) VALUES (%s, %s, %s, {now} + %s)"
_GET = "SELECT value FROM {store} WHERE store_key = %s AND expires_at > {now}"
_CAS = (
    "UPDATE {store} SET value = %s, expires_at = {now} + %s"
    " WHERE store_key = %s AND value = %s AND expires_at > {now}"
)
_CAD = "DELETE FROM {store} WHERE store_key = %s AND value = %s AND expires_at > {now}"
_BUMP = (
    "UPDATE {store} SET counter = counter + 1"
    " WHERE store_key = %s AND expires_at > {now} AND counter < %s"
)
_LEFT = "SELECT expires_at - {now} FROM {store} WHERE store_key = %s"
_SWEEP = "DELETE FROM {store} WHERE expires_at <= {now}"
SWEEP_EVERY = 500
"""About one ``set_if_absent`` in this many also deletes every expired row."""


class SQLStore(BlockingStore):
    """The Store contract on one database, sharing a backend's connections when given one."""

    name: ClassVar[str] = "sql"

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self._insert = jobs.dialect.insert_ignore.format(table="{store}", rows=_INSERT_ROWS)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.jobs.dialect.describe()}>"

    # -- plumbing -------------------------------------------------------------------------
    def _rowcount(self, template: str, params: Sequence[Any]) -> int:
        try:
            return self.jobs.execute(template, params)
        except BackendError as exc:
            raise _store_error(exc) from None

    def _rows(self, template: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self.jobs.query(template, params)
        except BackendError as exc:
            raise _store_error(exc) from None

    # -- blocking operations ----------------------------------------------------------------
    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        ttl = check_ttl(ttl)
        if random.randrange(SWEEP_EVERY) == 0:
            self.purge_expired()
        self._rowcount(_DELETE_EXPIRED, (key,))
        return self._rowcount(self._insert, (key, bytes(value), 0, ttl)) == 1

    def get_sync(self, key: str) -> bytes | None:
        check_key(key)
        rows = self._rows(_GET, (key,))
        return bytes(rows[0][0]) if rows else None

    def compare_and_set_sync(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        ttl = check_ttl(ttl)
        return self._rowcount(_CAS, (bytes(value), ttl, key, bytes(expected))) == 1

    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool:
        check_key(key)
        return self._rowcount(_CAD, (key, bytes(expected))) == 1

    def count_in_window_sync(self, key: str, *, limit: int, window: float) -> float:
        window = check_window(key, limit, window)
        for _ in range(10):
            self._rowcount(_DELETE_EXPIRED, (key,))
            if self._rowcount(self._insert, (key, b"", 1, window)) == 1:
                return 0.0
            if self._rowcount(_BUMP, (key, limit)) == 1:
                return 0.0
            rows = self._rows(_LEFT, (key,))
            if rows and float(rows[0][0]) > 0:
                return float(rows[0][0])
            # The window ended between two statements: open the next one.
        raise StoreError(f"count_in_window({key!r}) kept racing with window ends")

    def purge_expired(self) -> int:
        """Delete every expired row; returns how many."""
        return self._rowcount(_SWEEP, ())

    # -- lifetime -------------------------------------------------------------------------
    async def aclose(self) -> None:
        self.jobs.pool.close_all()


def _store_error(exc: BackendError) -> StoreError:
    if isinstance(exc, BrokerUnavailableError):
        return StoreUnavailableError(str(exc))
    return StoreError(str(exc))


class SQLiteStore(SQLStore):
    """``sqlite:///path/to/file.db`` (or ``BROKERJOBS_SQLITE_PATH``): one machine's processes."""

    name: ClassVar[str] = "sqlite"

    @classmethod
    def from_url(cls, url: str | None) -> SQLiteStore:
        from brokerjobs_sql.sqlite import SQLiteBackend

        # As SQLAlchemy spells it: sqlite:///relative.db, sqlite:////absolute/path.db
        path = url.split("://", 1)[1] if url else ""
        path = path[1:] if path.startswith("/") else path
        return cls(SQLiteBackend(path or None).store)


class PostgresStore(SQLStore):
    """``postgresql://…`` (or ``BROKERJOBS_POSTGRES_URL``)."""

    name: ClassVar[str] = "postgres"

    @classmethod
    def from_url(cls, url: str | None) -> PostgresStore:
        from brokerjobs_sql.postgres import PostgresBackend

        return cls(PostgresBackend(url).store)


class MySQLStore(SQLStore):
    """``mysql://…`` / ``mariadb://…`` (or ``BROKERJOBS_MYSQL_URL``)."""

    name: ClassVar[str] = "mysql"

    @classmethod
    def from_url(cls, url: str | None) -> MySQLStore:
        from brokerjobs_sql.mysql import MySQLBackend

        if url and url.startswith("mariadb://"):
            url = "mysql://" + url.split("://", 1)[1]
        return cls(MySQLBackend(url).store)


def store_for(jobs: JobStore) -> SQLStore:
    """The store class matching ``jobs``' dialect, on the same connections."""
    dialect = jobs.dialect
    if isinstance(dialect, SQLiteDialect):
        return SQLiteStore(jobs)
    if isinstance(dialect, PostgresDialect):
        return PostgresStore(jobs)
    if isinstance(dialect, MySQLDialect):
        return MySQLStore(jobs)
    return SQLStore(jobs)
