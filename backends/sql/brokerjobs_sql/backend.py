"""The contract on a jobs table, shared by the SQLite, PostgreSQL and MySQL backends.

The drivers are blocking; async methods run them on a small thread pool owned by the
backend (one connection per pool thread). The sync publish twins run on the caller's
thread with that thread's own connection.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, TypeVar

from brokerjobs.backend import (
    Backend,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
)
from brokerjobs.errors import DeliveryLostError
from brokerjobs_sql import admin, settle
from brokerjobs_sql.dialects import DBConnection, Dialect
from brokerjobs_sql.leases import LeaseKeeper, RowLease
from brokerjobs_sql.store import Claim, JobStore
from brokerjobs_sql.subscription import SQLSubscription

T = TypeVar("T")


class SQLBackend(Backend):
    """Durable queues as rows of one table. Subclasses pick the dialect and settings."""

    name: ClassVar[str] = "sql"
    max_message_size = 1024 * 1024
    max_lease = None

    def __init__(
        self,
        dialect: Dialect,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
        threads: int = 8,
    ) -> None:
        if lease_seconds <= 0 or poll_interval <= 0:
            raise ValueError("lease_seconds and poll_interval must be positive")
        self.store = JobStore(dialect)
        self.lease_seconds = lease_seconds
        """How long a claimed row stays owned without a heartbeat (a dead worker's delay)."""
        self.poll_interval = poll_interval
        """Longest an idle subscription waits before looking for work again."""
        self.keeper = LeaseKeeper(self._heartbeat, lambda: self.lease_seconds / 3)
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0
        self._subscriptions: weakref.WeakSet[SQLSubscription] = weakref.WeakSet()

    @property
    def lease(self) -> float:
        """Seconds a claim or heartbeat keeps a row owned (the worker heartbeats by it)."""
        return self.lease_seconds

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.store.dialect.describe()}>"

    # -- running blocking work -----------------------------------------------------------
    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._executor is None or self._executor_pid != os.getpid():
            # A forked child inherits no pool threads: start its own.
            self._executor = ThreadPoolExecutor(self._threads, "brokerjobs-sql")
            self._executor_pid = os.getpid()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args, **kwargs))

    # -- schema ------------------------------------------------------------------------
    async def migrate(self) -> int:
        """Create or upgrade the tables (idempotent); returns the schema version.

        Run by ``declare()`` and on first use too; call it explicitly (``brokerjobs db
        migrate``) to create the schema ahead of deploys or before :meth:`publish_in`.
        """
        return await self._call(self.store.migrate)

    def migrate_sync(self) -> int:
        """Blocking twin of :meth:`migrate`."""
        return self.store.migrate()

    async def declare(self, queue: str) -> None:
        # Queues are just values of a column: the schema is all there is to create.
        await self.migrate()

    # -- publishing --------------------------------------------------------------------
    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        await self.publish_batch(queue, [message])

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        await self._call(self.store.insert, queue, list(messages))
        self._wake(queue)

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        self.publish_batch_sync(queue, [message])

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self.store.insert(queue, list(messages))
        self._wake(queue)

    def publish_in(
        self, connection: DBConnection, queue: str, messages: Sequence[OutgoingMessage]
    ) -> None:
        """Insert ``messages`` through the caller's connection, inside the caller's transaction.

        The transactional outbox: the rows become visible (and PostgreSQL wakes the
        workers) only if the caller commits; a rollback takes them back with the rest of
        the business change. ``connection`` is a DB-API connection of this backend's
        driver (``sqlite3``, ``psycopg``, ``pymysql``) to the same database. Nothing is
        committed here. The schema must exist (:meth:`migrate`).
        """
        cursor = connection.cursor()
        try:
            self.store.insert_on_cursor(cursor, queue, list(messages))
        except self.store.dialect.driver_errors as exc:
            raise self.store.translate(exc) from None
        finally:
            cursor.close()

    def _wake(self, queue: str) -> None:
        for subscription in list(self._subscriptions):
            if queue in subscription.queues:
                subscription.poke()

    # -- consuming -------------------------------------------------------------------
    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        subscription = SQLSubscription(self, queues, prefetch)
        self._subscriptions.add(subscription)
        self._watch(subscription)
        return subscription

    def _watch(self, subscription: SQLSubscription) -> None:
        """Hook for dialects that can push wake-ups (PostgreSQL LISTEN)."""

    async def claim_rows(self, queues: Sequence[str], limit: int, token: str) -> Claim:
        """Lease up to ``limit`` ready rows under ``token`` (used by subscriptions)."""
        return await self._call(self.store.claim, queues, limit, token, self.lease_seconds)

    async def _heartbeat(self, tokens: list[str]) -> int:
        return await self._call(settle.heartbeat, self.store, tokens, seconds=self.lease_seconds)

    async def release_leases(self, leases: Sequence[RowLease]) -> None:
        """Give rows back at once, attempts not counted (used by ``stop``)."""
        await self._call(settle.release_many, self.store, [(x.row_id, x.token) for x in leases])
        for subscription in list(self._subscriptions):
            subscription.poke()

    async def _settle(self, delivery: Delivery, action: Callable[..., bool], **kwargs: Any) -> None:
        lease = delivery.receipt
        if not isinstance(lease, RowLease):
            raise DeliveryLostError(f"{delivery.message_id}: not a delivery of a SQL backend")
        owned = False
        try:
            owned = await self._call(action, self.store, lease.row_id, lease.token, **kwargs)
        finally:
            finished = action is not settle.extend or not owned
            if finished and lease.owner is not None and lease.owner.on_settled(lease):
                self.keeper.drop(lease.token)
        if not owned:
            raise DeliveryLostError(
                f"message {delivery.message_id} on {delivery.queue!r} is no longer leased by "
                "this consumer (its lease expired and it was claimed again, or it was settled)"
            )
        if action in (settle.retry, settle.release):
            self._wake(delivery.queue)

    async def ack(self, delivery: Delivery) -> None:
        await self._settle(delivery, settle.ack)

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        await self._settle(delivery, settle.retry, delay=delay, reason=reason)

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        await self._settle(delivery, settle.dead_letter, reason=reason)

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        await self._settle(delivery, settle.extend, seconds=seconds)

    async def release(self, delivery: Delivery) -> None:
        await self._settle(delivery, settle.release)

    # -- operations ----------------------------------------------------------------------
    async def stats(self, queue: str) -> QueueStats:
        return await self._call(admin.stats, self.store, queue)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        return await self._call(admin.dead_letters, self.store, queue, limit)

    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        ids = None if message_ids is None else list(message_ids)
        moved = await self._call(admin.replay, self.store, queue, ids, limit)
        self._wake(queue)
        return moved

    async def purge_dead_letters(self, queue: str) -> int:
        return await self._call(admin.purge, self.store, queue)

    async def purge(self, queue: str) -> int:
        """Delete the ready and delayed rows of ``queue`` (``Purgeable``); running ones stay."""
        return await self._call(admin.purge_waiting, self.store, queue)

    async def cancel(self, queue: str, message_id: str) -> bool:
        """Delete one waiting row by message id (``Cancellable``); a running one stays."""
        return await self._call(admin.cancel, self.store, queue, message_id)

    # -- lifetime --------------------------------------------------------------------
    async def aclose(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        self.keeper.stop()
        executor, self._executor = self._executor, None
        if executor is not None and self._executor_pid == os.getpid():
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self.store.pool.close_all()

    def close(self) -> None:
        self.store.pool.close_all()

    async def abandon(self) -> None:
        """Drop everything as kill -9 would: nothing settled or released, connections closed.

        For fault tests. The rows this backend held come back when their leases expire.
        """
        self.keeper.stop()
        for subscription in list(self._subscriptions):
            subscription.abandon()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        self.store.pool.close_all()
