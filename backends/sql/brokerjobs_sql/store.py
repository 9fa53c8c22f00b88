"""The shared claim/settle core: blocking operations on the jobs table, for every dialect.

Each operation runs on the calling thread's connection (:class:`ConnectionPool`), retries
deadlocks, and translates driver exceptions into :mod:`brokerjobs.errors` at this edge.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from brokerjobs.backend import OutgoingMessage
from brokerjobs.errors import BackendError, BrokerUnavailableError
from brokerjobs_sql import schema
from brokerjobs_sql.dialects import DBConnection, Dialect, ErrorKind
from brokerjobs_sql.pool import ConnectionPool
from brokerjobs_sql.urls import redact

T = TypeVar("T")
log = logging.getLogger("brokerjobs.sql")

_RETRIES = 4
_COLUMNS = "queue, message_id, body, priority, attempts, available_at, created_at, updated_at"
_ROW_VALUES = "(%s, %s, %s, %s, 0, {now} + %s, {now}, {now})"
_PRECHECK = "SELECT 1 FROM {jobs} WHERE queue = %s AND available_at <= {now} LIMIT 1"
_SELECT_READY = (
    "SELECT id, message_id, body, attempts FROM {jobs} WHERE queue = %s AND available_at <= {now}"
    " ORDER BY priority DESC, available_at, id LIMIT %s{skip_locked}"
)
_CLAIM = (
    "UPDATE {jobs} SET lease_token = %s, available_at = {now} + %s, attempts = attempts + 1,"
    " updated_at = {now} WHERE id IN ({ids})"
)
_NEXT_DUE = "SELECT MIN(available_at) - {now} FROM {jobs} WHERE queue IN ({queues})"


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A row this consumer now leases under ``token``."""

    row_id: int
    queue: str
    message_id: str
    body: bytes
    attempt: int
    token: str


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim found; ``next_due`` (seconds) is set only when it found nothing."""

    rows: list[ClaimedRow]
    next_due: float | None = None


class JobStore:
    """Blocking, thread-safe operations on the jobs tables of one database."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.pool = ConnectionPool(dialect.connect, dialect.close_quietly)
        self._migrated_in: int | None = None
        self._migrate_lock = threading.Lock()
        self._sql_cache: dict[str, str] = {}

    def sql(self, template: str) -> str:
        """``template`` rendered for this dialect (cached)."""
        rendered = self._sql_cache.get(template)
        if rendered is None:
            if len(self._sql_cache) > 512:  # IN lists of many lengths: keep it bounded
                self._sql_cache.clear()
            rendered = self._sql_cache[template] = self.dialect.sql(template)
        return rendered

    # -- plumbing ----------------------------------------------------------------------
    def run(self, operation: Callable[[DBConnection], T], *, migrate: bool = True) -> T:
        """``operation(connection)``, retried on deadlock, driver errors translated."""
        if migrate and self._migrated_in != os.getpid():
            self.migrate()
        for attempt in range(_RETRIES):
            connection: DBConnection | None = None
            try:
                connection = self.pool.get()
                return operation(connection)
            except self.dialect.driver_errors as exc:
                kind = self.dialect.classify(exc)
                if kind is ErrorKind.RETRY and attempt + 1 < _RETRIES:
                    time.sleep(0.005 * 2**attempt)
                    continue
                if connection is not None and kind is not ErrorKind.FAILED:
                    self.pool.discard(connection)
                raise self.translate(exc, kind) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def translate(self, exc: BaseException, kind: ErrorKind | None = None) -> BackendError:
        """A :mod:`brokerjobs.errors` exception for the driver exception ``exc``."""
        kind = kind or self.dialect.classify(exc)
        detail = redact(f"{type(exc).__name__}: {exc}".strip())
        where = self.dialect.describe()
        if kind is ErrorKind.FAILED:
            return BackendError(f"{where}: {detail}")
        return BrokerUnavailableError(f"{where} is unavailable or busy ({detail})")

    @contextmanager
    def transaction(self, connection: DBConnection, begin: str | None = None) -> Iterator[Any]:
        """A cursor inside an explicit transaction, committed on success, else rolled back."""
        cursor = connection.cursor()
        try:
            cursor.execute(begin or self.dialect.begin)
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(Exception):  # the original error is what matters
                    cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        finally:
            cursor.close()

    def execute(self, template: str, params: Sequence[Any] = ()) -> int:
        """Run one autocommitted statement; returns the rows it matched."""

        def run(connection: DBConnection) -> int:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql(template), tuple(params))
                return int(cursor.rowcount)
            finally:
                cursor.close()

        return self.run(run)

    def query(self, template: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read statement; returns every row."""

        def run(connection: DBConnection) -> list[tuple[Any, ...]]:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql(template), tuple(params))
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()

        return self.run(run)

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> int:
        """Create or upgrade the schema (idempotent, safe from concurrent processes)."""
        with self._migrate_lock:
            if self._migrated_in == os.getpid():
                return schema.VERSION
            self.run(self._migrate, migrate=False)
            self._migrated_in = os.getpid()
            return schema.VERSION

    def _migrate(self, connection: DBConnection) -> None:
        take, drop = self.dialect.migration_lock()
        cursor = connection.cursor()
        try:
            for statement in take:
                cursor.execute(statement)
            try:
                for statement in self.dialect.ddl():
                    cursor.execute(statement)
                cursor.execute(f"SELECT MAX(version) FROM {schema.VERSIONS}")
                row = cursor.fetchone()
                # The DDL above is idempotent and creates what a newer version added
                # (version 2: the coordination store table); record the version reached.
                if row is None or row[0] is None or int(row[0]) < schema.VERSION:
                    cursor.execute(
                        self.sql(f"INSERT INTO {schema.VERSIONS} (version) VALUES (%s)"),
                        (schema.VERSION,),
                    )
            except BaseException:
                if take and take[0].startswith(("BEGIN", "START")):
                    cursor.execute("ROLLBACK")
                    take, drop = [], []
                raise
            finally:
                for statement in drop:
                    cursor.execute(statement)
        finally:
            cursor.close()

    # -- publishing --------------------------------------------------------------------
    def insert(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        """Insert ``messages`` durably: one multi-row statement per chunk, one transaction."""
        if not messages:
            return
        single = len(messages) <= self.dialect.rows_per_insert and not self.dialect.notify_sql

        def run(connection: DBConnection) -> None:
            if single:
                cursor = connection.cursor()
                try:
                    self.insert_on_cursor(cursor, queue, messages)
                finally:
                    cursor.close()
                return
            with self.transaction(connection) as cursor:
                self.insert_on_cursor(cursor, queue, messages)

        self.run(run)

    def insert_on_cursor(
        self, cursor: Any, queue: str, messages: Sequence[OutgoingMessage]
    ) -> None:
        """Insert within whatever transaction ``cursor`` is in (the transactional outbox)."""
        size = self.dialect.rows_per_insert
        for start in range(0, len(messages), size):
            chunk = messages[start : start + size]
            statement = f"INSERT INTO {{jobs}} ({_COLUMNS}) VALUES " + ", ".join(
                [_ROW_VALUES] * len(chunk)
            )
            params: list[Any] = []
            for message in chunk:
                params += [
                    queue,
                    message.message_id,
                    message.body,
                    message.priority,
                    max(0.0, message.delay),
                ]
            cursor.execute(self.sql(statement), params)
        if self.dialect.notify_sql:
            cursor.execute(self.dialect.sql(self.dialect.notify_sql), (queue,))

    # -- claiming ----------------------------------------------------------------------
    def claim(self, queues: Sequence[str], limit: int, token: str, lease: float) -> Claim:
        """Lease up to ``limit`` ready rows, from ``queues`` in priority order."""
        rows: list[ClaimedRow] = []
        for queue in queues:
            wanted = limit - len(rows)
            if wanted <= 0:
                break

            def claim_queue(
                connection: DBConnection, queue: str = queue, wanted: int = wanted
            ) -> list[ClaimedRow]:
                return self._claim_queue(connection, queue, wanted, token, lease)

            rows += self.run(claim_queue)
        if rows or not queues:
            return Claim(rows)
        found = self.query(
            _NEXT_DUE.replace("{queues}", self.dialect.placeholders(len(queues))), queues
        )
        due = found[0][0] if found else None
        return Claim([], None if due is None else float(due))

    def _claim_queue(
        self, connection: DBConnection, queue: str, limit: int, token: str, lease: float
    ) -> list[ClaimedRow]:
        if self.dialect.precheck_claims:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql(_PRECHECK), (queue,))
                if cursor.fetchone() is None:
                    return []
            finally:
                cursor.close()
        with self.transaction(connection) as cursor:
            cursor.execute(self.sql(_SELECT_READY), (queue, limit))
            found = cursor.fetchall()
            if not found:
                return []
            ids = [row[0] for row in found]
            statement = _CLAIM.replace("{ids}", self.dialect.placeholders(len(ids)))
            cursor.execute(self.sql(statement), (token, lease, *ids))
        return [
            ClaimedRow(int(row_id), queue, str(message_id), bytes(body), int(attempts) + 1, token)
            for row_id, message_id, body, attempts in found
        ]
