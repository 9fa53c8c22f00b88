"""SQLite: the zero-setup default. One file, WAL mode, shared by processes on one machine."""

from __future__ import annotations

import os
from typing import ClassVar

from brokerjobs.errors import ConfigurationError
from brokerjobs_sql.backend import SQLBackend
from brokerjobs_sql.dialects import SQLiteDialect

DEFAULT_PATH = "./brokerjobs.db"


class SQLiteBackend(SQLBackend):
    """Jobs in a SQLite file (``BROKERJOBS_SQLITE_PATH``, default ``./brokerjobs.db``).

    Several worker processes may share the file: a claim takes SQLite's write lock
    (``BEGIN IMMEDIATE``), so no row is ever leased twice, and WAL mode lets readers
    carry on meanwhile. Processes wait up to ``busy_timeout`` seconds for the lock.
    ``synchronous`` (``BROKERJOBS_SQLITE_SYNCHRONOUS``) is ``NORMAL`` by default:
    durable across process crashes; ``FULL`` also survives power loss, at a cost.
    The file must be on a local disk (SQLite's locking is unreliable over NFS).
    """

    name: ClassVar[str] = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.2,
        busy_timeout: float = 30.0,
        synchronous: str | None = None,
        threads: int = 4,
    ) -> None:
        raw = str(path or os.environ.get("BROKERJOBS_SQLITE_PATH") or DEFAULT_PATH)
        if raw == ":memory:" or raw.startswith("file::memory:"):
            raise ConfigurationError(
                "an in-memory SQLite database is private to one connection and cannot hold "
                "a queue; use the 'memory' backend for tests, or a file path"
            )
        # Absolute, so that a later chdir() cannot split producers and workers apart.
        self.path = os.path.abspath(raw)
        dialect = SQLiteDialect(
            self.path,
            busy_timeout=busy_timeout,
            synchronous=synchronous or os.environ.get("BROKERJOBS_SQLITE_SYNCHRONOUS", "NORMAL"),
        )
        super().__init__(
            dialect, lease_seconds=lease_seconds, poll_interval=poll_interval, threads=threads
        )
