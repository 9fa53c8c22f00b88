"""Baseline: a hand-written pika loop (BlockingConnection), no framework.

Producer: persistent messages on a confirm-mode channel, one at a time (each publish
waits for its confirm), ``mandatory`` set. Worker: ``basic_consume`` with a prefetch
window and one ``basic_ack`` per message. ``python -m bench.peers.raw_pika worker`` runs
the worker; any other argument is a driver request (see :mod:`bench.peers.driver`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from bench.peers import driver, probe
from bench.peers.payload import raw_body, raw_sent_at

PERSISTENT = pika.BasicProperties(delivery_mode=2)


def _connect() -> tuple[pika.BlockingConnection, BlockingChannel, str]:
    connection = pika.BlockingConnection(pika.URLParameters(driver.env("AMQP_URL")))
    channel = connection.channel()
    queue = driver.env("QUEUE")
    channel.queue_declare(queue, durable=True, arguments=driver.queue_arguments())
    return connection, channel, queue


class RawPikaProducer:
    """Sequential confirmed publishing; ``fill`` uses a second channel without confirms."""

    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {"seq": self.seq, "fill": self.fill}

    def start(self) -> None:
        self.connection, self.channel, self.queue = _connect()
        self.channel.confirm_delivery()
        self.fast = self.connection.channel()

    def one(self, size: int, sent_at: float) -> None:
        self.channel.basic_publish(
            "", self.queue, raw_body(size, sent_at), PERSISTENT, mandatory=True
        )

    def seq(self, count: int, size: int) -> None:
        body = raw_body(size)
        for _ in range(count):
            self.channel.basic_publish("", self.queue, body, PERSISTENT, mandatory=True)

    def fill(self, count: int, size: int) -> None:
        body = raw_body(size)
        for _ in range(count - 1):
            self.fast.basic_publish("", self.queue, body, PERSISTENT)
        self.one(size, 0.0)  # confirmed after the others: once it is, they are all in

    def stop(self) -> None:
        self.connection.close()


def worker() -> None:
    """Consume and ack forever (the harness kills the process)."""
    _, channel, queue = _connect()
    channel.basic_qos(prefetch_count=int(driver.env("PREFETCH", "256")))

    def on_message(ch: BlockingChannel, method: Any, _props: Any, body: bytes) -> None:
        probe.hit(raw_sent_at(body))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(queue, on_message)
    channel.start_consuming()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        worker()
    else:
        driver.main(RawPikaProducer)
