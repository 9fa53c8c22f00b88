"""The Amazon SQS backend: the brokerjobs contract on boto3.

Async methods run boto3 in the backend's own thread pool; the sync publishing twins call
it directly, from any thread, and after ``fork()`` (the client is re-made per process).
See ``docs/backends/sqs.md`` for the mapping of every contract rule onto SQS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

from pydantic import ValidationError

from brokerjobs.backend import (
    Backend,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
)
from brokerjobs.clock import Clock
from brokerjobs.errors import ConfigurationError, DeliveryLostError
from brokerjobs_sqs.batching import DeleteBatcher
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.operations import Operations
from brokerjobs_sqs.publisher import Publisher
from brokerjobs_sqs.queues import QueueDirectory
from brokerjobs_sqs.receipt import LEASE_CAP_MARGIN, Receipt
from brokerjobs_sqs.settings import MAX_MESSAGE_SIZE, MAX_VISIBILITY, SQSSettings
from brokerjobs_sqs.settling import Settler
from brokerjobs_sqs.subscription import SQSSubscription

ATTRIBUTE_RESERVE = 512
"""Bytes of a message kept for the backend's own attributes (message id, due time...)."""


class SQSBackend(Backend):
    """Jobs on Amazon SQS (or any endpoint speaking its API: moto, ElasticMQ, LocalStack).

    Build it with :meth:`from_options` (``BROKERJOBS_SQS_*`` settings overridden by keyword
    arguments) or from an :class:`SQSSettings`. ``clock`` supplies the wall time used for
    delays longer than one native hop (a fake clock lets tests skip hours).
    """

    name: ClassVar[str] = "sqs"
    max_message_size: int = MAX_MESSAGE_SIZE - ATTRIBUTE_RESERVE
    max_lease: float | None = MAX_VISIBILITY - LEASE_CAP_MARGIN

    def __init__(
        self, settings: SQSSettings | None = None, *, clock: Clock | None = None, **options: Any
    ) -> None:
        if settings is not None and options:
            raise TypeError("pass an SQSSettings or keyword settings, not both")
        try:
            self.settings = settings if settings is not None else SQSSettings(**options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigurationError(f"invalid SQS backend settings: {problems}") from None
        self._clock = clock or Clock()
        self._clients = ClientHolder(self.settings)
        self._queues = QueueDirectory(self.settings, self._clients)
        self._publisher = Publisher(self.settings, self._clients, self._queues, self._clock.now)
        self._settler = Settler(self.settings, self._clients, self._publisher, self._clock.now)
        self._operations = Operations(self.settings, self._clients, self._publisher)
        self._subscriptions: list[SQSSubscription] = []
        self._deleter: DeleteBatcher | None = None

    @classmethod
    def from_options(cls, **options: Any) -> Self:
        return cls(**options)

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"SQSBackend(endpoint_url={s.safe_endpoint()!r}, region={s.region!r}, "
            f"queue_prefix={s.queue_prefix!r}, auto_create={s.auto_create})"
        )

    def add_event_hook(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a botocore event handler on this backend's client (and its successors).

        For instrumentation and fault injection, e.g. ``"before-call.sqs"`` to count API
        calls or ``"after-call.sqs.SendMessageBatch"`` to inspect batch results.
        """
        self._clients.register(event, handler)

    # -- publishing --------------------------------------------------------------------
    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        await self._clients.run(self._publisher.publish, queue, message)

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        await self._clients.run(self._publisher.publish_batch, queue, list(messages))

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        self._publisher.publish(queue, message)

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self._publisher.publish_batch(queue, messages)

    # -- consuming ---------------------------------------------------------------------
    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}")
        if not queues:
            raise ValueError("consume needs at least one queue")
        refs = [await self._clients.run(self._queues.resolve, queue) for queue in queues]
        subscription = SQSSubscription(
            refs,
            prefetch,
            settings=self.settings,
            clients=self._clients,
            settler=self._settler,
            now=self._clock.now,
            forget_queue=self._queues.forget,
        )
        # A worker re-subscribes after every failure: keep only the ones still working.
        self._subscriptions = [s for s in self._subscriptions if not s.finished]
        self._subscriptions.append(subscription)
        return subscription

    @staticmethod
    def _receipt(delivery: Delivery) -> Receipt:
        receipt = delivery.receipt
        if not isinstance(receipt, Receipt):
            raise DeliveryLostError(f"delivery {delivery.message_id} did not come from SQS")
        if receipt.settled or receipt.lost or receipt.lease_until <= time.monotonic():
            raise DeliveryLostError(
                f"delivery {delivery.message_id} of {delivery.queue!r} is no longer held "
                "(already settled, lease expired, or consumer gone); SQS redelivers it"
            )
        return receipt

    def _claim(self, delivery: Delivery) -> Receipt:
        """Mark the delivery settled (even if the call then fails: its lease then lapses)."""
        receipt = self._receipt(delivery)
        receipt.settled = True
        if receipt.owner is not None:
            receipt.owner.forget(receipt)
        return receipt

    def _batcher(self) -> DeleteBatcher:
        loop = asyncio.get_running_loop()
        if self._deleter is None or self._deleter.loop is not loop:
            self._deleter = DeleteBatcher(self._clients, self.settings)
        return self._deleter

    async def ack(self, delivery: Delivery) -> None:
        receipt = self._claim(delivery)
        await self._batcher().delete(receipt.ref.url, receipt.ref.sqs_name, receipt.handle)

    def _group_mates(self, receipt: Receipt) -> list[Receipt]:
        if receipt.ref.fifo and receipt.owner is not None:
            return receipt.owner.take_group(receipt)
        return []

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        # SQS cannot attach the reason to a visibility change; the worker logs it.
        receipt = self._claim(delivery)
        mates = self._group_mates(receipt)
        await self._clients.run(self._settler.retry, receipt, max(0.0, delay))
        if mates:
            await self._clients.run(self._settler.release, mates)

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        receipt = self._claim(delivery)
        await self._clients.run(self._settler.dead_letter, receipt, reason)

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        receipt = self._receipt(delivery)
        await self._clients.run(self._settler.extend, receipt, seconds)

    async def release(self, delivery: Delivery) -> None:
        receipt = self._claim(delivery)
        await self._clients.run(self._settler.release, [receipt, *self._group_mates(receipt)])

    # -- topology and operations -------------------------------------------------------
    async def declare(self, queue: str) -> None:
        """Create the queue and its DLQ with a redrive policy; with ``auto_create`` off,
        check that they exist (raising :class:`~brokerjobs.errors.QueueNotFoundError`)."""
        await self._clients.run(self._queues.resolve, queue)

    async def stats(self, queue: str) -> QueueStats:
        ref = await self._clients.run(self._queues.resolve, queue)
        return await self._clients.run(self._operations.stats, ref)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        ref = await self._clients.run(self._queues.resolve, queue)
        return await self._clients.run(self._operations.dead_letters, ref, limit)

    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        ref = await self._clients.run(self._queues.resolve, queue)
        ids = list(message_ids) if message_ids is not None else None
        return await self._clients.run(self._operations.replay, ref, ids, limit)

    async def purge_dead_letters(self, queue: str) -> int:
        ref = await self._clients.run(self._queues.resolve, queue)
        return await self._clients.run(self._operations.purge, ref)

    async def purge(self, queue: str) -> None:
        """Empty the work queue with ``PurgeQueue`` (``Purgeable``); SQS cannot say how many.

        Unlike the other backends, SQS deletes in-flight messages too: a running job's
        ack then finds nothing. SQS finishes within 60 s and allows one purge a minute.
        """
        ref = await self._clients.run(self._queues.resolve, queue)
        await self._clients.run(self._operations.purge_work, ref)

    # -- lifetime ----------------------------------------------------------------------
    def abandon(self) -> None:
        """Drop every subscription without settling anything (what kill -9 leaves behind).

        For fault tests: unsettled messages come back once their visibility lapses.
        """
        for subscription in self._subscriptions:
            subscription.abandon()
        self._subscriptions.clear()

    async def aclose(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.aclose()
        if self._deleter is not None:
            deleter, self._deleter = self._deleter, None
            if deleter.loop is asyncio.get_running_loop():
                await deleter.aclose()

    def close(self) -> None:
        self._clients.close()
