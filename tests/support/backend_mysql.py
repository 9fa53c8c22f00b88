"""Test harness for the MariaDB/MySQL backend: the shared tables, a queue prefix per test.

Needs MariaDB on 127.0.0.1:3306 (``BROKERJOBS_TEST_MYSQL_URL`` overrides); fails, never
skips, when it is down, saying how to start it.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest
from brokerjobs_sql import MySQLBackend, SQLBackend

from tests.support.backend_postgres import delete_rows
from tests.support.backend_sqlite import LEASE_SECONDS, SQLHarness

URL = os.environ.get("BROKERJOBS_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
START = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"


def require_mysql(url: str = URL) -> None:
    """Fail the test with instructions when MariaDB/MySQL cannot be reached."""
    import pymysql
    from brokerjobs_sql.urls import mysql_connect_args

    try:
        pymysql.connect(**mysql_connect_args(url), connect_timeout=3).close()
    except pymysql.Error as exc:
        pytest.fail(f"MariaDB is not reachable ({exc}); start it with: {START}", pytrace=False)


class MySQLHarness(SQLHarness):
    """Backends on the shared MariaDB ``test`` database; this test's rows removed after."""

    name: ClassVar[str] = "mysql"

    def __init__(self) -> None:
        super().__init__()
        require_mysql()

    def options(self) -> dict[str, Any]:
        return {"url": URL, "lease_seconds": LEASE_SECONDS, "poll_interval": 0.1}

    def make_backend(self) -> SQLBackend:
        return MySQLBackend(**self.options())

    async def aclose(self) -> None:
        await delete_rows(self.backends, self.prefix)
        await super().aclose()


HARNESS = MySQLHarness
MARKS = [pytest.mark.mysql]
