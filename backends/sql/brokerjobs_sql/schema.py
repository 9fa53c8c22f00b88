"""The one schema, spelled for each database. Every statement is idempotent.

``brokerjobs_jobs`` holds every message that is waiting, delayed or leased:

* ``available_at`` (epoch seconds, database clock) is when the row may next be claimed.
  For a leased row it is the lease expiry, so a crashed worker's row becomes claimable
  again without any sweeper: one indexed range ``available_at <= now`` finds both.
* ``lease_token`` is set while a consumer holds the row; settling checks it, so a worker
  whose lease expired (and whose row went to someone else) cannot touch the new copy.
* ``attempts`` counts deliveries (claims), crashes included; a release takes one back.

A row's state is therefore: leased (``lease_token`` set, ``available_at`` in the future),
delayed (no token, future ``available_at``) or ready (``available_at`` passed, including
expired leases). ``brokerjobs_dead_letters`` keeps parked messages with their reason.

``brokerjobs_store`` is the coordination store (:mod:`brokerjobs_sql.coordination`): one row
per key, a byte ``value`` or a window ``counter``, and ``expires_at`` on the database clock
(version 2 of the schema).
"""

from __future__ import annotations

JOBS = "brokerjobs_jobs"
DEAD_LETTERS = "brokerjobs_dead_letters"
VERSIONS = "brokerjobs_schema"
STORE = "brokerjobs_store"
VERSION = 2
"""Bump with a new migration step when the schema changes."""


def sqlite_ddl() -> list[str]:
    """Schema statements for SQLite."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {JOBS} (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body BLOB NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at REAL NOT NULL,
            lease_token TEXT,
            last_error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {JOBS}_claim ON {JOBS} "
        "(queue, priority DESC, available_at, id)",
        f"CREATE INDEX IF NOT EXISTS {JOBS}_lease ON {JOBS} (lease_token)",
        f"""CREATE TABLE IF NOT EXISTS {DEAD_LETTERS} (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body BLOB NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            dead_lettered_at REAL NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {DEAD_LETTERS}_queue ON {DEAD_LETTERS} (queue, id)",
        f"CREATE TABLE IF NOT EXISTS {VERSIONS} (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {STORE} (
            store_key TEXT NOT NULL PRIMARY KEY,
            value BLOB NOT NULL,
            counter INTEGER NOT NULL DEFAULT 0,
            expires_at REAL NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {STORE}_expiry ON {STORE} (expires_at)",
    ]


def postgres_ddl() -> list[str]:
    """Schema statements for PostgreSQL."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {JOBS} (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body BYTEA NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at DOUBLE PRECISION NOT NULL,
            lease_token TEXT,
            last_error TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {JOBS}_claim ON {JOBS} "
        "(queue, priority DESC, available_at, id)",
        f"CREATE INDEX IF NOT EXISTS {JOBS}_lease ON {JOBS} (lease_token)",
        f"""CREATE TABLE IF NOT EXISTS {DEAD_LETTERS} (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body BYTEA NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            dead_lettered_at DOUBLE PRECISION NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {DEAD_LETTERS}_queue ON {DEAD_LETTERS} (queue, id)",
        f"CREATE TABLE IF NOT EXISTS {VERSIONS} (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {STORE} (
            store_key TEXT NOT NULL PRIMARY KEY,
            value BYTEA NOT NULL,
            counter BIGINT NOT NULL DEFAULT 0,
            expires_at DOUBLE PRECISION NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS {STORE}_expiry ON {STORE} (expires_at)",
    ]


def mysql_ddl() -> list[str]:
    """Schema statements for MariaDB/MySQL (indexes inline: no CREATE INDEX IF NOT EXISTS)."""
    # Binary collation: queue names and tokens compare case-sensitively, as on brokers.
    name = "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
    return [
        f"""CREATE TABLE IF NOT EXISTS {JOBS} (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            queue {name},
            message_id {name},
            body LONGBLOB NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            available_at DOUBLE NOT NULL,
            lease_token VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
            last_error TEXT NULL,
            created_at DOUBLE NOT NULL,
            updated_at DOUBLE NOT NULL,
            KEY {JOBS}_claim (queue, priority DESC, available_at, id),
            KEY {JOBS}_lease (lease_token)
        ) ENGINE=InnoDB""",
        f"""CREATE TABLE IF NOT EXISTS {DEAD_LETTERS} (
            id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            queue {name},
            message_id {name},
            body LONGBLOB NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created_at DOUBLE NOT NULL,
            dead_lettered_at DOUBLE NOT NULL,
            KEY {DEAD_LETTERS}_queue (queue, id)
        ) ENGINE=InnoDB""",
        f"CREATE TABLE IF NOT EXISTS {VERSIONS} (version INTEGER NOT NULL) ENGINE=InnoDB",
        f"""CREATE TABLE IF NOT EXISTS {STORE} (
            store_key {name} PRIMARY KEY,
            value LONGBLOB NOT NULL,
            counter BIGINT NOT NULL DEFAULT 0,
            expires_at DOUBLE NOT NULL,
            KEY {STORE}_expiry (expires_at)
        ) ENGINE=InnoDB""",
    ]
