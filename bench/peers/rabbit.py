"""The harness's own view of the local RabbitMQ: consumer counts and cleanup.

Every queue and exchange a run creates has the run's token in its name, so cleanup
lists what exists (``rabbitmqctl``) and deletes only names holding that token.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel


class RabbitProbe:
    """A small pika connection the harness uses between measurements (never during them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

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

    def sweep(self, token: str) -> int:
        """Delete every queue and exchange whose name contains ``token``; return how many."""
        deleted = 0
        for kind in ("queues", "exchanges"):
            for name in _list(kind):
                if token not in name:
                    continue
                channel = self._open()
                try:
                    if kind == "queues":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
                    deleted += 1
                except pika.exceptions.ChannelClosedByBroker:
                    self._channel = None
        return deleted

    def close(self) -> None:
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError):
                self._connection.close()


def _list(kind: str) -> list[str]:
    tool = shutil.which("rabbitmqctl")
    if tool is None:
        return []
    done = subprocess.run(
        [tool, f"list_{kind}", "-q", "--no-table-headers", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]
