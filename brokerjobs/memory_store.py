"""The in-memory broker behind :class:`brokerjobs.memory.MemoryBackend`.

Kept apart from the backend class so several backend instances (two "workers", a
producer) can share one store, as processes share one real broker.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from brokerjobs.backend import DeadLetter, Delivery, OutgoingMessage, QueueStats
from brokerjobs.clock import Clock
from brokerjobs.errors import DeliveryLostError


@dataclass(eq=False)
class _Message:
    body: bytes
    message_id: str
    priority: int
    available_at: float
    deliveries: int = 0


@dataclass(eq=False)
class _Lease:
    queue: str
    message: _Message
    until: float
    owner: object
    """The subscription holding it; its prefetch window counts the lease."""


@dataclass
class _Queue:
    ready: list[tuple[int, int, float, _Message]] = field(default_factory=list)
    """Heap of (-priority, seq, ready_since, message)."""
    delayed: list[tuple[float, int, _Message]] = field(default_factory=list)
    """Heap of (available_at, seq, message)."""
    dead: list[DeadLetter] = field(default_factory=list)


class MemoryStore:
    """Queues, leases and dead letters, guarded by one lock; safe from any thread."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._leases: dict[int, _Lease] = {}
        self._seq = itertools.count()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.clock.subscribe(self.notify)

    # -- waking consumers --------------------------------------------------------------
    def add_waiter(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.add((loop, event))

    def remove_waiter(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.discard((loop, event))

    def notify(self) -> None:
        """Wake every waiting subscription, whichever thread or loop it lives on."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed; its subscription is gone
                self.remove_waiter(loop, event)

    # -- queue operations --------------------------------------------------------------
    def _queue(self, name: str) -> _Queue:
        return self._queues.setdefault(name, _Queue())

    def declare(self, queue: str) -> None:
        with self._lock:
            self._queue(queue)

    def publish(self, queue: str, messages: list[OutgoingMessage]) -> None:
        now = self.clock.now()
        with self._lock:
            target = self._queue(queue)
            for out in messages:
                message = _Message(out.body, out.message_id, out.priority, now + out.delay)
                self._enqueue(target, message, now)
        self.notify()

    def _enqueue(self, queue: _Queue, message: _Message, now: float) -> None:
        if message.available_at > now:
            heapq.heappush(queue.delayed, (message.available_at, next(self._seq), message))
        else:
            entry = (-message.priority, next(self._seq), message.available_at, message)
            heapq.heappush(queue.ready, entry)

    def _promote(self, queue: _Queue, now: float) -> None:
        while queue.delayed and queue.delayed[0][0] <= now:
            _, _, message = heapq.heappop(queue.delayed)
            self._enqueue(queue, message, now)

    def _expire_leases(self, now: float) -> None:
        for token, lease in list(self._leases.items()):
            if lease.until <= now:
                del self._leases[token]
                lease.message.available_at = now
                self._enqueue(self._queue(lease.queue), lease.message, now)

    def take(
        self, queues: list[str], owner: object, lease: float
    ) -> tuple[Delivery | None, float | None]:
        """The next ready message from the first non-empty queue, leased to ``owner``.

        Returns ``(delivery, None)`` or ``(None, wake_at)``: when something may become
        ready next (a delay or lease ending), or None when only a publish can help.
        """
        now = self.clock.now()
        with self._lock:
            self._expire_leases(now)
            for name in queues:
                queue = self._queue(name)
                self._promote(queue, now)
                if queue.ready:
                    _, _, _, message = heapq.heappop(queue.ready)
                    message.deliveries += 1
                    token = next(self._seq)
                    self._leases[token] = _Lease(name, message, now + lease, owner)
                    delivery = Delivery(
                        name, message.body, message.message_id, message.deliveries, token
                    )
                    return delivery, None
            return None, self._next_wake(queues)

    def _next_wake(self, queues: list[str]) -> float | None:
        times = [self._queues[name].delayed[0][0] for name in queues if self._queues[name].delayed]
        times += [lease.until for lease in self._leases.values() if lease.queue in queues]
        return min(times, default=None)

    def outstanding(self, owner: object) -> int:
        with self._lock:
            return sum(1 for lease in self._leases.values() if lease.owner is owner)

    def settle(self, delivery: Delivery) -> _Lease:
        """End the delivery's lease, or raise if it is no longer held."""
        now = self.clock.now()
        with self._lock:
            lease = self._leases.get(delivery.receipt)
            if lease is None or lease.until <= now:
                self._expire_leases(now)
                raise DeliveryLostError(
                    f"delivery {delivery.message_id} of {delivery.queue!r} is no longer held "
                    "(lease expired or connection lost); it will be or was redelivered"
                )
            del self._leases[delivery.receipt]
        self.notify()
        return lease

    def requeue(self, lease: _Lease, delay: float, *, counted: bool = True) -> None:
        now = self.clock.now()
        with self._lock:
            if not counted:
                lease.message.deliveries -= 1
            lease.message.available_at = now + delay
            self._enqueue(self._queue(lease.queue), lease.message, now)
        self.notify()

    def bury(self, lease: _Lease, reason: str) -> None:
        dead = DeadLetter(
            queue=lease.queue,
            message_id=lease.message.message_id,
            body=lease.message.body,
            reason=reason,
            attempt=lease.message.deliveries,
            dead_lettered_at=datetime.fromtimestamp(self.clock.now(), UTC),
        )
        with self._lock:
            self._queue(lease.queue).dead.append(dead)

    def extend(self, delivery: Delivery, seconds: float) -> None:
        now = self.clock.now()
        with self._lock:
            lease = self._leases.get(delivery.receipt)
            if lease is None or lease.until <= now:
                raise DeliveryLostError(f"delivery {delivery.message_id} is no longer held")
            lease.until = max(lease.until, now + seconds)

    def drop_owner(self, owner: object) -> None:
        """A consumer died: everything it held is deliverable again at once."""
        now = self.clock.now()
        with self._lock:
            for token, lease in list(self._leases.items()):
                if lease.owner is owner:
                    del self._leases[token]
                    lease.message.available_at = now
                    self._enqueue(self._queue(lease.queue), lease.message, now)
        self.notify()

    # -- operations --------------------------------------------------------------------
    def stats(self, name: str) -> QueueStats:
        now = self.clock.now()
        with self._lock:
            queue = self._queue(name)
            self._expire_leases(now)
            self._promote(queue, now)
            oldest = min((entry[2] for entry in queue.ready), default=None)
            return QueueStats(
                queue=name,
                ready=len(queue.ready),
                in_flight=sum(1 for lease in self._leases.values() if lease.queue == name),
                delayed=len(queue.delayed),
                dead=len(queue.dead),
                oldest_ready_age=None if oldest is None else max(0.0, now - oldest),
            )

    def dead_letters(self, name: str, limit: int) -> list[DeadLetter]:
        with self._lock:
            return list(self._queue(name).dead[:limit])

    def replay(self, name: str, ids: set[str] | None, limit: int | None) -> int:
        now = self.clock.now()
        with self._lock:
            queue = self._queue(name)
            chosen = [d for d in queue.dead if ids is None or d.message_id in ids][:limit]
            for dead in chosen:
                queue.dead.remove(dead)
                message = _Message(dead.body, dead.message_id, 0, now)
                self._enqueue(queue, message, now)
        self.notify()
        return len(chosen)

    def purge(self, name: str) -> int:
        with self._lock:
            queue = self._queue(name)
            count = len(queue.dead)
            queue.dead.clear()
            return count

    def purge_waiting(self, name: str) -> int:
        """Delete the ready and delayed messages of ``name`` (leased ones stay)."""
        with self._lock:
            queue = self._queue(name)
            count = len(queue.ready) + len(queue.delayed)
            queue.ready.clear()
            queue.delayed.clear()
            return count

    def cancel(self, name: str, message_id: str) -> bool:
        """Delete the ready or delayed messages of ``name`` with ``message_id``."""
        with self._lock:
            queue = self._queue(name)
            ready = [entry for entry in queue.ready if entry[3].message_id != message_id]
            delayed = [entry for entry in queue.delayed if entry[2].message_id != message_id]
            found = len(ready) < len(queue.ready) or len(delayed) < len(queue.delayed)
            heapq.heapify(ready)
            heapq.heapify(delayed)
            queue.ready, queue.delayed = ready, delayed
            return found
