"""PostgreSQL through psycopg 3: ``FOR UPDATE SKIP LOCKED`` claims, ``LISTEN/NOTIFY`` wake-ups."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection
from typing import ClassVar

from brokerjobs_sql.backend import SQLBackend
from brokerjobs_sql.dialects import PostgresDialect
from brokerjobs_sql.subscription import SQLSubscription
from brokerjobs_sql.urls import redact

DEFAULT_URL = "postgresql://localhost:5432/brokerjobs"
CHANNEL = "brokerjobs"
log = logging.getLogger("brokerjobs.sql")


class PostgresBackend(SQLBackend):
    """Jobs in a PostgreSQL table (``BROKERJOBS_POSTGRES_URL``, a libpq URL or DSN).

    Every publish sends ``NOTIFY brokerjobs, '<queue>'`` in its own transaction, so an
    idle consumer wakes the moment a job commits; ``poll_interval`` is only the safety net
    (a lost notification, a lease that ran out, a delay that came due).
    """

    name: ClassVar[str] = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        connect_timeout: float = 10.0,
        statement_timeout: float = 30.0,
        threads: int = 8,
    ) -> None:
        self.url = url or os.environ.get("BROKERJOBS_POSTGRES_URL") or DEFAULT_URL
        dialect = PostgresDialect(
            self.url, connect_timeout=connect_timeout, statement_timeout=statement_timeout
        )
        super().__init__(
            dialect, lease_seconds=lease_seconds, poll_interval=poll_interval, threads=threads
        )

    def _watch(self, subscription: SQLSubscription) -> None:
        listener = NotificationListener(self.url, subscription.queues, subscription.poke)
        subscription.add_stop_callback(listener.stop)
        listener.start()


class NotificationListener:
    """A thread holding ``LISTEN brokerjobs``, calling ``poke`` for its queues' publishes."""

    def __init__(self, url: str, queues: Collection[str], poke: Callable[[], None]) -> None:
        self._url = url
        self._queues = frozenset(queues)
        self._poke = poke
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="brokerjobs-pg-listen", daemon=True)

    def start(self) -> None:
        """Start listening in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop within about a second (the thread notices between waits)."""
        self._stopping.set()

    def _run(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=10) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # Anything published while (re)connecting went unheard: look now.
                    self._poke()
                    while not self._stopping.is_set():
                        for notification in connection.notifies(timeout=1.0):
                            if notification.payload in self._queues:
                                self._poke()
            except psycopg.Error as exc:
                log.debug("LISTEN connection failed, polling meanwhile: %s", redact(str(exc)))
                self._stopping.wait(1.0)
