"""What differs between SQLite, PostgreSQL and MariaDB/MySQL: connecting, SQL spellings, errors.

Everything else (the claim/settle logic in :mod:`brokerjobs_sql.store`) is shared. SQL
templates are written once with ``%s`` placeholders and ``{now}``-style slots that each
dialect fills in (:meth:`Dialect.sql`).
"""

from __future__ import annotations

import abc
import contextlib
import enum
import sqlite3
from typing import Any, ClassVar

from brokerjobs.errors import ConfigurationError
from brokerjobs_sql import schema
from brokerjobs_sql.urls import mysql_connect_args, redact

DBConnection = Any
"""A DB-API 2 connection (sqlite3, psycopg or PyMySQL); the drivers share no static type."""


class ErrorKind(enum.Enum):
    """How the store reacts to a driver exception."""

    RETRY = "retry"
    """Deadlock or serialization failure: the transaction was rolled back, run it again."""
    UNAVAILABLE = "unavailable"
    """Connection lost, timeout, database locked: drop the connection, raise as transient."""
    FAILED = "failed"
    """Anything else: a bug or a schema problem, raised as a plain backend error."""


class Dialect(abc.ABC):
    """One database family: how to connect, spell SQL and read its errors."""

    name: ClassVar[str]
    now: ClassVar[str]
    """SQL expression for the database clock in epoch seconds, constant within a statement."""
    greatest: ClassVar[str] = "GREATEST"
    begin: ClassVar[str] = "BEGIN"
    """Starts a transaction that may write (SQLite takes the write lock at once)."""
    skip_locked: ClassVar[str] = " FOR UPDATE SKIP LOCKED"
    lock_rows: ClassVar[str] = " FOR UPDATE"
    precheck_claims: ClassVar[bool] = False
    """Look for ready rows before taking a write lock (SQLite: one writer at a time)."""
    rows_per_insert: ClassVar[int] = 500
    insert_ignore: ClassVar[str] = "INSERT INTO {table} {rows} ON CONFLICT DO NOTHING"
    """An insert that does nothing (0 rows) when the primary key is taken."""
    notify_sql: ClassVar[str | None] = None
    """Statement run after a publish to wake idle consumers at once (``%s`` = queue)."""
    driver_errors: tuple[type[BaseException], ...]
    """Base classes of the driver's exceptions (set by each dialect)."""

    def sql(self, template: str) -> str:
        """``template`` in this dialect: slots filled in, placeholders in the driver's style."""
        return template.format(
            jobs=schema.JOBS,
            dead=schema.DEAD_LETTERS,
            store=schema.STORE,
            now=self.now,
            greatest=self.greatest,
            skip_locked=self.skip_locked,
            lock_rows=self.lock_rows,
        )

    def placeholders(self, count: int) -> str:
        """``%s, %s, ...`` for an ``IN (...)`` list of ``count`` values."""
        return ", ".join(["%s"] * count)

    @abc.abstractmethod
    def connect(self) -> DBConnection:
        """A new connection in autocommit mode (transactions are opened explicitly)."""

    @abc.abstractmethod
    def ddl(self) -> list[str]:
        """Statements creating the schema, each idempotent."""

    @abc.abstractmethod
    def classify(self, exc: BaseException) -> ErrorKind:
        """How to react to the driver exception ``exc``."""

    def describe(self) -> str:
        """Where this dialect connects, without secrets (for errors and logs)."""
        return self.name

    def migration_lock(self) -> tuple[list[str], list[str]]:
        """Statements taking and dropping a lock that serializes concurrent migrations."""
        return [], []

    @staticmethod
    def close_quietly(connection: DBConnection) -> None:
        """Close ``connection``, ignoring errors (it may already be broken)."""
        with contextlib.suppress(Exception):  # a broken connection is thrown away anyway
            connection.close()


class SQLiteDialect(Dialect):
    """SQLite through the standard library, in WAL mode, one file shared by processes."""

    name = "sqlite"
    now = "((julianday('now') - 2440587.5) * 86400.0)"
    greatest = "MAX"
    begin = "BEGIN IMMEDIATE"
    skip_locked = ""
    lock_rows = ""
    precheck_claims = True
    # 9 parameters a row; stays well under SQLite's 32766 variables per statement.
    rows_per_insert = 1000

    def __init__(self, path: str, *, busy_timeout: float = 30.0, synchronous: str = "NORMAL"):
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.driver_errors = (sqlite3.Error,)
        self.path = path
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()

    def sql(self, template: str) -> str:
        return super().sql(template).replace("%s", "?")

    def connect(self) -> DBConnection:
        connection = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        return connection

    def ddl(self) -> list[str]:
        return schema.sqlite_ddl()

    def classify(self, exc: BaseException) -> ErrorKind:
        if isinstance(exc, sqlite3.OperationalError):
            return ErrorKind.UNAVAILABLE
        return ErrorKind.FAILED

    def describe(self) -> str:
        return f"sqlite at {self.path}"

    def migration_lock(self) -> tuple[list[str], list[str]]:
        return ["BEGIN IMMEDIATE"], ["COMMIT"]


class PostgresDialect(Dialect):
    """PostgreSQL through psycopg 3."""

    name = "postgres"
    now = "EXTRACT(EPOCH FROM statement_timestamp())::float8"
    notify_sql = "SELECT pg_notify('brokerjobs', %s)"

    def __init__(self, url: str, *, connect_timeout: float = 10.0, statement_timeout: float = 30.0):
        import psycopg

        self.url = url
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.driver_errors = (psycopg.Error,)

    def connect(self) -> DBConnection:
        import psycopg

        connection = psycopg.connect(
            self.url, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
        )
        connection.execute(f"SET statement_timeout = {int(self.statement_timeout * 1000)}")
        return connection

    def ddl(self) -> list[str]:
        return schema.postgres_ddl()

    def classify(self, exc: BaseException) -> ErrorKind:
        import psycopg
        from psycopg import errors

        if isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
            return ErrorKind.RETRY
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return ErrorKind.UNAVAILABLE
        return ErrorKind.FAILED

    def describe(self) -> str:
        return f"postgres at {redact(self.url)}"

    def migration_lock(self) -> tuple[list[str], list[str]]:
        # Concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type: serialize.
        return ["BEGIN", "SELECT pg_advisory_xact_lock(727274)"], ["COMMIT"]


class MySQLDialect(Dialect):
    """MariaDB (10.6 or later) or MySQL (8.0 or later) through PyMySQL."""

    name = "mysql"
    now = "(UNIX_TIMESTAMP(NOW(6)) + 0e0)"
    begin = "START TRANSACTION"
    insert_ignore = "INSERT IGNORE INTO {table} {rows}"

    def __init__(self, url: str, *, connect_timeout: float = 10.0, read_timeout: float = 60.0):
        import pymysql

        try:
            mysql_connect_args(url)  # a malformed URL is a configuration error, found now
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        self.url = url
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.driver_errors = (pymysql.Error,)

    def connect(self) -> DBConnection:
        import pymysql
        from pymysql.constants import CLIENT

        connection = pymysql.connect(
            **mysql_connect_args(self.url),
            autocommit=True,
            # rowcount = rows matched, not rows changed: an extend that keeps the same
            # lease end must not look like a lost lease.
            client_flag=CLIENT.FOUND_ROWS,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            write_timeout=self.read_timeout,
            charset="utf8mb4",
        )
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION time_zone = '+00:00'")
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.execute("SET SESSION innodb_lock_wait_timeout = 20")
        return connection

    def ddl(self) -> list[str]:
        return schema.mysql_ddl()

    def classify(self, exc: BaseException) -> ErrorKind:
        import pymysql

        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code in {1205, 1213}:  # lock wait timeout, deadlock: the transaction rolled back
            return ErrorKind.RETRY
        if isinstance(exc, pymysql.OperationalError | pymysql.InterfaceError):
            return ErrorKind.UNAVAILABLE
        return ErrorKind.FAILED

    def describe(self) -> str:
        return f"mysql at {redact(self.url)}"

    def migration_lock(self) -> tuple[list[str], list[str]]:
        # DDL commits implicitly in MySQL, so a session lock serializes instead.
        return ["SELECT GET_LOCK('brokerjobs_migrate', 60)"], [
            "SELECT RELEASE_LOCK('brokerjobs_migrate')"
        ]
