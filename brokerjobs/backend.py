"""The backend contract: the one small interface every broker implements.

Backends see bytes and queue names only. Job models, retry policy, tracing and the worker
live in the core and speak to brokers exclusively through :class:`Backend`.

Rules every implementation keeps (the contract suite in ``tests/contract`` proves them):

* ``publish*`` return only once the broker has durably accepted the message, and raise
  (never hang) otherwise: :class:`~brokerjobs.errors.BrokerUnavailableError` for
  transient trouble and timeouts, :class:`~brokerjobs.errors.PublishRejectedError` when
  the broker refused the message.
* A message with ``delay`` is never delivered early, whatever the length of the delay,
  and a long delay never holds up a shorter one published after it.
* :attr:`Delivery.attempt` counts deliveries of the message, starting at 1. A retry adds
  one; so does a redelivery after a crash or lost connection. A replay from the
  dead-letter queue starts again at 1.
* A delivery that is neither acked, retried, dead-lettered nor released is redelivered
  once its consumer is gone (connection lost, process killed) or its lease expired.
* Settling a delivery the consumer no longer owns raises
  :class:`~brokerjobs.errors.DeliveryLostError` and never touches another consumer's copy.
* The sync twins (``publish_sync``, ``publish_batch_sync``) are thread-safe and safe to
  use in a child process after ``fork()``.
* Driver exceptions never escape: they are translated into :mod:`brokerjobs.errors`.
* Publishing to a queue nobody declared yet works: the backend declares it on first use
  (or, where configured not to create queues, raises ``QueueNotFoundError``).
* Cancelling a pending ``Subscription.__anext__`` loses nothing: a message it had not
  yet returned stays buffered for the next call (or is released by ``stop``).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to publish: an encoded envelope and its broker-level metadata."""

    body: bytes
    message_id: str
    delay: float = 0.0
    """Seconds to wait before the message may be delivered (0 = now)."""
    priority: int = 0
    """Higher runs first where the backend supports priorities (a hint, documented per backend)."""


@dataclass(frozen=True, slots=True, eq=False)
class Delivery:
    """A message handed to a consumer. Settle it exactly once with ack/retry/dead_letter/release."""

    queue: str
    body: bytes
    message_id: str
    attempt: int
    """1 on the first delivery; counts every delivery including those after a crash."""
    receipt: Any = field(repr=False)
    """Backend-specific handle (delivery tag, receipt handle, row lease); opaque to the core."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of one queue, with the same meaning on every backend."""

    queue: str
    ready: int
    """Deliverable now (excludes delayed messages): the autoscaling signal."""
    in_flight: int
    """Delivered to a consumer and not settled yet."""
    delayed: int
    """Waiting for a delay or a retry backoff to pass."""
    dead: int
    """In the dead-letter queue."""
    oldest_ready_age: float | None = None
    """Seconds since the oldest ready message became ready, where the broker can tell."""
    consumers: int | None = None
    """Consumers attached to the work queue, where the broker can tell (RabbitMQ); else None."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message parked in a dead-letter queue, with why it was parked."""

    queue: str
    """The work queue it came from (not the DLQ's broker name)."""
    message_id: str
    body: bytes
    reason: str
    attempt: int
    dead_lettered_at: datetime | None = None


class Subscription(abc.ABC):
    """An open consumer on one or more queues: an async iterator of deliveries.

    Iteration raises :class:`~brokerjobs.errors.BrokerUnavailableError` when the
    connection is lost and cannot be recovered transparently; the worker then opens a new
    subscription with backoff. Deliveries received before the loss are no longer owned.
    """

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self

    @abc.abstractmethod
    async def __anext__(self) -> Delivery:
        """The next delivery; waits for one. Raises ``StopAsyncIteration`` after :meth:`stop`."""

    @property
    def closed(self) -> bool:
        """True once deliveries it handed out can no longer be settled (connection lost).

        The worker checks it before starting a buffered delivery, so a job fetched on a
        dead connection is not run (the broker redelivers it). Backends whose deliveries
        outlive their subscription (leases) may keep the default, False.
        """
        return False

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop fetching. Messages fetched but not yet yielded are released at once.

        Deliveries already yielded stay owned by the caller, who still settles them.
        Idempotent. Iteration ends (``StopAsyncIteration``) once stopped.
        """


class Backend(abc.ABC):
    """A message broker seen as durable queues of bytes. See the module docstring."""

    name: ClassVar[str]
    """The entry-point name (``"rabbitmq"``, ``"sqs"``, ``"memory"``...)."""

    max_message_size: int = 256 * 1024
    """Largest body in bytes the broker accepts; dispatch checks against it."""

    max_lease: float | None = None
    """Longest a delivery may stay unsettled while extended by heartbeat (None: unbounded)."""

    @classmethod
    def from_options(cls, **options: Any) -> Self:
        """Build the backend from its settings (environment) overridden by ``options``."""
        return cls(**options)

    # -- publishing ------------------------------------------------------------------
    @abc.abstractmethod
    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        """Hand one message to the broker durably; return once it is accepted."""

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        """Publish many messages, as efficiently as the broker allows.

        All or nothing is not promised: on error, an exception names how many were
        accepted (``BackendError``); the caller may publish the rest again.
        """
        for message in messages:
            await self.publish(queue, message)

    @abc.abstractmethod
    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        """Blocking twin of :meth:`publish`; thread-safe and fork-safe."""

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        """Blocking twin of :meth:`publish_batch`."""
        for message in messages:
            self.publish_sync(queue, message)

    # -- consuming -------------------------------------------------------------------
    @abc.abstractmethod
    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        """Open a subscription on ``queues`` holding at most ``prefetch`` unsettled deliveries."""

    @abc.abstractmethod
    async def ack(self, delivery: Delivery) -> None:
        """The job finished: remove the message for good."""

    @abc.abstractmethod
    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        """Deliver the message again after ``delay`` seconds, with ``attempt + 1``."""

    @abc.abstractmethod
    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        """Move the message to the queue's dead-letter queue, keeping body and ``reason``."""

    @abc.abstractmethod
    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        """Keep the delivery owned for at least ``seconds`` more (lease heartbeat)."""

    @abc.abstractmethod
    async def release(self, delivery: Delivery) -> None:
        """Give an unstarted message back now: deliverable at once, attempt not counted."""

    # -- topology and operations -----------------------------------------------------
    @abc.abstractmethod
    async def declare(self, queue: str) -> None:
        """Create the queue, its delay/retry machinery and its dead-letter queue (idempotent)."""

    @abc.abstractmethod
    async def stats(self, queue: str) -> QueueStats:
        """Counts for one queue (see :class:`QueueStats`)."""

    @abc.abstractmethod
    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """List up to ``limit`` dead letters of ``queue`` without removing them."""

    @abc.abstractmethod
    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        """Move dead letters back to ``queue`` (all, or those ids), attempt reset to 1.

        The message id and body (trace headers included) are kept. Returns how many moved.
        """

    @abc.abstractmethod
    async def purge_dead_letters(self, queue: str) -> int:
        """Delete every dead letter of ``queue``; returns how many were deleted."""

    # -- lifetime --------------------------------------------------------------------
    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close async connections. Idempotent."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close sync (publishing) connections. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
        self.close()
