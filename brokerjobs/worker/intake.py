"""Fetching deliveries: one subscription per queue, small buffers, strict priority.

Each queue has its own subscription and a buffer of at most ``buffer_size`` deliveries
fetched but not started. When a slot frees, the worker takes from the earliest queue
(in the priority order given) whose buffer is not empty. A later queue is only served
once every earlier queue's feed has found nothing for a grace period, so a fetch in
flight on an earlier queue is not overtaken by a faster one on a later queue. The grace
is ``priority_grace`` or three times the feed's recent fetch latency, whichever is
longer, and ten times ``priority_grace`` before a feed's first delivery (a broker's
first receive can be slow).

When a subscription fails (``BrokerUnavailableError``, or anything unexpected), its
feed drops the deliveries it buffered (they are no longer ours; the broker redelivers
them), bumps its generation so running jobs from the old subscription are never settled
on the new one, and re-subscribes with exponential backoff and jitter, forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from brokerjobs.backend import Backend, Delivery, Subscription
from brokerjobs.errors import BrokerUnavailableError, DeliveryLostError

log = logging.getLogger("brokerjobs.worker")

STOP_GRACE = 5.0
"""Seconds a feed gets to end after its subscription was stopped (then it is cancelled)."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Backoff between re-subscription attempts: ``base * 2**n`` up to ``cap``, with jitter."""

    base: float = 0.2
    cap: float = 30.0
    jitter: float = 0.5

    def delay(self, failures: int) -> float:
        raw = min(self.cap, self.base * 2.0 ** min(failures - 1, 30))
        return raw * (1.0 - self.jitter * random.random())


@dataclass(eq=False)
class Feed:
    """One queue's subscription and buffer."""

    queue: str
    index: int
    buffer: deque[Delivery] = field(default_factory=deque)
    subscription: Subscription | None = None
    generation: int = 0
    waiting_since: float | None = None
    latency: float = 0.0
    """Moving average of how long fetches that returned quickly took (seconds)."""
    delivered: int = 0
    """When the current fetch started (monotonic); None while not fetching."""
    task: asyncio.Task[None] | None = None
    room: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the buffer has space again."""
    losses: int = 0
    """Subscriptions of this queue that failed (each one requeued what it held)."""


class Intake:
    """The worker's supply of deliveries."""

    def __init__(
        self,
        backend: Backend,
        queues: Sequence[str],
        *,
        buffer_size: int,
        backend_prefetch: int,
        on_change: Callable[[], None],
        reconnect: Reconnect | None = None,
        priority_grace: float = 0.05,
    ) -> None:
        self._backend = backend
        self.feeds = [Feed(queue, index) for index, queue in enumerate(queues)]
        self._buffer_size = buffer_size
        self._backend_prefetch = backend_prefetch
        self._on_change = on_change
        self._reconnect = reconnect or Reconnect()
        self._grace = priority_grace
        self._stopping = False
        self._stopped = asyncio.Event()

    def start(self) -> None:
        for feed in self.feeds:
            feed.task = asyncio.create_task(self._pump(feed), name=f"brokerjobs-feed-{feed.queue}")

    def buffered(self) -> list[Delivery]:
        return [delivery for feed in self.feeds for delivery in feed.buffer]

    def is_current(self, feed: Feed, generation: int) -> bool:
        """Whether a delivery taken at ``generation`` still belongs to the live subscription."""
        return feed.generation == generation

    def take(self) -> tuple[Delivery, Feed, int] | float | None:
        """The next delivery to start, honouring strict priority.

        Returns ``(delivery, feed, generation)``; or seconds to wait before asking again
        (an earlier queue's fetch is still young); or None when nothing is buffered.
        """
        now = time.monotonic()
        for feed in self.feeds:
            if feed.buffer and feed.subscription is not None and feed.subscription.closed:
                # Fetched on a connection that died since: never start those. The pump
                # notices the loss on its next fetch and re-subscribes.
                log.warning(
                    "queue %r: not starting %d buffered deliveries of a closed subscription "
                    "(the broker redelivers them)",
                    feed.queue,
                    len(feed.buffer),
                )
                feed.buffer.clear()
                feed.room.set()
            if feed.buffer:
                delivery = feed.buffer.popleft()
                feed.room.set()
                return delivery, feed, feed.generation
            since = now if feed.waiting_since is None else feed.waiting_since
            grace = self._grace_of(feed)
            young = now - since < grace
            if young and any(later.buffer for later in self.feeds[feed.index + 1 :]):
                return max(0.001, grace - (now - since))
        return None

    def _grace_of(self, feed: Feed) -> float:
        if not feed.delivered:
            return 10 * self._grace
        return max(self._grace, 3 * feed.latency)

    def drop(self, delivery: Delivery) -> bool:
        """Forget a buffered delivery (its lease was lost); True if it was buffered."""
        for feed in self.feeds:
            if delivery in feed.buffer:
                feed.buffer.remove(delivery)
                feed.room.set()
                return True
        return False

    async def _pump(self, feed: Feed) -> None:
        failures = 0
        while not self._stopping:
            try:
                if feed.subscription is None:
                    feed.waiting_since = time.monotonic()
                    subscription = await self._backend.consume(
                        [feed.queue], prefetch=self._backend_prefetch
                    )
                    if self._stopping:
                        await _stop_quietly(subscription)
                        return
                    feed.subscription = subscription
                    if failures:
                        log.info("re-subscribed to queue %r", feed.queue)
                await self._fill(feed)
                failures = 0
            except StopAsyncIteration:
                return
            except Exception as exc:
                if self._stopping:
                    return
                failures += 1
                delay = self._reconnect.delay(failures)
                if feed.subscription is not None:
                    feed.losses += 1
                    _count_loss(self._backend.name, feed.queue, exc)
                self._lose_subscription(feed)
                level = (
                    logging.WARNING if isinstance(exc, BrokerUnavailableError) else logging.ERROR
                )
                log.log(
                    level,
                    "queue %r: subscription failed (%s: %s); reconnecting in %.1f s (attempt %d)",
                    feed.queue,
                    type(exc).__name__,
                    exc,
                    delay,
                    failures,
                    exc_info=level == logging.ERROR,
                )
                feed.waiting_since = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), delay)

    async def _fill(self, feed: Feed) -> None:
        assert feed.subscription is not None
        while not self._stopping:
            while len(feed.buffer) >= self._buffer_size and not self._stopping:
                feed.room.clear()
                await feed.room.wait()
            if self._stopping:
                return
            feed.waiting_since = started = time.monotonic()
            delivery = await anext(feed.subscription)
            feed.waiting_since = None
            took = time.monotonic() - started
            if took < 1.0:  # longer: the queue was empty, not the broker slow
                feed.latency = took if not feed.delivered else 0.8 * feed.latency + 0.2 * took
            feed.delivered += 1
            feed.buffer.append(delivery)
            self._on_change()

    def _lose_subscription(self, feed: Feed) -> None:
        if feed.buffer:
            log.warning(
                "queue %r: dropping %d buffered deliveries of the lost subscription "
                "(the broker redelivers them)",
                feed.queue,
                len(feed.buffer),
            )
        feed.buffer.clear()
        feed.generation += 1
        feed.delivered = 0
        old, feed.subscription = feed.subscription, None
        if old is not None:
            asyncio.get_running_loop().create_task(_stop_quietly(old))

    async def stop(self) -> None:
        """Stop fetching, stop the subscriptions, and give buffered deliveries back."""
        self._stopping = True
        self._stopped.set()
        for feed in self.feeds:
            feed.room.set()
        # Stop the subscriptions first: a pending fetch then ends (StopAsyncIteration)
        # without relying on cancellation, which asyncio.wait_for in a backend can swallow.
        for feed in self.feeds:
            if feed.subscription is not None:
                await _stop_quietly(feed.subscription)
        pumps = {feed.task for feed in self.feeds if feed.task is not None}
        if pumps:
            _, pending = await asyncio.wait(pumps, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                _, stuck = await asyncio.wait(pending, timeout=STOP_GRACE)
                if stuck:
                    log.warning("%d subscriptions did not stop; leaving them", len(stuck))
        released = 0
        for feed in self.feeds:
            while feed.buffer:
                delivery = feed.buffer.popleft()
                try:
                    await self._backend.release(delivery)
                    released += 1
                except DeliveryLostError:
                    pass  # already redelivered elsewhere
                except Exception:
                    log.exception(
                        "could not release %s; it is redelivered later", delivery.message_id
                    )
        if released:
            log.info("released %d fetched but unstarted deliveries", released)


def _count_loss(system: str, queue: str, error: Exception) -> None:
    """Count a lost subscription in ``brokerjobs.subscription.lost`` (see docs/observability.md).

    A storm of lost subscriptions looks like a silent slowdown from outside (each loss
    requeues what it held); the counter and the warning above make it visible. The
    OpenTelemetry API is imported here, on the first loss, to keep ``Worker`` light.
    """
    from opentelemetry import metrics

    global _loss_counter
    if _loss_counter is None:
        _loss_counter = metrics.get_meter("brokerjobs").create_counter(
            "brokerjobs.subscription.lost",
            unit="{subscription}",
            description="Subscriptions (channels, connections, polls) lost and reopened.",
        )
    _loss_counter.add(
        1,
        {
            "messaging.system": system,
            "messaging.destination.name": queue,
            "error.type": type(error).__name__,
        },
    )


_loss_counter: Any = None


async def _stop_quietly(subscription: Subscription) -> None:
    try:
        await subscription.stop()
    except Exception as exc:
        log.debug("stopping a subscription failed: %s", exc)
