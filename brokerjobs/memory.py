"""The in-memory backend: the real contract, in one process, for tests and development.

Delays are never early, leases expire and redeliver, attempts count deliveries, dead
letters keep their reason. Pass a :class:`~brokerjobs.clock.FakeClock` to test hour-long
delays and lease expiry instantly. Usable from sync and async code, from any thread.
Nothing survives the process: never use it in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from brokerjobs.backend import (
    Backend,
    DeadLetter,
    Delivery,
    OutgoingMessage,
    QueueStats,
    Subscription,
)
from brokerjobs.clock import Clock
from brokerjobs.errors import BrokerUnavailableError
from brokerjobs.memory_store import MemoryStore

_default_store: MemoryStore | None = None
_default_lock = threading.Lock()


def default_store() -> MemoryStore:
    """The process-wide store that every ``backend="memory"`` instance shares."""
    global _default_store
    with _default_lock:
        if _default_store is None:
            _default_store = MemoryStore()
        return _default_store


class MemorySubscription(Subscription):
    """Hands out ready messages from the given queues, earlier queues first."""

    def __init__(self, backend: MemoryBackend, queues: list[str], prefetch: int) -> None:
        self._backend = backend
        self._store = backend.store
        self._queues = queues
        self._prefetch = prefetch
        self._stopped = False
        self.crashed = False
        """Set when its backend crashed: iteration raises, as on a dropped connection."""
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __anext__(self) -> Delivery:
        if self._event is None:
            self._event, self._loop = asyncio.Event(), asyncio.get_running_loop()
            self._store.add_waiter(self._loop, self._event)
        while True:
            if self._stopped:
                raise StopAsyncIteration
            if self.crashed:
                raise BrokerUnavailableError("memory backend connection lost (simulated crash)")
            self._event.clear()
            wake_at: float | None = None
            if self._store.outstanding(self) < self._prefetch:
                delivery, wake_at = self._store.take(self._queues, self, self._backend.lease)
                if delivery is not None:
                    return delivery
            timeout = None
            if wake_at is not None and not self._store.clock.fake:
                timeout = max(0.0, wake_at - self._store.clock.now()) + 0.001
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._event.wait()

    @property
    def closed(self) -> bool:
        return self.crashed

    async def stop(self) -> None:
        # Nothing is buffered ahead of __anext__, so there is nothing to release.
        self._stopped = True
        if self._event is not None and self._loop is not None:
            self._store.remove_waiter(self._loop, self._event)
            self._event.set()


class MemoryBackend(Backend):
    """In-process backend; instances built on one store behave like clients of one broker."""

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        store: MemoryStore | None = None,
        *,
        clock: Clock | None = None,
        lease: float = 30.0,
        max_message_size: int = 256 * 1024,
    ) -> None:
        if store is not None and clock is not None:
            raise ValueError("pass a clock or a store (which has its clock), not both")
        self.store = store or (MemoryStore(clock) if clock else default_store())
        self.lease = lease
        self.max_message_size = max_message_size
        self._subscriptions: list[MemorySubscription] = []

    @classmethod
    def from_options(cls, **options: Any) -> Self:
        return cls(**options)

    async def publish(self, queue: str, message: OutgoingMessage) -> None:
        self.store.publish(queue, [message])

    async def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self.store.publish(queue, list(messages))

    def publish_sync(self, queue: str, message: OutgoingMessage) -> None:
        self.store.publish(queue, [message])

    def publish_batch_sync(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        self.store.publish(queue, list(messages))

    async def consume(self, queues: Sequence[str], *, prefetch: int) -> Subscription:
        if prefetch < 1:
            raise ValueError(f"prefetch must be >= 1, got {prefetch}")
        subscription = MemorySubscription(self, list(queues), prefetch)
        self._subscriptions.append(subscription)
        return subscription

    async def ack(self, delivery: Delivery) -> None:
        self.store.settle(delivery)

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        self.store.requeue(self.store.settle(delivery), max(0.0, delay))

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        self.store.bury(self.store.settle(delivery), reason)

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        self.store.extend(delivery, seconds)

    async def release(self, delivery: Delivery) -> None:
        self.store.requeue(self.store.settle(delivery), 0.0, counted=False)

    async def declare(self, queue: str) -> None:
        self.store.declare(queue)

    async def stats(self, queue: str) -> QueueStats:
        return self.store.stats(queue)

    async def dead_letters(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        return self.store.dead_letters(queue, limit)

    async def replay_dead_letters(
        self, queue: str, *, message_ids: Sequence[str] | None = None, limit: int | None = None
    ) -> int:
        return self.store.replay(queue, set(message_ids) if message_ids else None, limit)

    async def purge_dead_letters(self, queue: str) -> int:
        return self.store.purge(queue)

    async def purge(self, queue: str) -> int:
        """Delete the ready and delayed messages of ``queue`` (see ``Purgeable``)."""
        return self.store.purge_waiting(queue)

    async def cancel(self, queue: str, message_id: str) -> bool:
        """Delete one waiting message by id (see ``Cancellable``)."""
        return self.store.cancel(queue, message_id)

    def crash(self) -> None:
        """Simulate this client's connection dying: its deliveries return to their queues."""
        for subscription in self._subscriptions:
            subscription.crashed = True
            self.store.drop_owner(subscription)
        self._subscriptions.clear()

    async def aclose(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
            self.store.drop_owner(subscription)
        self._subscriptions.clear()

    def close(self) -> None:
        """Nothing to close: publishing holds no connection."""
