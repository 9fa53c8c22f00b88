"""Consuming: one channel per subscription, manual acks, a prefetch window, local buffers.

Deliveries land in one buffer per queue (in the priority order the caller listed) and
``__anext__`` hands out the first non-empty one. Waiting is an ``asyncio.Event``, so a
cancelled ``__anext__`` takes nothing out of a buffer: nothing is lost.

Ownership: a :class:`Receipt` is tied to the channel that received it. Once that channel
is closed (connection lost, consumer timeout, server-side cancel) the broker requeues the
message, and settling it raises :class:`~brokerjobs.errors.DeliveryLostError`; a delivery
tag is never acked on another channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiormq.abc
from pamqp.commands import Basic

from brokerjobs.backend import Delivery, Subscription
from brokerjobs.errors import BrokerJobsError, BrokerUnavailableError

from .acks import AckCoalescer
from .headers import attempt

log = logging.getLogger(__name__)

CLOSE_GRACE = 2.0
"""Seconds a stopped subscription's channel stays open for deliveries that crossed the cancel."""

RETURN_WAIT = 0.5
"""Seconds stop() waits for copies this subscription has just released to come back to it."""

Releaser = Callable[[list[Delivery]], Awaitable[None]]


@dataclass(slots=True, eq=False)
class Receipt:
    """What the backend needs to settle one delivery."""

    subscription: RabbitMQSubscription
    channel: aiormq.abc.AbstractChannel
    delivery_tag: int
    headers: dict[str, Any] | None
    settled: bool = field(default=False)
    received: float = field(default_factory=time.monotonic)
    """When it arrived (``time.monotonic``): the broker's consumer timeout counts from here."""

    @property
    def owned(self) -> bool:
        return not self.settled and not self.channel.is_closed and self.subscription.lost is None


class RabbitMQSubscription(Subscription):
    """An open consumer on one or more queues (see the module docstring)."""

    def __init__(
        self,
        channel: aiormq.abc.AbstractChannel,
        queues: Sequence[tuple[str, str]],
        release: Releaser,
    ) -> None:
        self._channel = channel
        self._queues = list(queues)
        self._release = release
        self._buffers: list[deque[Delivery]] = [deque() for _ in self._queues]
        self._wakeup = asyncio.Event()
        self._consumer_tags: list[str] = []
        self._stopped = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._returning: set[str] = set()
        self._returned = asyncio.Event()
        self._acks = AckCoalescer(channel)
        self.lost: BrokerJobsError | None = None
        self.unsettled: dict[str, int] = {queue: 0 for queue, _ in self._queues}
        """Deliveries received and not settled yet, per queue (buffered ones included)."""

    async def start(self, prefetch: int) -> None:
        channel = self._channel
        channel.closing.add_done_callback(self._on_channel_closed)
        channel.on_consumer_cancel_callbacks.add(self._on_server_cancel)
        # Per-consumer prefetch: quorum queues refuse the channel-wide (global) form.
        await channel.basic_qos(prefetch_count=prefetch)
        self._acks.window(prefetch)
        for index, (_queue, broker_name) in enumerate(self._queues):
            ok = await channel.basic_consume(broker_name, self._receiver(index))
            if ok.consumer_tag is not None:
                self._consumer_tags.append(ok.consumer_tag)

    def _receiver(
        self, index: int
    ) -> Callable[[aiormq.abc.DeliveredMessage], Coroutine[Any, Any, None]]:
        queue = self._queues[index][0]
        buffer = self._buffers[index]
        channel = self._channel

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            # The Basic.Deliver frame's own fields: aiormq's properties for them type-check
            # the frame on every access.
            frame: Basic.Deliver = message.delivery  # type: ignore[assignment]
            props: Basic.Properties = message.header.properties
            headers = props.headers
            tag = frame.delivery_tag or 0
            receipt = Receipt(self, channel, tag, headers)
            self._acks.delivered(tag)
            number = attempt(headers, frame.redelivered)
            delivery = Delivery(queue, message.body, props.message_id or "", number, receipt)
            self.unsettled[queue] += 1
            if self._returning:
                self._returning.discard(delivery.message_id)
                if not self._returning:
                    self._returned.set()
            if self._stopped:
                # Arrived after stop(): nobody will read the buffer any more.
                await self._release_quietly([delivery])
                return
            buffer.append(delivery)
            self._wakeup.set()

        return on_message

    @property
    def closed(self) -> bool:
        return self.lost is not None or self._channel.is_closed

    async def __anext__(self) -> Delivery:
        while True:
            if self.lost is not None:
                raise self.lost
            if self._stopped:
                raise StopAsyncIteration
            for buffer in self._buffers:
                if buffer:
                    return buffer.popleft()
            self._wakeup.clear()
            await self._wakeup.wait()

    def settled(self, delivery: Delivery) -> None:
        """Book-keeping once ``delivery`` was acked or handed back."""
        receipt: Receipt = delivery.receipt
        receipt.settled = True
        if self.unsettled[delivery.queue] > 0:
            self.unsettled[delivery.queue] -= 1
        if self._stopped:
            self._close_when_idle()

    def ack(self, receipt: Receipt) -> None:
        """Ack ``receipt``'s delivery; coalesced with others and sent soon (see acks.py)."""
        self._acks.ack(receipt.delivery_tag)

    def nacked(self, receipt: Receipt) -> None:
        """``receipt``'s delivery was handed back with a ``basic.nack`` just written."""
        self._acks.nacked(receipt.delivery_tag)

    def expect_return(self, message_id: str) -> None:
        """A copy of ``message_id`` was just released into one of our queues."""
        if not self._stopped:
            self._returning.add(message_id)
            self._returned.clear()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._acks.flush()  # acks of finished jobs go out before anything is handed back
        if self._returning and self.lost is None:
            # A copy released a moment ago may be on its way to us. If basic.cancel crosses
            # it, a quorum queue (RabbitMQ < 4.3) counts a failed delivery (attempt + 1).
            # Let it arrive first; it is then released again, uncounted.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RETURN_WAIT):
                    await self._returned.wait()
        self._returning.clear()
        self._stopped = True
        self._wakeup.set()
        if self.lost is not None or self._channel.is_closed:
            return
        try:
            async with asyncio.timeout(5):
                for tag in self._consumer_tags:
                    consumers: dict[str, Any] = getattr(self._channel, "consumers", {})
                    callback = consumers.get(tag)
                    await self._channel.basic_cancel(tag)
                    if callback is not None:
                        # aiormq drops deliveries for unknown tags, leaving them unacked.
                        consumers[tag] = callback
        except Exception as exc:
            log.warning("could not cancel the consumer cleanly: %s", exc)
        # Deliveries already read off the socket run as tasks; let them reach the buffers.
        await asyncio.sleep(0)
        buffered = [delivery for buffer in self._buffers for delivery in buffer]
        for buffer in self._buffers:
            buffer.clear()
        await self._release_quietly(buffered)
        self._close_when_idle()

    def abandon(self) -> None:
        """Stop handing out deliveries without releasing them (the connection is closing)."""
        self._acks.flush()
        self._stopped = True
        for buffer in self._buffers:
            buffer.clear()
        self._wakeup.set()

    async def _release_quietly(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        try:
            await self._release(deliveries)
        except BrokerJobsError as exc:
            # The broker will requeue them when the channel closes: nothing is lost.
            log.warning("could not release %d buffered deliveries: %s", len(deliveries), exc)
            self._close_channel()

    def _close_when_idle(self) -> None:
        """Close the channel once nothing is unsettled, after a grace period.

        RabbitMQ may still push a delivery that crossed our ``basic.cancel``; closing at
        once would requeue it *as a redelivery* (attempt + 1). During the grace period
        such a straggler reaches the (re-registered) callback and is released properly.
        """
        if self._close_timer is not None or any(self.unsettled.values()):
            return

        def close_if_idle() -> None:
            self._close_timer = None
            if any(self.unsettled.values()):
                return
            self._close_channel()

        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(CLOSE_GRACE, close_if_idle)

    def _close_channel(self) -> None:
        self._acks.flush()
        if not self._channel.is_closed:
            task = asyncio.get_running_loop().create_task(self._drain_and_close())
            task.add_done_callback(_ignore_result)

    async def _drain_and_close(self) -> None:
        await self.drained()
        await self._channel.close()

    async def drained(self) -> None:
        """Wait until every ack decided so far was handed to the connection (see acks.py)."""
        await self._acks.drained()

    def _fail(self, error: BrokerJobsError) -> None:
        if self.lost is None:
            self.lost = error
        for buffer in self._buffers:
            buffer.clear()
        for queue in self.unsettled:
            self.unsettled[queue] = 0
        self._wakeup.set()

    def _on_channel_closed(self, future: asyncio.Future[Any]) -> None:
        if self._stopped and self.lost is None:
            for queue in self.unsettled:
                self.unsettled[queue] = 0
            return
        reason = (
            "closed"
            if future.cancelled() or future.exception() is None
            else (f"closed: {type(future.exception()).__name__}: {future.exception()}")
        )
        self._fail(
            BrokerUnavailableError(
                f"the consuming channel was {reason}; the broker requeues every unsettled "
                "delivery of this subscription; open a new subscription"
            )
        )

    def _on_server_cancel(self, frame: Any) -> None:
        self._fail(
            BrokerUnavailableError(
                "RabbitMQ cancelled the consumer (queue deleted or moved); "
                "declare the queue and open a new subscription"
            )
        )
        self._close_channel()


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
