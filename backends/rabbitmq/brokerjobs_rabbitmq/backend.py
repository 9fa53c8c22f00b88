"""The RabbitMQ backend: the brokerjobs contract on quorum queues, DLX wait levels and a DLQ.

Connections: per event loop, one for publishing (confirms) and one for consuming and
operations (a channel per subscription, a control channel for declarations and stats);
per thread, one pika connection for sync publishing. See ``docs/backends/rabbitmq.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Self

import aiormq.abc

from brokerjobs.backend import (
    Backend,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
)
from brokerjobs.errors import BrokerJobsError, PublishRejectedError

from . import headers as hdr
from . import operations
from .connection import AsyncConnector
from .consumer import RabbitMQSubscription
from .publisher_async import AsyncPublisher, Outgoing
from .publisher_sync import SyncPublisher
from .settings import RabbitMQSettings, load_settings
from .settlement import Settler
from .topology import Topology, apply_async, declared_arguments_error
from .translate import TopologyMismatchError, translate


class RabbitMQBackend(Backend):
    """brokerjobs on RabbitMQ. Build it with :meth:`from_options` or from a settings object."""

    name = "rabbitmq"
    max_message_size = 16 * 1024 * 1024
    """RabbitMQ 4.x's default ``max_message_size`` (3.x allows 128 MiB)."""

    def __init__(self, settings: RabbitMQSettings | None = None, **options: Any) -> None:
        self.settings = settings if settings is not None else load_settings(**options)
        self.topology = Topology(self.settings)
        self.max_lease = self.settings.max_lease
        self._connector = AsyncConnector(self.settings)
        self._publisher = AsyncPublisher(self._connector)
        self._sync = SyncPublisher(self.settings)
        self._settler = Settler(self.settings, self.topology, self._publisher)
        self._declared: set[str] = set()
        self._declared_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._consumer_connection: aiormq.abc.AbstractConnection | None = None
        self._control: aiormq.abc.AbstractChannel | None = None
        self._locks_of_loop: tuple[asyncio.Lock, asyncio.Lock] | None = None
        self._subscriptions: weakref.WeakSet[RabbitMQSubscription] = weakref.WeakSet()

    @classmethod
    def from_options(cls, **options: Any) -> Self:
        """Settings from ``BROKERJOBS_RABBITMQ_*`` overridden by ``options`` (see settings)."""
        return cls(load_settings(**options))

    def __repr__(self) -> str:
        return f"RabbitMQBackend(url={self.settings.safe_url!r}, prefix={self.settings.prefix!r})"

    @property
    def declared_queues(self) -> frozenset[str]:
        """Queues this instance declared (or saw declared)."""
        with self._declared_lock:
            return frozenset(self._declared)

    # -- connections -------------------------------------------------------------------
    def _locks(self) -> tuple[asyncio.Lock, asyncio.Lock]:
        """The connect and declare locks of the running loop (connections are per loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._locks_of_loop is None:
            self._loop, self._consumer_connection, self._control = loop, None, None
            self._locks_of_loop = (asyncio.Lock(), asyncio.Lock())
        return self._locks_of_loop

    async def _connection(self) -> aiormq.abc.AbstractConnection:
        connect_lock, _ = self._locks()
        async with connect_lock:
            connection = self._consumer_connection
            if connection is None or connection.is_closed:
                connection = self._consumer_connection = await self._connector.connect("consumer")
            return connection

    async def _channel(self, action: str) -> aiormq.abc.AbstractChannel:
        connection = await self._connection()
        try:
            return await connection.channel(publisher_confirms=False)
        except Exception as exc:
            raise translate(exc, self.settings, action) from None

    async def _control_channel(self) -> aiormq.abc.AbstractChannel:
        connection = await self._connection()
        if (
            self._control is None
            or self._control.is_closed
            or self._control.connection is not connection
        ):
            self._control = await self._channel("open a control channel")
        return self._control

    # -- publishing ----------------------------------------------------------------------
    def _outgoing(self, queue: str, message: OutgoingMessage) -> Outgoing:
        route = self.topology.route(queue, message.delay)
        return Outgoing(route, message.body, hdr.properties(message.message_id))

    def _forget_on_reject(self, queue: str, exc: BrokerJobsError) -> None:
        if isinstance(exc, PublishRejectedError):
            # Unroutable: the queue was deleted behind our back; declare it again next time.
            with self._declared_lock:
                self._declared.discard(queue)

    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        outgoing = self._outgoing(queue, message)
        await self.declare(queue)
        try:
            await self._publisher.publish(outgoing, f"publish to {queue!r}")
        except BrokerJobsError as exc:
            self._forget_on_reject(queue, exc)
            raise

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        outgoing = [self._outgoing(queue, message) for message in messages]
        await self.declare(queue)
        try:
            await self._publisher.publish_many(outgoing, f"publish a batch to {queue!r}")
        except BrokerJobsError as exc:
            self._forget_on_reject(queue, exc)
            raise

    def _declare_sync(self, queue: str) -> None:
        with self._declared_lock:
            if queue in self._declared:
                return
        ops = self.topology.declarations(queue)
        self._sync.declare(ops, f"declare {queue!r}")
        with self._declared_lock:
            self._declared.add(queue)

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        outgoing = self._outgoing(queue, message)
        self._declare_sync(queue)
        try:
            self._sync.publish(outgoing, f"publish to {queue!r}")
        except BrokerJobsError as exc:
            self._forget_on_reject(queue, exc)
            raise

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        outgoing = [self._outgoing(queue, message) for message in messages]
        self._declare_sync(queue)
        try:
            self._sync.publish_many(outgoing, f"publish a batch to {queue!r}")
        except BrokerJobsError as exc:
            self._forget_on_reject(queue, exc)
            raise

    # -- consuming -----------------------------------------------------------------------
    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        if not queues:
            raise ValueError("consume() needs at least one queue")
        pairs = [(queue, self.topology.names(queue).work) for queue in queues]
        for last_try in (False, True):
            for queue in queues:
                await self.declare(queue)
            channel = await self._channel("open a consuming channel")
            subscription = RabbitMQSubscription(channel, pairs, self._settler.release_many)
            try:
                await subscription.start(max(1, prefetch))
                break
            except Exception as exc:
                if not channel.is_closed:
                    with contextlib.suppress(Exception):
                        await channel.close()
                # A queue deleted behind our back (NOT_FOUND) must be declared again, not
                # trusted from the cache: forget them and try once more.
                with self._declared_lock:
                    self._declared.difference_update(queues)
                if last_try:
                    raise translate(exc, self.settings, f"consume from {list(queues)}") from None
        self._subscriptions.add(subscription)
        return subscription

    async def ack(self, delivery: Delivery) -> None:
        await self._settler.ack(delivery)

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        await self._settler.retry(delivery, delay=delay, reason=reason)

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        await self._settler.dead_letter(delivery, reason=reason)

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        await self._settler.extend(delivery, seconds=seconds)

    async def release(self, delivery: Delivery) -> None:
        await self._settler.release(delivery)

    # -- topology and operations --------------------------------------------------------
    async def declare(self, queue: str) -> None:
        if queue in self._declared:  # set membership is atomic; the lock guards updates
            return
        _, declare_lock = self._locks()
        # One declaration at a time: 500 tasks publishing to a new queue declare it once.
        async with declare_lock:
            if queue in self.declared_queues:
                return
            ops = self.topology.declarations(queue)
            try:
                async with asyncio.timeout(self.settings.publish_timeout * 3):
                    await apply_async(await self._control_channel(), ops)
            except Exception as exc:
                error = translate(
                    exc,
                    self.settings,
                    f"declare {queue!r}",
                    queue=queue,
                    timeout=self.settings.publish_timeout * 3,
                )
                if isinstance(error, TopologyMismatchError):
                    raise TopologyMismatchError(declared_arguments_error(queue, str(exc))) from None
                raise error from None
            with self._declared_lock:
                self._declared.add(queue)

    async def stats(self, queue: str) -> QueueStats:
        names = self.topology.names(queue)
        try:
            (ready, dead, *waits), consumers = await operations.message_counts(
                await self._control_channel(), names
            )
        except Exception as exc:
            raise translate(exc, self.settings, f"stats of {queue!r}", queue=queue) from None
        in_flight = sum(sub.unsettled.get(queue, 0) for sub in self._subscriptions)
        return QueueStats(
            queue,
            ready=ready,
            in_flight=in_flight,
            delayed=sum(waits),
            dead=dead,
            consumers=consumers,
        )

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        names = self.topology.names(queue)
        try:
            return await operations.list_dead_letters(
                self._dead_letter_channel, queue, names, limit, self.settings.delivery_limit
            )
        except Exception as exc:
            raise translate(
                exc, self.settings, f"list dead letters of {queue!r}", queue=queue
            ) from None

    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        await self.declare(queue)
        names = self.topology.names(queue)
        try:
            return await operations.replay_dead_letters(
                self._dead_letter_channel, self._publisher, names, message_ids, limit
            )
        except Exception as exc:
            raise translate(
                exc, self.settings, f"replay dead letters of {queue!r}", queue=queue
            ) from None

    async def purge_dead_letters(self, queue: str) -> int:
        names = self.topology.names(queue)
        try:
            return await operations.purge_dead_letters(self._dead_letter_channel, names)
        except Exception as exc:
            raise translate(
                exc, self.settings, f"purge dead letters of {queue!r}", queue=queue
            ) from None

    async def purge(self, queue: str) -> int:
        """Purge the work queue and its wait queues (``Purgeable``); unacked messages stay.

        There is no ``cancel``: a queue hands messages out in order and AMQP cannot
        delete one from the middle.
        """
        names = self.topology.names(queue)
        try:
            return await operations.purge_waiting(self._dead_letter_channel, names)
        except Exception as exc:
            raise translate(exc, self.settings, f"purge {queue!r}", queue=queue) from None

    async def _dead_letter_channel(self) -> aiormq.abc.AbstractChannel:
        return await self._channel("open a dead-letter channel")

    # -- lifetime --------------------------------------------------------------------------
    def _abort(self) -> None:
        """Drop every async connection abruptly, settling nothing (tests: simulates kill -9)."""
        self._connector.abort()

    async def aclose(self) -> None:
        subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.abandon()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):  # a close frame must not overtake their acks
                for subscription in subscriptions:
                    await subscription.drained()
        await self._publisher.aclose()
        await self._connector.close_all()
        self._consumer_connection = self._control = None

    def close(self) -> None:
        self._sync.close()
