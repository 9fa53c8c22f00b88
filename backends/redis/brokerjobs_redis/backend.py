"""The Redis backend: the brokerjobs contract on Streams, consumer groups and sorted sets.

Per queue (keys in :mod:`brokerjobs_redis.keys`): a stream read by one consumer group, a
sorted set of delayed messages and a dead-letter stream. Publishing is ``XADD``;
consuming is ``XREADGROUP``; settling is a Lua script that checks the delivery is still
this consumer's before it acts. See ``docs/backends/redis.md``.
"""

from __future__ import annotations

import asyncio
import math
import os
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import redis.exceptions as rex

from brokerjobs.backend import (
    Backend,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
)
from brokerjobs.errors import BrokerUnavailableError, DeliveryLostError

from . import admin, scripts
from .connection import Clients
from .durability import warn_if_volatile
from .keys import QueueKeys, queue_keys
from .settings import RedisSettings, load_settings
from .store import RedisStore
from .subscription import RedisSubscription, StreamReceipt
from .translate import translate, translating

Fields = dict[
    bytes | bytearray | memoryview | str | int | float,
    bytes | bytearray | memoryview | str | int | float,
]
"""A stream entry's fields, as redis-py types them."""


def delay_ms(seconds: float) -> int:
    """Milliseconds to wait, rounded up and one more: a delayed message is never early."""
    return math.ceil(seconds * 1000) + 1 if seconds > 0 else 0


def delayed_member(spent: int, message: OutgoingMessage) -> bytes:
    """The sorted-set member of a delayed message (format in :mod:`brokerjobs_redis.scripts`)."""
    message_id = message.message_id.encode()
    header = f"{os.urandom(8).hex()}:{spent}:{len(message_id)}:".encode()
    return header + message_id + message.body


class RedisBackend(Backend):
    """brokerjobs on Redis. Build it with :meth:`from_options` or from a settings object."""

    name: ClassVar[str] = "redis"
    max_lease = None

    def __init__(self, settings: RedisSettings | None = None, **options: Any) -> None:
        self.settings = settings if settings is not None else load_settings(**options)
        self.max_message_size = self.settings.max_message_size
        self.clients = Clients(self.settings)
        self._declared: set[str] = set()
        self._checked_persistence = False
        self._subscriptions: weakref.WeakSet[RedisSubscription] = weakref.WeakSet()
        self._key_cache: dict[str, QueueKeys] = {}
        self._coordination: RedisStore | None = None

    @classmethod
    def from_options(cls, **options: Any) -> Self:
        """Settings from ``BROKERJOBS_REDIS_*`` overridden by ``options`` (see settings)."""
        return cls(load_settings(**options))

    def __repr__(self) -> str:
        return f"RedisBackend(url={self.settings.safe_url!r}, prefix={self.settings.prefix!r})"

    @property
    def lease(self) -> float:
        """Seconds a delivery stays owned without a heartbeat (the worker beats by it)."""
        return self.settings.lease

    def keys(self, queue: str) -> QueueKeys:
        """The Redis keys of ``queue`` (see :mod:`brokerjobs_redis.keys`)."""
        keys = self._key_cache.get(queue)
        if keys is None:
            keys = self._key_cache[queue] = queue_keys(self.settings.prefix, queue)
        return keys

    # -- topology ----------------------------------------------------------------------
    async def declare(self, queue: str, *, force: bool = False) -> None:
        """Create the stream and its consumer group (idempotent).

        The delay set and the dead-letter stream need no creation: Redis makes a key on
        its first write. The group starts at the stream's beginning, so messages
        published before any worker ran are delivered too.
        """
        if queue in self._declared and not force:
            return
        keys = self.keys(queue)
        client = self.clients.aio().client
        with translating(self.settings, f"declare {queue!r}"):
            try:
                await client.xgroup_create(keys.stream, self.settings.group, id="0", mkstream=True)
            except rex.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._declared.add(queue)

    # -- publishing --------------------------------------------------------------------
    def _commands(
        self, pipe: Any, keys: QueueKeys, messages: Sequence[OutgoingMessage]
    ) -> list[Any]:
        """Queue the XADDs (and one delayed-publish script) of ``messages`` on ``pipe``.

        Returns the script's arguments when it must run outside the pipeline (a cluster
        pipeline refuses scripts), else an empty list.
        """
        delayed: list[Any] = []
        for message in messages:
            if message.delay > 0:
                delayed += [delay_ms(message.delay), delayed_member(0, message)]
            else:
                pipe.xadd(keys.stream, {"i": message.message_id, "b": message.body, "n": 0})
        if delayed and self.settings.cluster:
            return delayed
        if delayed:
            pipe.eval(scripts.PUBLISH_DELAYED, 1, keys.delayed, *delayed)
        if self.settings.replicas:
            timeout = int(self.settings.replica_timeout * 1000)
            pipe.execute_command("WAIT", self.settings.replicas, timeout)
        return []

    def _check(self, queue: str, results: list[Any], sent: int) -> None:
        """Raise when any command of a publish pipeline failed, saying how many went in."""
        failed = [r for r in results if isinstance(r, Exception)]
        action = f"publish to {queue!r}"
        if failed:
            accepted = sum(1 for r in results[:sent] if not isinstance(r, Exception))
            error = translate(failed[0], self.settings, action)
            raise type(error)(f"{error} ({accepted} of {sent} commands accepted)")
        if self.settings.replicas and int(results[-1]) < self.settings.replicas:
            raise BrokerUnavailableError(
                f"{action}: written on the primary but acknowledged by {results[-1]} of "
                f"{self.settings.replicas} replicas within {self.settings.replica_timeout:g} s; "
                "publishing again may duplicate the message"
            )

    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        if message.delay > 0 or self.settings.replicas:
            await self.publish_batch(queue, [message])
            return
        fields: Fields = {"i": message.message_id, "b": message.body, "n": 0}
        with translating(self.settings, f"publish to {queue!r}"):
            await self.clients.aio().client.xadd(self.keys(queue).stream, fields)

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        keys = self.keys(queue)
        pipe = self.clients.pipeline()
        apart = self._commands(pipe, keys, messages)
        sent = len(pipe)
        with translating(self.settings, f"publish to {queue!r}"):
            results = await pipe.execute(raise_on_error=False) if sent else []
            if apart:
                client = self.clients.aio().client
                await client.eval(scripts.PUBLISH_DELAYED, 1, keys.delayed, *apart)
        self._check(queue, results, sent)
        if any(m.delay > 0 for m in messages):
            self._poke(queue)

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        if message.delay > 0 or self.settings.replicas:
            self.publish_batch_sync(queue, [message])
            return
        fields: Fields = {"i": message.message_id, "b": message.body, "n": 0}
        with translating(self.settings, f"publish to {queue!r}"):
            self.clients.sync().xadd(self.keys(queue).stream, fields)

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        keys = self.keys(queue)
        client = self.clients.sync()
        pipe = client.pipeline(transaction=False)
        apart = self._commands(pipe, keys, messages)
        sent = len(pipe)
        with translating(self.settings, f"publish to {queue!r}"):
            results = pipe.execute(raise_on_error=False) if sent else []
            if apart:
                client.eval(scripts.PUBLISH_DELAYED, 1, keys.delayed, *apart)
        self._check(queue, results, sent)

    def _poke(self, queue: str) -> None:
        for subscription in list(self._subscriptions):
            subscription.poke(queue)

    # -- consuming -------------------------------------------------------------------
    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        for queue in queues:
            await self.declare(queue)
        if not self._checked_persistence and self.settings.warn_without_persistence:
            self._checked_persistence = True
            await warn_if_volatile(self.clients.aio().client, self.settings)
        subscription = RedisSubscription(self, queues, prefetch)
        self._subscriptions.add(subscription)
        return subscription

    async def _settle(self, delivery: Delivery, script: str, *extra: Any) -> None:
        receipt = delivery.receipt
        if not isinstance(receipt, StreamReceipt):
            raise DeliveryLostError(f"{delivery.message_id}: not a delivery of a Redis backend")
        keys = self.keys(delivery.queue)
        other = keys.dead if script == "DEAD_LETTER" else keys.delayed
        args = [self.settings.group, receipt.consumer, receipt.entry_id, receipt.deliveries]
        done = 0
        try:
            with translating(self.settings, f"settle {delivery.message_id} ({script.lower()})"):
                done = await self.clients.aio().batched(
                    script, [keys.stream, other], [*args, *extra]
                )
        finally:
            if (script != "EXTEND" or not done) and receipt.owner is not None:
                receipt.owner.on_settled(receipt)
        if not done:
            raise DeliveryLostError(
                f"message {delivery.message_id} on {delivery.queue!r} is no longer held by this "
                "consumer (it stayed idle past the lease and was reclaimed, or it was settled)"
            )

    async def ack(self, delivery: Delivery) -> None:
        await self._settle(delivery, "ACK")

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        token = os.urandom(8).hex()
        await self._settle(delivery, "RETRY", delivery.attempt, delay_ms(delay), token)
        if delay > 0:
            self._poke(delivery.queue)

    async def defer(self, delivery: Delivery, *, delay: float) -> None:
        """Back after ``delay`` seconds with the same attempt (``Defers``: limits, unique)."""
        token = os.urandom(8).hex()
        # The entry's spent attempts stay what they were before this delivery, so its
        # next delivery (count 1) is this attempt again.
        await self._settle(delivery, "RETRY", delivery.attempt - 1, delay_ms(delay), token)
        if delay > 0:
            self._poke(delivery.queue)

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        await self._settle(delivery, "DEAD_LETTER", delivery.attempt, reason)

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        # The lease is the reclaimers' idle threshold: an extend renews it whole.
        await self._settle(delivery, "EXTEND")

    async def release(self, delivery: Delivery) -> None:
        await self._settle(delivery, "RELEASE", delivery.attempt)

    # -- operations ----------------------------------------------------------------------
    async def stats(self, queue: str) -> QueueStats:
        with translating(self.settings, f"stats of {queue!r}"):
            return await admin.stats(self.clients.aio().client, self.settings, queue)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        with translating(self.settings, f"list dead letters of {queue!r}"):
            return await admin.dead_letters(
                self.clients.aio().client, self.keys(queue), queue, limit
            )

    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        await self.declare(queue)
        keys = self.keys(queue)
        args = [-1 if limit is None else limit, *(message_ids or ())]
        if message_ids is not None and not message_ids:
            return 0
        with translating(self.settings, f"replay dead letters of {queue!r}"):
            return int(await self.clients.aio().run("REPLAY", [keys.stream, keys.dead], args))

    async def purge(self, queue: str) -> int:
        """Delete the ready and delayed messages of ``queue`` (capability ``Purgeable``).

        Entries a consumer holds stay (they are pending in the group), and so do dead
        letters. One script: a message is either deleted or delivered, never both.
        """
        keys = self.keys(queue)
        with translating(self.settings, f"purge {queue!r}"):
            args = [self.settings.group]
            return int(
                await self.clients.aio().run("PURGE_QUEUE", [keys.stream, keys.delayed], args)
            )

    async def cancel(self, queue: str, message_id: str) -> bool:
        """Delete one waiting (ready or delayed) message by id (capability ``Cancellable``).

        Scans the ready entries and the delay set in one script: O(waiting messages).
        """
        keys = self.keys(queue)
        with translating(self.settings, f"cancel {message_id} on {queue!r}"):
            args = [self.settings.group, message_id]
            found = await self.clients.aio().run("CANCEL", [keys.stream, keys.delayed], args)
        return bool(found)

    async def purge_dead_letters(self, queue: str) -> int:
        with translating(self.settings, f"purge dead letters of {queue!r}"):
            return int(await self.clients.aio().run("PURGE", [self.keys(queue).dead], []))

    # -- lifetime --------------------------------------------------------------------
    def coordination_store(self) -> RedisStore:
        """The coordination store on this server (keys ``<prefix>store:…``), same connections.

        The default store when ``BROKERJOBS_STORE`` is not set.
        """
        if self._coordination is None:
            self._coordination = RedisStore(self.settings, clients=self.clients)
        return self._coordination

    async def aclose(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.stop()
        await self.clients.aclose()

    def close(self) -> None:
        self.clients.close()

    async def abandon(self) -> None:
        """Drop everything as kill -9 would: nothing settled or released, connections cut.

        For fault tests. The entries this backend held are reclaimed after the lease.
        """
        for subscription in list(self._subscriptions):
            subscription.abandon()
        await asyncio.sleep(0)  # let the cancelled fetches unwind before the sockets go
        await self.clients.abort()
