"""A Jepsen-style ledger of what was dispatched and what ran, in one SQLite (WAL) file.

The producer writes ``attempted`` before it publishes a job and ``confirmed`` once the
broker accepted it; the job itself (in a worker subprocess) writes one ``executions`` row
when it starts and fills ``finished`` when it returns, and records its *effect* with an
``INSERT OR IGNORE`` (what an idempotent job would do). Every job carries its own ledger
``key`` in its payload, so the ledger needs no broker message id.

WAL with ``synchronous=NORMAL`` survives the death of any writer process (kill -9): a
commit is in the WAL file before ``execute`` returns, only an OS crash could lose it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "BJFAULTS_LEDGER"
"""Worker subprocesses find the ledger file through this variable."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempted (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS confirmed (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    key TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL,
    started REAL NOT NULL, finished REAL, outcome TEXT
);
CREATE INDEX IF NOT EXISTS executions_key ON executions (key);
CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, at REAL NOT NULL);
"""


@dataclass(frozen=True)
class Execution:
    """One run of a job, as the job recorded it."""

    key: str
    attempt: int
    pid: int
    started: float
    finished: float | None
    outcome: str | None


class Ledger:
    """One connection to the ledger file; one per process (and per thread)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- producer side -----------------------------------------------------------------
    def attempted(self, keys: Iterable[str]) -> None:
        self._insert("attempted", keys)

    def confirmed(self, keys: Iterable[str]) -> None:
        self._insert("confirmed", keys)

    def _insert(self, table: str, keys: Iterable[str]) -> None:
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"INSERT OR IGNORE INTO {table} (key, at) VALUES (?, ?)",
                [(key, now) for key in keys],
            )

    # -- job side ----------------------------------------------------------------------
    def start(self, key: str, attempt: int) -> int:
        """Record that a run began; returns the row to pass to :meth:`finish`."""
        cursor = self._db.execute(
            "INSERT INTO executions (key, attempt, pid, started) VALUES (?, ?, ?, ?)",
            (key, attempt, os.getpid(), time.time()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish(self, row: int, outcome: str = "ok") -> None:
        self._db.execute(
            "UPDATE executions SET finished = ?, outcome = ? WHERE rowid = ?",
            (time.time(), outcome, row),
        )

    def effect(self, key: str) -> bool:
        """The job's side effect, done idempotently; True the first time for ``key``."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO effects (key, at) VALUES (?, ?)", (key, time.time())
        )
        return cursor.rowcount == 1

    # -- checker side ------------------------------------------------------------------
    def keys(self, table: str) -> set[str]:
        assert table in {"attempted", "confirmed", "effects"}
        return {row[0] for row in self._db.execute(f"SELECT key FROM {table}")}

    def confirmed_at(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT key, at FROM confirmed").fetchall())

    def executions(self) -> list[Execution]:
        rows = self._db.execute(
            "SELECT key, attempt, pid, started, finished, outcome FROM executions ORDER BY rowid"
        )
        return [Execution(*row) for row in rows]

    def finished_keys(self) -> set[str]:
        rows = self._db.execute("SELECT DISTINCT key FROM executions WHERE outcome = 'ok'")
        return {row[0] for row in rows}

    def count(self, sql: str) -> int:
        value = self._db.execute(sql).fetchone()[0]
        return int(value or 0)


_local = threading.local()


def process_ledger() -> Ledger:
    """This thread's connection to the ledger named by ``$BJFAULTS_LEDGER``."""
    path = os.environ[ENV_VAR]
    ledger: Ledger | None = getattr(_local, "ledger", None)
    if ledger is None or getattr(_local, "owner", None) != (os.getpid(), path):
        ledger = Ledger(path)
        _local.ledger, _local.owner = ledger, (os.getpid(), path)
    return ledger
