"""RabbitMQ backend vs the raw clients on the same broker, in one run, as ratios.

    .venv/bin/python bench/rabbitmq_backend.py [--messages 20000] [--runs 3] [--queue-type quorum]
                                               [--concurrency 64]

Pairs (each side measured ``--runs`` times, median reported):

* raw pika sequential confirmed publish      vs ``RabbitMQBackend.publish_sync``
* raw aio-pika publish, 500-confirm window   vs ``RabbitMQBackend.publish_batch``
* raw aio-pika publish from 500 tasks        vs ``RabbitMQBackend.publish`` from 500 tasks
* raw aio-pika consume + ack (iterator)      vs ``Subscription`` + ``ack``
* raw aio-pika consume + ack (iterator)      vs a ``Worker`` (``--concurrency``, prefetch 256)
                                                running no-op ``async def run`` jobs, and
                                                again with plain ``def run`` jobs (threads)
                                                (see ``worker_drain.py``; duplicates shown)

Both sides publish to (and consume from) the same kind of queue, declared by the backend
(quorum by default), with ~100-byte persistent messages, mandatory and confirms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import pika
from brokerjobs_rabbitmq import RabbitMQBackend
from worker_drain import publish_and_drain

from brokerjobs.backend import OutgoingMessage

URL = "amqp://guest:guest@127.0.0.1:5672/"
BODY = b'{"v":1,"job":"bench.Noop","payload":{"user_id":42,"note":"' + b"x" * 40 + b'"},"a":1}'
WINDOW = 500
PREFETCH = 256


def messages(count: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(BODY, uuid.uuid4().hex) for _ in range(count)]


class Bench:
    def __init__(self, count: int, queue_type: str, concurrency: int = 64) -> None:
        self.count = count
        self.concurrency = concurrency
        self.duplicates: list[int] = []
        self.backend = RabbitMQBackend.from_options(
            url=URL, prefix=f"bench{uuid.uuid4().hex[:6]}.", queue_type=queue_type
        )
        self.queue = "work"
        self.work = self.backend.topology.names(self.queue).work

    async def drain(self) -> None:
        channel = await self.backend._channel("bench: purge")
        await channel.queue_purge(self.work)
        await channel.close()

    # -- publishing ------------------------------------------------------------------
    def raw_pika_sequential(self) -> float:
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        channel = connection.channel()
        channel.confirm_delivery()
        props = [
            pika.BasicProperties(delivery_mode=2, message_id=uuid.uuid4().hex)
            for _ in range(self.count)
        ]
        started = time.perf_counter()
        for prop in props:
            channel.basic_publish("", self.work, BODY, prop, mandatory=True)
        elapsed = time.perf_counter() - started
        connection.close()
        return self.count / elapsed

    def backend_publish_sync(self) -> float:
        batch = messages(self.count)
        self.backend.publish_sync(self.queue, batch[0])  # connection and declaration
        started = time.perf_counter()
        for message in batch[1:]:
            self.backend.publish_sync(self.queue, message)
        return (self.count - 1) / (time.perf_counter() - started)

    async def _raw_aio_pika(self, concurrent_tasks: bool) -> float:
        connection = await aio_pika.connect(URL)
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = channel.default_exchange
        payloads = [
            aio_pika.Message(
                BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=uuid.uuid4().hex
            )
            for _ in range(self.count)
        ]
        window = asyncio.Semaphore(WINDOW)

        async def windowed(message: aio_pika.Message) -> None:
            async with window:
                await exchange.publish(message, self.work, mandatory=True)

        async def task(share: list[aio_pika.Message]) -> None:
            for message in share:
                await exchange.publish(message, self.work, mandatory=True)

        started = time.perf_counter()
        if concurrent_tasks:
            shares = [payloads[i::WINDOW] for i in range(WINDOW)]
            await asyncio.gather(*(task(share) for share in shares))
        else:
            await asyncio.gather(*(windowed(message) for message in payloads))
        elapsed = time.perf_counter() - started
        await connection.close()
        return self.count / elapsed

    async def raw_aio_pika_windowed(self) -> float:
        return await self._raw_aio_pika(concurrent_tasks=False)

    async def raw_aio_pika_tasks(self) -> float:
        return await self._raw_aio_pika(concurrent_tasks=True)

    async def backend_publish_batch(self) -> float:
        batch = messages(self.count)
        await self.backend.publish(self.queue, messages(1)[0])  # connection and declaration
        started = time.perf_counter()
        await self.backend.publish_batch(self.queue, batch)
        return self.count / (time.perf_counter() - started)

    async def backend_publish_tasks(self) -> float:
        batch = messages(self.count)
        await self.backend.publish(self.queue, messages(1)[0])
        shares = [batch[i::WINDOW] for i in range(WINDOW)]

        async def task(share: list[OutgoingMessage]) -> None:
            for message in share:
                await self.backend.publish(self.queue, message)

        started = time.perf_counter()
        await asyncio.gather(*(task(share) for share in shares))
        return self.count / (time.perf_counter() - started)

    # -- consuming -------------------------------------------------------------------
    async def fill(self) -> None:
        await self.drain()
        await self.backend.publish_batch(self.queue, messages(self.count))

    async def raw_aio_pika_consume(self) -> float:
        await self.fill()
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.get_queue(self.work, ensure=False)
        received = 0
        started = time.perf_counter()
        async with queue.iterator() as iterator:
            async for message in iterator:
                await message.ack()
                received += 1
                if received == self.count:
                    break
        elapsed = time.perf_counter() - started
        await connection.close()
        return self.count / elapsed

    async def backend_consume(self) -> float:
        await self.fill()
        subscription = await self.backend.consume([self.queue], prefetch=PREFETCH)
        received = 0
        started = time.perf_counter()
        async for delivery in subscription:
            await self.backend.ack(delivery)
            received += 1
            if received == self.count:
                break
        elapsed = time.perf_counter() - started
        await subscription.stop()
        return self.count / elapsed

    async def worker_async(self) -> float:
        return await self._worker("async")

    async def worker_sync(self) -> float:
        return await self._worker("sync")

    async def _worker(self, kind: str) -> float:
        await self.drain()
        rate, duplicates = await publish_and_drain(
            self.backend,
            self.queue,
            kind,
            self.count,
            concurrency=self.concurrency,
            prefetch=PREFETCH,
        )
        self.duplicates.append(duplicates)
        return rate

    async def cleanup(self) -> None:
        from brokerjobs_rabbitmq.topology import delete_async

        channel = await self.backend._channel("bench: cleanup")
        await delete_async(channel, self.backend.topology.names(self.queue))
        await self.backend.aclose()
        self.backend.close()


Measure = Callable[[], Awaitable[float]]


async def interleaved(runs: int, raw: Measure, ours: Measure, bench: Bench) -> tuple[float, float]:
    """Median rates of both sides, alternating raw and ours so that load drifts hit both."""
    raw_rates: list[float] = []
    our_rates: list[float] = []
    for _ in range(runs):
        for measure, rates in ((raw, raw_rates), (ours, our_rates)):
            await bench.drain()
            rates.append(await measure())
    return statistics.median(raw_rates), statistics.median(our_rates)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queue-type", choices=["quorum", "classic"], default="quorum")
    parser.add_argument("--concurrency", type=int, default=64, help="of the worker pairs")
    parser.add_argument("--only", default="", help="run the pairs whose title contains this")
    args = parser.parse_args()
    bench = Bench(args.messages, args.queue_type, args.concurrency)
    await bench.backend.declare(bench.queue)

    def threaded(function: Callable[[], float]) -> Measure:
        return lambda: asyncio.to_thread(function)

    pairs = [
        (
            "sequential confirmed publish (sync)",
            threaded(bench.raw_pika_sequential),
            threaded(bench.backend_publish_sync),
            "raw pika",
            "publish_sync",
        ),
        (
            "windowed confirmed publish (500)",
            bench.raw_aio_pika_windowed,
            bench.backend_publish_batch,
            "raw aio-pika",
            "publish_batch",
        ),
        (
            "publish from 500 concurrent tasks",
            bench.raw_aio_pika_tasks,
            bench.backend_publish_tasks,
            "raw aio-pika",
            "publish",
        ),
        (
            f"consume + ack (prefetch {PREFETCH})",
            bench.raw_aio_pika_consume,
            bench.backend_consume,
            "raw aio-pika",
            "Subscription",
        ),
        (
            f"worker, async def jobs (concurrency {args.concurrency})",
            bench.raw_aio_pika_consume,
            bench.worker_async,
            "raw aio-pika",
            "Worker async",
        ),
        (
            f"worker, def jobs in threads (concurrency {args.concurrency})",
            bench.raw_aio_pika_consume,
            bench.worker_sync,
            "raw aio-pika",
            "Worker sync",
        ),
    ]
    print(
        f"{args.messages} messages of {len(BODY)} bytes, {args.queue_type} queue, "
        f"median of {args.runs}"
    )
    try:
        for title, raw, ours, raw_name, our_name in pairs:
            if args.only not in title:
                continue
            bench.duplicates.clear()
            raw_rate, our_rate = await interleaved(args.runs, raw, ours, bench)
            twice = f"   duplicate runs {sum(bench.duplicates)}" if bench.duplicates else ""
            print(
                f"{title:46} {raw_name:>13} {raw_rate:8.0f}/s   {our_name:>13} "
                f"{our_rate:8.0f}/s   ratio {our_rate / raw_rate:5.2f}{twice}"
            )
    finally:
        await bench.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
