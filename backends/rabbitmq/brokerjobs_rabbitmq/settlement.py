"""Settling deliveries: ack, and the republish-then-ack moves (retry, dead-letter, release).

Every move publishes its copy with a confirm *before* acking the original on the channel
that delivered it: a crash in between duplicates the message, never loses it. A delivery
whose channel is gone is no longer ours: settling it raises DeliveryLostError.

The copy may wait for its confirm as long as the broker still lets us hold the original
(its consumer timeout), not just the publish timeout: under a memory alarm the copy can be
stuck in the socket, and giving up early would hand the original back *and* let the copy
arrive once the alarm clears — the job would run twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from brokerjobs.backend import Delivery
from brokerjobs.errors import DeliveryLostError

from . import headers as hdr
from .consumer import Receipt
from .publisher_async import AsyncPublisher, Outgoing
from .settings import RabbitMQSettings
from .topology import Route, Topology


class Settler:
    """The settlement half of the backend."""

    def __init__(
        self, settings: RabbitMQSettings, topology: Topology, publisher: AsyncPublisher
    ) -> None:
        self.settings = settings
        self.topology = topology
        self.publisher = publisher

    def _receipt(self, delivery: Delivery, action: str) -> Receipt:
        receipt = delivery.receipt
        if not isinstance(receipt, Receipt):
            raise TypeError(f"{action}: this delivery was not received by a RabbitMQ backend")
        if receipt.settled:
            raise DeliveryLostError(f"{action}: delivery {delivery.message_id} is already settled")
        if not receipt.owned:
            raise DeliveryLostError(
                f"{action}: the channel of delivery {delivery.message_id} is closed (connection "
                "lost or consumer timeout); RabbitMQ has requeued it for another consumer"
            )
        return receipt

    def _ack(self, delivery: Delivery, receipt: Receipt) -> None:
        receipt.subscription.ack(receipt)
        receipt.subscription.settled(delivery)

    async def ack(self, delivery: Delivery) -> None:
        receipt = self._receipt(delivery, "ack")  # owned, checked: nothing awaited since
        self._ack(delivery, receipt)

    async def _republish_then_ack(
        self, delivery: Delivery, route: Route, headers: dict[str, Any], action: str
    ) -> None:
        receipt = self._receipt(delivery, action)
        outgoing = Outgoing(route, delivery.body, hdr.properties(delivery.message_id, headers))
        held = time.monotonic() - receipt.received
        timeout = max(self.settings.publish_timeout, self.settings.max_lease - held)
        # Confirmed copy first, ack second: a crash in between duplicates, never loses.
        try:
            await self.publisher.publish(outgoing, f"{action} {delivery.message_id}", timeout)
        except Exception:
            # Hand the original back now rather than let the broker's consumer timeout
            # close the whole channel (and every other delivery on it) a moment later.
            await self._requeue(delivery, receipt)
            raise
        if not receipt.owned:  # the channel may have closed while the copy was confirmed
            raise DeliveryLostError(
                f"{action}: could not ack delivery {delivery.message_id} (its channel "
                "closed); RabbitMQ will deliver it again"
            )
        self._ack(delivery, receipt)

    async def _requeue(self, delivery: Delivery, receipt: Receipt) -> None:
        try:
            await receipt.channel.basic_nack(receipt.delivery_tag, requeue=True)
        except Exception:
            return  # the channel is gone: RabbitMQ requeues the message by itself
        receipt.subscription.nacked(receipt)
        receipt.subscription.settled(delivery)

    async def retry(self, delivery: Delivery, *, delay: float, reason: str) -> None:
        receipt = self._receipt(delivery, "retry")
        headers = hdr.with_attempt(receipt.headers, delivery.attempt + 1)
        route = self.topology.route(delivery.queue, delay)
        await self._republish_then_ack(delivery, route, headers, "retry")

    async def defer(self, delivery: Delivery, *, delay: float) -> None:
        receipt = self._receipt(delivery, "defer")
        # Through the delay machinery like a retry, but keeping the attempt number.
        headers = hdr.with_attempt(receipt.headers, delivery.attempt)
        route = self.topology.route(delivery.queue, delay)
        await self._republish_then_ack(delivery, route, headers, "defer")

    async def dead_letter(self, delivery: Delivery, *, reason: str) -> None:
        receipt = self._receipt(delivery, "dead-letter")
        headers = hdr.dead_letter_headers(
            receipt.headers, queue=delivery.queue, attempt_number=delivery.attempt, reason=reason
        )
        route = Route("", self.topology.names(delivery.queue).dead)
        await self._republish_then_ack(delivery, route, headers, "dead-letter")

    async def extend(self, delivery: Delivery, *, seconds: float) -> None:
        # RabbitMQ has no per-delivery lease to push back: a delivery stays owned until
        # the consumer timeout (max_lease), which the worker checks against job time limits.
        self._receipt(delivery, "extend")

    async def release(self, delivery: Delivery) -> None:
        receipt = self._receipt(delivery, "release")
        # Republished with the same attempt, since a requeue would count as a delivery
        # (x-delivery-count on quorum queues before 4.3, redelivered on classic queues).
        headers = hdr.with_attempt(receipt.headers, delivery.attempt)
        route = Route("", self.topology.names(delivery.queue).work)
        await self._republish_then_ack(delivery, route, headers, "release")
        receipt.subscription.expect_return(delivery.message_id)

    async def release_many(self, deliveries: list[Delivery]) -> None:
        results = await asyncio.gather(
            *(self.release(delivery) for delivery in deliveries), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
