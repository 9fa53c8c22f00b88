"""The harness's own view of the broker named by ``--amqp-url``: consumer counts, cleanup.

Cleanup goes through AMQP on that same broker: the runner remembers every queue name it
hands a system (:meth:`RabbitProbe.remember`), and :meth:`RabbitProbe.sweep` deletes
those names plus what each system derives from them (:func:`derived_names`). Nothing is
listed on the broker, so no ``rabbitmqctl`` (which only reaches the local node) is needed,
and a remote broker is cleaned as well as the local one. Deleting a name that does not
exist is harmless: the broker answers delete-ok, or closes the channel, which is reopened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import pika
import pika.exceptions
from brokerjobs_rabbitmq.settings import RabbitMQSettings
from brokerjobs_rabbitmq.topology import Topology
from pika.adapters.blocking_connection import BlockingChannel


def derived_names(module: str, queue: str) -> tuple[list[str], list[str]]:
    """Queues and exchanges that the system in ``bench.peers.<module>`` creates for ``queue``.

    brokerjobs: its topology (work, ``.dead`` and ``.wait.NN`` queues, ``.delay.NN``
    exchanges, with the prefix and delay levels of the settings in the environment);
    Dramatiq: the queue and its ``.DQ`` (delay) and ``.XQ`` (dead) queues; Celery and
    Taskiq: a queue and an exchange of that name (Taskiq also its ``.dead_letter`` and
    ``.delay`` queues); the raw clients: the queue alone.
    """
    if module == "brokerjobs_peer":
        names = Topology(RabbitMQSettings()).names(queue)
        return list(names.all_queues), list(names.levels)
    if module == "dramatiq_peer":
        return [queue, f"{queue}.DQ", f"{queue}.XQ"], []
    if module == "celery_peer":
        return [queue], [queue]
    if module == "taskiq_peer":
        return [queue, f"{queue}.dead_letter", f"{queue}.delay"], [queue]
    return [queue], []


class RabbitProbe:
    """A small pika connection the harness uses between measurements (never during them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._created: dict[str, str] = {}
        """Queue name → module of the system it was given to, until swept."""

    def remember(self, module: str, queue: str) -> None:
        """Note that the system in ``bench.peers.<module>`` is about to use ``queue``."""
        self._created[queue] = module

    def _open(self) -> BlockingChannel:
        if self._connection is None or self._connection.is_closed:
            self._connection = pika.BlockingConnection(pika.URLParameters(self.url))
            self._channel = None
        if self._channel is None or self._channel.is_closed:
            self._channel = self._connection.channel()
        return self._channel

    def consumers(self, queue: str) -> int:
        """Consumers on ``queue`` (0 if it does not exist yet)."""
        try:
            return int(self._open().queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = None
            return 0

    def sweep(self) -> int:
        """Delete every remembered queue and what its system derived from it.

        Returns how many queue and exchange names were deleted (or already absent).
        """
        deleted = 0
        for queue, module in list(self._created.items()):
            queues, exchanges = derived_names(module, queue)
            deleted += self._delete(queues, exchanges)
            del self._created[queue]
        return deleted

    def _delete(self, queues: Iterable[str], exchanges: Iterable[str]) -> int:
        done = 0
        for kind, names in (("queue", queues), ("exchange", exchanges)):
            for name in names:
                channel = self._open()
                try:
                    if kind == "queue":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
                    done += 1
                except pika.exceptions.ChannelClosedByBroker:
                    self._channel = None  # e.g. NOT_FOUND on an older broker: nothing to do
        return done

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()
