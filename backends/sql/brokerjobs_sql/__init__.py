"""Database backend for brokerjobs: a jobs table on SQLite, PostgreSQL or MariaDB/MySQL.

``sqlite`` is the zero-setup default; ``postgres`` and ``mysql`` run the same schema and
the same claim/settle core with small per-dialect SQL differences. Each backend also
offers ``publish_in(connection, queue, messages)`` to enqueue inside the caller's own
transaction (the transactional outbox) and ``migrate()`` to create the schema.
"""

from brokerjobs_sql.backend import SQLBackend
from brokerjobs_sql.mysql import MySQLBackend
from brokerjobs_sql.postgres import PostgresBackend
from brokerjobs_sql.sqlite import SQLiteBackend

__all__ = ["MySQLBackend", "PostgresBackend", "SQLBackend", "SQLiteBackend"]
