"""Queue and exchange names, queue arguments, and the binary delay levels.

For a queue ``Q`` and prefix ``P`` (default ``brokerjobs.``) the backend declares:

* ``P Q``            the work queue (quorum by default), dead-lettering into ``P Q.dead``;
* ``P Q.dead``       the dead-letter queue (classic: listing requeues without limits);
* ``P Q.delay.NN``   topic exchanges, one per delay level ``NN`` = 00 .. K-1;
* ``P Q.wait.NN``    wait queues (quorum by default) with a fixed TTL of ``unit × 2^NN``.

A delay of ``n`` units (``n = ceil(delay / unit)``) is written in binary in the routing
key, most significant bit first, one word per level (``"0.1.1"`` = 3 units with K = 3).
The message enters at the exchange of its highest set bit. Exchange ``NN`` routes it into
wait queue ``NN`` when bit ``NN`` is 1, else straight on to exchange ``NN-1``; each wait
queue dead-letters (on expiry) into the exchange below it, keeping the routing key, and
level 0 ends in the work queue. Every wait queue holds messages of one TTL only, so
expiry order is arrival order: no head-of-line blocking, and the total wait is exactly
``n × unit ≥ delay`` (never early), at most ``K`` hops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import aiormq
import aiormq.abc

from brokerjobs.errors import PublishRejectedError

from .settings import RabbitMQSettings


@dataclass(frozen=True, slots=True)
class QueueNames:
    """Broker names of everything behind one brokerjobs queue."""

    work: str
    dead: str
    waits: tuple[str, ...]
    levels: tuple[str, ...]

    @property
    def all_queues(self) -> tuple[str, ...]:
        return (self.work, self.dead, *self.waits)


@dataclass(frozen=True, slots=True)
class Route:
    """Where to publish a message: exchange and routing key."""

    exchange: str
    routing_key: str


class Topology:
    """Names, arguments and routes derived from the settings."""

    def __init__(self, settings: RabbitMQSettings) -> None:
        self.settings = settings
        self.levels = settings.delay_levels
        self.unit_ms = round(settings.delay_unit * 1000)
        self._names: dict[str, QueueNames] = {}
        if self.unit_ms < 1:
            raise ValueError("delay_unit must be at least 1 ms")

    def names(self, queue: str) -> QueueNames:
        names = self._names.get(queue)
        if names is None:
            names = self._names[queue] = self._make_names(queue)
        return names

    def _make_names(self, queue: str) -> QueueNames:
        base = f"{self.settings.prefix}{queue}"
        if len(base.encode()) > 240:
            raise ValueError(f"queue name {queue!r} is too long for RabbitMQ (255 bytes)")
        return QueueNames(
            work=base,
            dead=f"{base}.dead",
            waits=tuple(f"{base}.wait.{level:02d}" for level in range(self.levels)),
            levels=tuple(f"{base}.delay.{level:02d}" for level in range(self.levels)),
        )

    def units(self, delay: float) -> int:
        """The delay in whole units, rounded up so that a message is never early."""
        if delay <= 0:
            return 0
        return math.ceil(round(delay * 1000, 3) / self.unit_ms)

    def route(self, queue: str, delay: float) -> Route:
        """The exchange and routing key that deliver to ``queue`` after ``delay`` seconds."""
        names = self.names(queue)
        units = self.units(delay)
        if units == 0:
            return Route("", names.work)
        if units >= 1 << self.levels:
            raise PublishRejectedError(
                f"delay of {delay:.0f} s is longer than the configured max_delay "
                f"({self.settings.max_delay:.0f} s); raise BROKERJOBS_RABBITMQ_MAX_DELAY"
            )
        bits = ".".join(
            "1" if units >> level & 1 else "0" for level in reversed(range(self.levels))
        )
        return Route(names.levels[units.bit_length() - 1], bits)

    def _pattern(self, level: int, bit: str) -> str:
        words = ["*"] * self.levels
        words[self.levels - 1 - level] = bit
        return ".".join(words)

    def work_arguments(self, names: QueueNames) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": self.settings.queue_type,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": names.dead,
        }
        if self.settings.queue_type == "quorum":
            arguments["x-delivery-limit"] = self.settings.delivery_limit
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        if self.settings.queue_consumer_timeout is not None:
            arguments["x-consumer-timeout"] = round(self.settings.queue_consumer_timeout * 1000)
        return arguments

    def wait_arguments(self, names: QueueNames, level: int) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": self.settings.wait_queue_type,
            "x-message-ttl": self.unit_ms << level,
        }
        if self.settings.wait_queue_type == "quorum":
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
        if level == 0:
            arguments["x-dead-letter-exchange"] = ""
            arguments["x-dead-letter-routing-key"] = names.work
        else:
            arguments["x-dead-letter-exchange"] = names.levels[level - 1]
        return arguments

    def declarations(self, queue: str) -> list[Declaration]:
        """Everything to declare for ``queue``, in order; idempotent while settings stay put."""
        names = self.names(queue)
        ops: list[Declaration] = [
            DeclareQueue(names.dead, {"x-queue-type": "classic"}),
            DeclareQueue(names.work, self.work_arguments(names)),
        ]
        for level in range(self.levels):
            ops.append(DeclareExchange(names.levels[level]))
            ops.append(DeclareQueue(names.waits[level], self.wait_arguments(names, level)))
        for level in range(self.levels):
            exchange = names.levels[level]
            ops.append(BindQueue(names.waits[level], exchange, self._pattern(level, "1")))
            if level == 0:
                ops.append(BindQueue(names.work, exchange, self._pattern(level, "0")))
            else:
                below = names.levels[level - 1]
                ops.append(BindExchange(below, exchange, self._pattern(level, "0")))
        return ops


@dataclass(frozen=True, slots=True)
class DeclareQueue:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeclareExchange:
    name: str


@dataclass(frozen=True, slots=True)
class BindQueue:
    queue: str
    exchange: str
    routing_key: str


@dataclass(frozen=True, slots=True)
class BindExchange:
    destination: str
    source: str
    routing_key: str


Declaration = DeclareQueue | DeclareExchange | BindQueue | BindExchange


async def apply_async(channel: aiormq.abc.AbstractChannel, ops: list[Declaration]) -> None:
    """Run ``ops`` on an aiormq channel."""
    for op in ops:
        match op:
            case DeclareQueue(name, arguments):
                await channel.queue_declare(name, durable=True, arguments=arguments)
            case DeclareExchange(name):
                await channel.exchange_declare(name, exchange_type="topic", durable=True)
            case BindQueue(queue, exchange, key):
                await channel.queue_bind(queue, exchange, key)
            case BindExchange(destination, source, key):
                await channel.exchange_bind(destination, source, key)


def apply_sync(channel: Any, ops: list[Declaration]) -> None:
    """Run ``ops`` on a pika ``BlockingChannel``."""
    for op in ops:
        match op:
            case DeclareQueue(name, arguments):
                channel.queue_declare(name, durable=True, arguments=arguments)
            case DeclareExchange(name):
                channel.exchange_declare(name, "topic", durable=True)
            case BindQueue(queue, exchange, key):
                channel.queue_bind(queue, exchange, key)
            case BindExchange(destination, source, key):
                channel.exchange_bind(destination, source, key)


async def delete_async(channel: aiormq.abc.AbstractChannel, names: QueueNames) -> None:
    """Delete every queue and exchange behind one brokerjobs queue (messages included)."""
    for name in names.all_queues:
        await channel.queue_delete(name)
    for exchange in names.levels:
        await channel.exchange_delete(exchange)


def declared_arguments_error(queue: str, detail: str) -> str:
    """An explanation for a PRECONDITION_FAILED on re-declaration."""
    return (
        f"queue {queue!r} already exists with different arguments ({detail}); "
        "it was declared with other settings (queue_type, wait_queue_type, delivery_limit, "
        "delay_unit, max_delay or queue_consumer_timeout). Use the same settings, or delete "
        "the queue and its .dead/.wait.NN queues and .delay.NN exchanges (messages included)"
    )
