# mypy: disable-error-code="import-not-found", allow-untyped-decorators
# (the peers live in bench/.venv-peers, not in the venv mypy checks with)
"""Taskiq with taskiq-aio-pika, configured for throughput.

The broker prefetches ``qos=256`` messages; the worker runs ``taskiq worker
bench.peers.taskiq_peer:broker --workers 1 --max-async-tasks 256``, the task is
``async def`` (Taskiq's native kind). taskiq-aio-pika ≥ 0.6 declares quorum queues by
default; we keep that. Publishing goes through aio-pika channels with publisher confirms
(aio-pika's default), so ``kiq()`` returns once the broker confirmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from taskiq_aio_pika import AioPikaBroker
from taskiq_aio_pika.exchange import Exchange
from taskiq_aio_pika.queue import Queue

from bench.peers import driver, probe
from bench.peers.payload import pad

QUEUE = driver.env("QUEUE", "bench")
QOS = 256
WINDOW = 500

broker = AioPikaBroker(
    url=driver.env("AMQP_URL", "amqp://127.0.0.1//"),
    qos=QOS,
    exchange=Exchange(name=QUEUE),
    task_queues=[Queue(name=QUEUE)],
    dead_letter_queue=Queue(name=f"{QUEUE}.dead_letter"),
)


@broker.task(task_name="bench.noop")
async def noop(sent_at: float, padding: str) -> None:
    probe.hit(sent_at)


class TaskiqProducer:
    """``await kiq()`` one at a time, or 500 concurrently (``window``)."""

    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {
            "seq": self.seq,
            "window": self.window,
            "fill": self.window,
        }

    async def start(self) -> None:
        await broker.startup()

    async def one(self, size: int, sent_at: float) -> None:
        await noop.kiq(sent_at, pad(size))

    async def seq(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count):
            await noop.kiq(0.0, padding)

    async def window(self, count: int, size: int) -> None:
        padding = pad(size)
        for chunk in driver.chunks(count, WINDOW):
            await asyncio.gather(*(noop.kiq(0.0, padding) for _ in range(chunk)))

    async def stop(self) -> None:
        await broker.shutdown()


if __name__ == "__main__":
    driver.main(TaskiqProducer)
