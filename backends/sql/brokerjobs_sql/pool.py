"""One database connection per thread, forgotten (never closed) in a forked child.

DB-API connections are not safe to share between threads mid-transaction, and a child
process must not touch its parent's sockets or SQLite locks: closing a psycopg connection
in the child would send the parent's session a Terminate. So the pool keeps inherited
connections referenced and unused, and opens fresh ones.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from brokerjobs_sql.dialects import DBConnection


class ConnectionPool:
    """Lazily opened connections keyed by thread, checked against the current pid."""

    def __init__(
        self, connect: Callable[[], DBConnection], close: Callable[[DBConnection], None]
    ) -> None:
        self._connect = connect
        self._close = close
        self._lock = threading.Lock()
        self._by_thread: dict[int, DBConnection] = {}
        self._pid = os.getpid()
        self._inherited: list[DBConnection] = []

    def get(self) -> DBConnection:
        """The calling thread's connection, opened on first use."""
        self._forget_if_forked()
        ident = threading.get_ident()
        connection = self._by_thread.get(ident)
        if connection is None:
            connection = self._connect()
            stale: list[DBConnection] = []
            with self._lock:
                self._by_thread[ident] = connection
                alive = {thread.ident for thread in threading.enumerate()}
                for other in [i for i in self._by_thread if i not in alive]:
                    stale.append(self._by_thread.pop(other))
            for old in stale:
                self._close(old)
        return connection

    def discard(self, connection: DBConnection) -> None:
        """Close ``connection`` and forget it (it failed; the next ``get`` reconnects)."""
        with self._lock:
            for ident, held in list(self._by_thread.items()):
                if held is connection:
                    del self._by_thread[ident]
        self._close(connection)

    def close_all(self) -> None:
        """Close every connection this process opened. The pool stays usable."""
        self._forget_if_forked()
        with self._lock:
            connections = list(self._by_thread.values())
            self._by_thread.clear()
        for connection in connections:
            self._close(connection)

    def _forget_if_forked(self) -> None:
        if self._pid == os.getpid():
            return
        # Another thread of the parent may have held the lock at fork time: a new one.
        self._lock = threading.Lock()
        self._inherited.extend(self._by_thread.values())
        self._by_thread = {}
        self._pid = os.getpid()
