"""A Jepsen-style ledger of what was dispatched and what ran, in SQLite (WAL) files.

The producer writes ``attempted`` before it publishes a job and ``confirmed`` once the
broker accepted it (the main file). The job itself, in a worker subprocess, writes one
``executions`` row when it starts and fills ``finished``/``outcome`` when it returns —
into a file of its own process (``<ledger>.runs/<pid>.db``): one writer per file, so
thousands of runs a second never queue on one database lock. Every job carries its
ledger ``key`` in its payload, so the ledger needs no broker message id.

WAL with ``synchronous=NORMAL`` survives the death of any writer process (kill -9): a
commit is in the WAL file before ``execute`` returns; only an OS crash could lose it.
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

_MAIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempted (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS confirmed (key TEXT PRIMARY KEY, at REAL NOT NULL);
"""
_RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    key TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL,
    started REAL NOT NULL, finished REAL, outcome TEXT
);
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


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db


class Ledger:
    """The producer's and the checker's view; in a worker, :func:`process_ledger`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.runs_dir = self.path.with_suffix(".runs")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._db = _connect(self.path, _MAIN_SCHEMA)
        self._runs: sqlite3.Connection | None = None
        self._runs_lock = threading.Lock()

    def close(self) -> None:
        self._db.close()
        if self._runs is not None:
            self._runs.close()

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

    # -- job side (this process's own file) --------------------------------------------
    def _own_runs(self) -> sqlite3.Connection:
        if self._runs is None:
            self._runs = _connect(self.runs_dir / f"{os.getpid()}.db", _RUNS_SCHEMA)
        return self._runs

    def start(self, key: str, attempt: int) -> int:
        """Record that a run began; returns the row to pass to :meth:`finish`."""
        with self._runs_lock:
            cursor = self._own_runs().execute(
                "INSERT INTO executions (key, attempt, pid, started) VALUES (?, ?, ?, ?)",
                (key, attempt, os.getpid(), time.time()),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish(self, row: int, outcome: str = "ok") -> None:
        with self._runs_lock:
            self._own_runs().execute(
                "UPDATE executions SET finished = ?, outcome = ? WHERE rowid = ?",
                (time.time(), outcome, row),
            )

    # -- checker side ------------------------------------------------------------------
    def keys(self, table: str) -> set[str]:
        assert table in {"attempted", "confirmed"}
        return {row[0] for row in self._db.execute(f"SELECT key FROM {table}")}

    def confirmed_at(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT key, at FROM confirmed").fetchall())

    def attempted_at(self) -> dict[str, float]:
        return dict(self._db.execute("SELECT key, at FROM attempted").fetchall())

    def executions(self) -> list[Execution]:
        """Every run recorded by every process, in start order."""
        runs: list[Execution] = []
        for path in sorted(self.runs_dir.glob("*.db")):
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
            try:
                rows = db.execute(
                    "SELECT key, attempt, pid, started, finished, outcome FROM executions"
                ).fetchall()
            except sqlite3.OperationalError as exc:
                # Only a file created a moment ago (no schema yet) may read as empty; any
                # other failure must not drop a process's runs (a false "lost").
                if "no such table" not in str(exc):
                    raise
                rows = []
            finally:
                db.close()
            runs += [Execution(*row) for row in rows]
        return sorted(runs, key=lambda run: run.started)

    def finished_keys(self) -> set[str]:
        return {run.key for run in self.executions() if run.outcome == "ok"}

    def started_count(self) -> int:
        return len(self.executions())


_process: dict[tuple[int, str], Ledger] = {}
_process_lock = threading.Lock()


def process_ledger() -> Ledger:
    """This process's ledger (named by ``$BJFAULTS_LEDGER``), shared by its threads."""
    owner = (os.getpid(), os.environ[ENV_VAR])
    with _process_lock:
        if owner not in _process:
            _process[owner] = Ledger(owner[1])
        return _process[owner]
