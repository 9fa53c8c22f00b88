"""A stand-in for ``brokerjobs.Store`` (issue #17) shared by processes: one SQLite file.

Only for the scheduler's multi-process test until the real Store is merged; it keeps to
the agreed API (set-if-absent with expiry, get, compare-and-set/delete). Expiry is wall
time, which every process on the machine shares. The lead replaces it with the real SQL
and Redis stores after the merge.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB, expires REAL)"


class SqliteStandInStore:
    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def _write(self, sql: str, *args: object) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM kv WHERE expires <= ?", (time.time(),))
            changed = db.execute(sql, args).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        return bool(
            self._write("INSERT OR IGNORE INTO kv VALUES (?, ?, ?)", key, value, time.time() + ttl)
        )

    async def get(self, key: str) -> bytes | None:
        row = self._db.execute(
            "SELECT value FROM kv WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return None if row is None else bytes(row[0])

    async def compare_and_set(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        return bool(
            self._write(
                "UPDATE kv SET value = ?, expires = ? WHERE key = ? AND value = ?",
                value,
                time.time() + ttl,
                key,
                expected,
            )
        )

    async def compare_and_delete(self, key: str, expected: bytes) -> bool:
        return bool(self._write("DELETE FROM kv WHERE key = ? AND value = ?", key, expected))

    async def aclose(self) -> None:
        self._db.close()
