"""MariaDB (10.6+) and MySQL (8.0+) through PyMySQL: ``SELECT ... FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import os
from typing import ClassVar

from brokerjobs_sql.backend import SQLBackend
from brokerjobs_sql.dialects import MySQLDialect

DEFAULT_URL = "mysql://root@localhost:3306/brokerjobs"


class MySQLBackend(SQLBackend):
    """Jobs in a MariaDB/MySQL table (``BROKERJOBS_MYSQL_URL``, ``mysql://user:pw@host/db``).

    Claims lock rows with ``SKIP LOCKED`` under READ COMMITTED, so concurrent workers
    never wait on each other's rows. Idle consumers poll every ``poll_interval`` seconds
    (and wake at once for messages published through this same backend instance).
    """

    name: ClassVar[str] = "mysql"

    def __init__(
        self,
        url: str | None = None,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.25,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        threads: int = 8,
    ) -> None:
        self.url = url or os.environ.get("BROKERJOBS_MYSQL_URL") or DEFAULT_URL
        dialect = MySQLDialect(self.url, connect_timeout=connect_timeout, read_timeout=read_timeout)
        super().__init__(
            dialect, lease_seconds=lease_seconds, poll_interval=poll_interval, threads=threads
        )
