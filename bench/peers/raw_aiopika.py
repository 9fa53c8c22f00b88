"""Baseline: a hand-written aio-pika loop, no framework.

Producer: persistent messages on a channel with publisher confirms; ``seq`` awaits each
confirm before the next publish, ``window`` publishes 500 and awaits their confirms
together (the windowed publish of the RabbitMQ issue's targets). Worker: ``queue.consume``
with a prefetch window and one ``ack`` per message.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from bench.peers import driver, probe
from bench.peers.payload import raw_body, raw_sent_at

WINDOW = 500


async def _connect() -> tuple[AbstractConnection, AbstractChannel, str]:
    connection = await aio_pika.connect(driver.env("AMQP_URL"))
    channel = await connection.channel(publisher_confirms=True)
    queue = driver.env("QUEUE")
    await channel.declare_queue(queue, durable=True, arguments=driver.queue_arguments())
    return connection, channel, queue


class RawAioPikaProducer:
    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {
            "seq": self.seq,
            "window": self.window,
            "fill": self.window,
        }

    async def start(self) -> None:
        self.connection, self.channel, self.queue = await _connect()

    async def _publish(self, body: bytes) -> None:
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await self.channel.default_exchange.publish(message, self.queue, mandatory=True)

    async def one(self, size: int, sent_at: float) -> None:
        await self._publish(raw_body(size, sent_at))

    async def seq(self, count: int, size: int) -> None:
        body = raw_body(size)
        for _ in range(count):
            await self._publish(body)

    async def window(self, count: int, size: int) -> None:
        body = raw_body(size)
        for chunk in driver.chunks(count, WINDOW):
            await asyncio.gather(*(self._publish(body) for _ in range(chunk)))

    async def stop(self) -> None:
        await self.connection.close()


async def worker() -> None:
    """Consume and ack forever (the harness kills the process)."""
    _, channel, queue_name = await _connect()
    await channel.set_qos(prefetch_count=int(driver.env("PREFETCH", "256")))
    queue = await channel.get_queue(queue_name)

    async def on_message(message: AbstractIncomingMessage) -> None:
        probe.hit(raw_sent_at(message.body))
        await message.ack()

    await queue.consume(on_message)
    await asyncio.Future()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        asyncio.run(worker())
    else:
        driver.main(RawAioPikaProducer)
