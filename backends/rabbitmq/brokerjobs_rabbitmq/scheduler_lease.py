"""A scheduler leader lease and tick journal on RabbitMQ (``brokerjobs.schedules``).

For scheduler group ``G`` and prefix ``P``:

* ``P scheduler.G.leader`` — an *exclusive* queue: RabbitMQ lets one connection at a
  time declare it (others get ``RESOURCE_LOCKED``) and deletes it when that connection
  closes, a killed process included (the kernel closes its socket). Holding it is the
  lease.
* ``P scheduler.G.S`` — a fanout exchange per schedule ``S``, bound to the work queue of
  the schedule's jobs and to ``P scheduler.G.S.last``, a classic queue holding one
  message (``x-max-length: 1``, drop-head): the latest tick's message. One publish to the
  exchange is one broker operation: the job and its journal entry both exist, or neither.

The leader publishes on the lease's own connection: once that connection is gone (and
with it the lease) nothing can be published by it, so two leaders never publish.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import aiormq
import aiormq.abc
from pamqp.commands import Basic

from brokerjobs.backend import OutgoingMessage
from brokerjobs.errors import BrokerJobsError, BrokerUnavailableError

from . import headers as hdr
from .connection import AsyncConnector
from .settings import RabbitMQSettings
from .topology import Topology
from .translate import translate


class RabbitMQSchedulerLease:
    """The :class:`brokerjobs.schedules.SchedulerLease` of one scheduler group."""

    def __init__(
        self,
        settings: RabbitMQSettings,
        topology: Topology,
        declare: Callable[[str], Awaitable[None]],
        group: str,
    ) -> None:
        self._settings = settings
        self._topology = topology
        self._declare_work = declare
        self._connector = AsyncConnector(settings)
        self._base = f"{settings.prefix}scheduler.{group}"
        self.lease_queue = f"{self._base}.leader"
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._leading = False
        self._term = 0
        self._bound: set[tuple[str, str]] = set()

    def journal_queue(self, journal: str) -> str:
        return f"{self._base}.{journal}.last"

    def _exchange(self, journal: str) -> str:
        return f"{self._base}.{journal}"

    @property
    def held(self) -> bool:
        channel, connection = self._channel, self._connection
        return (
            self._leading
            and channel is not None
            and not channel.is_closed
            and connection is not None
            and not connection.is_closed
        )

    @property
    def term(self) -> int:
        return self._term

    async def _open(self) -> aiormq.abc.AbstractChannel:
        """The lease connection's confirm channel, (re)opened as needed."""
        if self._connection is None or self._connection.is_closed:
            self._leading = False
            self._bound.clear()
            self._connection = await self._connector.connect("scheduler-lease")
            self._channel = None
        if self._channel is None or self._channel.is_closed:
            try:
                self._channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
            except Exception as exc:
                raise translate(exc, self._settings, "open the scheduler channel") from None
        return self._channel

    async def acquire(self) -> bool:
        if self.held:
            return True
        channel = await self._open()
        try:
            await channel.queue_declare(self.lease_queue, exclusive=True, auto_delete=True)
        except aiormq.exceptions.ChannelLockedResource:
            return False  # another scheduler holds it; the channel is closed, reopened later
        except Exception as exc:
            raise translate(exc, self._settings, "take the scheduler lease") from None
        self._leading = True
        self._term += 1
        return True

    async def _journal(self, channel: aiormq.abc.AbstractChannel, journal: str) -> str:
        name = self.journal_queue(journal)
        await channel.queue_declare(
            name,
            durable=True,
            arguments={"x-queue-type": "classic", "x-max-length": 1, "x-overflow": "drop-head"},
        )
        return name

    async def latest(self, journal: str) -> str | None:
        try:
            channel = await self._open()
            name = await self._journal(channel, journal)
            message = await channel.basic_get(name, no_ack=False)
            tag = message.delivery_tag
            if not isinstance(message.delivery, Basic.GetOk) or tag is None:
                return None
            # Put it back: the journal keeps the latest tick for whoever leads next.
            await channel.basic_reject(tag, requeue=True)
            properties = message.header.properties
            return str(properties.message_id) if properties.message_id else None
        except BrokerJobsError:
            raise
        except Exception as exc:
            raise translate(exc, self._settings, f"read the tick journal {journal!r}") from None

    async def _bind(self, channel: aiormq.abc.AbstractChannel, queue: str, journal: str) -> str:
        exchange = self._exchange(journal)
        if (queue, journal) in self._bound:
            return exchange
        await self._declare_work(queue)
        await channel.exchange_declare(exchange, exchange_type="fanout", durable=True)
        await channel.queue_bind(await self._journal(channel, journal), exchange, "")
        await channel.queue_bind(self._topology.names(queue).work, exchange, "")
        self._bound.add((queue, journal))
        return exchange

    async def publish(self, queue: str, message: OutgoingMessage, journal: str) -> None:
        if not self.held or self._channel is None:
            raise BrokerUnavailableError("the scheduler lease is not held; nothing was published")
        channel = self._channel
        action = f"publish tick {message.message_id!r} to {queue!r}"
        try:
            exchange = await self._bind(channel, queue, journal)
            await channel.basic_publish(
                message.body,
                exchange=exchange,
                routing_key="",
                properties=hdr.properties(message.message_id),
                mandatory=True,
                timeout=self._settings.publish_timeout,
            )
        except Exception as exc:
            raise translate(exc, self._settings, action, queue=queue) from None

    async def aclose(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._leading = False
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()
