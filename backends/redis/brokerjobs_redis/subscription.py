"""A consumer in the queue's consumer group, holding at most ``prefetch`` unsettled entries.

Fetching runs in one background task per subscription, so cancelling ``__anext__`` never
loses an entry: whatever XREADGROUP or XAUTOCLAIM returned lands in the buffer for the
next call, or is released by :meth:`RedisSubscription.stop`. Each fetch round first
moves due delayed messages into the stream (a Lua script, at most once per poll interval
or when the next one is due) and, every few seconds, reclaims entries idle for longer
than the lease, i.e. held by a consumer that died (XAUTOCLAIM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis.exceptions as rex

from brokerjobs.backend import Delivery, Subscription
from brokerjobs.errors import BackendError

from .translate import translating

if TYPE_CHECKING:
    from .backend import RedisBackend

log = logging.getLogger("brokerjobs.redis")

Streams = dict[bytes | str | memoryview, int | bytes | str | memoryview]
"""XREADGROUP's stream-to-id mapping, as redis-py types it."""

MOVE_BATCH = 500
"""Most delayed messages one script run moves (more are moved on the next round)."""


@dataclass(frozen=True, slots=True)
class StreamReceipt:
    """The receipt of a delivery: which entry, for which consumer, at which delivery count."""

    entry_id: str
    consumer: str
    deliveries: int
    owner: RedisSubscription | None = field(default=None, compare=False, repr=False)


def consumer_name() -> str:
    """A name unique to one subscription: host, pid and a random part (seen in XINFO)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RedisSubscription(Subscription):
    """Deliveries from ``queues`` (served in the order given)."""

    def __init__(self, backend: RedisBackend, queues: Sequence[str], prefetch: int) -> None:
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        self.queues = list(queues)
        self.prefetch = prefetch
        self.consumer = consumer_name()
        self._backend = backend
        self._settings = backend.settings
        self._keys = {queue: backend.keys(queue) for queue in self.queues}
        self._queue_of = {self._keys[q].stream.encode(): q for q in self.queues}
        self._loop = asyncio.get_running_loop()
        self._buffer: deque[Delivery] = deque()
        self._owned: set[str] = set()
        self._wake = asyncio.Event()
        self._fetcher: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._stopped = False
        now = time.monotonic()
        self._next_move = dict.fromkeys(self.queues, now)
        self._next_reclaim = now
        self._cursor = dict.fromkeys(self.queues, "0-0")

    # -- iteration ---------------------------------------------------------------------
    async def __anext__(self) -> Delivery:
        while True:
            if self._stopped:
                raise StopAsyncIteration
            if self._buffer:
                return self._buffer.popleft()
            fetcher = self._fetcher
            if fetcher is None:
                fetcher = self._fetcher = self._loop.create_task(self._fill())
            try:
                # Shielded: a cancelled caller leaves the fetch running into the buffer.
                await asyncio.shield(fetcher)
            finally:
                if fetcher.done() and self._fetcher is fetcher:
                    self._fetcher = None

    async def _fill(self) -> None:
        while not self._stopped:
            room = self.prefetch - len(self._owned)
            if room <= 0:
                # Only a settle frees room; an earlier wake-up must not make this spin.
                self._wake.clear()
                await self._wake.wait()
                continue
            with translating(self._settings, f"consume from {self.queues}"):
                try:
                    await self._maintain(room)
                    if not self._buffer:
                        await self._read(room)
                except rex.ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    # The group vanished (a server restarted without persistence, or
                    # someone deleted the stream): create it again and carry on.
                    for queue in self.queues:
                        await self._backend.declare(queue, force=True)
            if self._buffer:
                self._keep_alive()
                return

    async def _maintain(self, room: int) -> None:
        now = time.monotonic()
        aio = self._backend.clients.aio()
        poll = self._settings.poll_interval
        for queue, keys in self._keys.items():
            if now < self._next_move[queue]:
                continue
            moved, wait_ms = await aio.run(
                "MOVE_DUE", [keys.delayed, keys.stream, keys.dead], [MOVE_BATCH]
            )
            if moved >= MOVE_BATCH:
                self._next_move[queue] = now  # more are due: move them next round
            else:
                wait = poll if wait_ms < 0 else min(poll, wait_ms / 1000)
                self._next_move[queue] = now + wait
        if now < self._next_reclaim:
            return
        self._next_reclaim = now + min(self._backend.lease / 4, 5.0)
        group = self._settings.group
        min_idle = int(self._backend.lease * 1000)
        for queue, keys in self._keys.items():
            if room <= 0:
                return
            args = [group, self.consumer, min_idle, room, self._cursor[queue]]
            result = await aio.run(
                "RECLAIM", [keys.stream, keys.dead], [*args, self._settings.delivery_limit]
            )
            cursor, entries = result[0], result[1:]
            self._cursor[queue] = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
            for entry_id, message_id, body, attempt, deliveries in entries:
                self._add(queue, entry_id.decode(), message_id, body, int(attempt), int(deliveries))
                room -= 1
            if entries:
                log.info("reclaimed %d stale deliveries of %r", len(entries), queue)

    async def _read(self, room: int) -> None:
        client = self._backend.clients.aio().client
        group = self._settings.group
        now = time.monotonic()
        until = min(self._next_reclaim, *self._next_move.values())
        block = max(1, int(1000 * min(self._settings.poll_interval, until - now)))
        if len(self.queues) > 1:
            # Priority order: drain the first queue that has work before looking further.
            for queue in self.queues:
                streams: Streams = {self._keys[queue].stream: ">"}
                self._take(await client.xreadgroup(group, self.consumer, streams, count=room))
                room = self.prefetch - len(self._owned)
                if self._buffer or room <= 0:
                    return
        if len(self.queues) > 1 and self._settings.cluster:
            # The streams live in different slots: one blocking read cannot cover them.
            # Block on each in turn for a share of the wait (one entry at a time).
            share = max(1, block // len(self.queues))
            for queue in self.queues:
                streams = {self._keys[queue].stream: ">"}
                self._take(await client.xreadgroup(group, self.consumer, streams, 1, share))
                if self._buffer:
                    return
            return
        every: Streams = {self._keys[q].stream: ">" for q in self.queues}
        count = room if len(self.queues) == 1 else 1
        reply = await client.xreadgroup(group, self.consumer, every, count=count, block=block)
        self._take(reply)
        # A blocking read over several streams returns up to one entry per stream.
        while len(self._owned) > self.prefetch and self._buffer:
            await self._give_back(self._buffer.pop())

    def _take(self, reply: Any) -> None:
        for stream, entries in reply or ():
            queue = self._queue_of[stream]
            for entry_id, fields in entries:
                spent = int(fields.get(b"n", b"0"))
                self._add(queue, entry_id.decode(), fields[b"i"], fields[b"b"], spent + 1, 1)

    def _add(
        self, queue: str, entry_id: str, message_id: bytes, body: bytes, attempt: int, count: int
    ) -> None:
        self._owned.add(entry_id)
        receipt = StreamReceipt(entry_id, self.consumer, count, self)
        self._buffer.append(Delivery(queue, body, message_id.decode(), attempt, receipt))

    async def _give_back(self, delivery: Delivery) -> None:
        with contextlib.suppress(BackendError):
            await self._backend.release(delivery)

    # -- the heartbeat -----------------------------------------------------------------
    def _keep_alive(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = self._loop.create_task(self._beat(), name="brokerjobs-redis-heartbeat")

    async def _beat(self) -> None:
        """Reset the idle time of everything this consumer holds, every third of the lease.

        Only a dead or frozen process stops beating, so only its entries become idle for
        longer than the lease and are reclaimed by the others.
        """
        group = self._settings.group
        while not self._stopped:
            await asyncio.sleep(self._backend.lease / 3)
            if not self._owned:
                continue
            try:
                aio = self._backend.clients.aio()
                with translating(self._settings, "keep deliveries leased"):
                    for keys in self._keys.values():
                        await aio.run("HEARTBEAT", [keys.stream], [group, self.consumer])
            except BackendError as exc:
                # The next beat tries again; if Redis stays away the entries are
                # reclaimed after the lease, which is the promised outcome.
                log.warning("lease heartbeat failed: %s", exc)

    # -- notifications from the backend -------------------------------------------------
    def on_settled(self, receipt: StreamReceipt) -> bool:
        """``receipt`` was settled or lost: free its prefetch slot. False if already freed."""
        if receipt.entry_id not in self._owned:
            return False
        self._owned.discard(receipt.entry_id)
        self._wake.set()
        return True

    def poke(self, queue: str) -> None:
        """A delayed message of ``queue`` may now be due sooner: move at the next round."""
        if queue in self._next_move:
            self._next_move[queue] = time.monotonic()

    @property
    def holding(self) -> int:
        """Entries delivered to this consumer and not settled yet."""
        return len(self._owned)

    # -- ending ------------------------------------------------------------------------
    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(fetcher)
        pending = list(self._buffer)
        self._buffer.clear()
        for delivery in pending:
            await self._give_back(delivery)
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        if not self._owned:
            await self._forget_consumer()

    async def _forget_consumer(self) -> None:
        with contextlib.suppress(BackendError), translating(self._settings, "stop consuming"):
            aio = self._backend.clients.aio()
            for keys in self._keys.values():
                await aio.run(
                    "RELEASE_CONSUMER", [keys.stream], [self._settings.group, self.consumer]
                )

    def abandon(self) -> None:
        """Stop as a killed process would: nothing released, entries left to be reclaimed."""
        self._stopped = True
        self._buffer.clear()
        self._owned.clear()
        for task in (self._fetcher, self._keeper):
            if task is not None:
                task.cancel()
        self._fetcher = self._keeper = None
