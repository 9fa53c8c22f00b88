"""Redis backend vs raw redis-py on the same server, in one run, as ratios.

    .venv/bin/python bench/redis_backend.py [--messages 10000] [--runs 3] [--url redis://...]

Pairs (each side measured ``--runs`` times, alternating, median reported):

* raw ``XADD`` one at a time (sync client)      vs ``dispatch()`` one at a time
  (and ``RedisBackend.publish_sync``, to show the core's share)
* raw pipelined ``XADD``, batches of 500         vs ``dispatch_many()`` in batches of 500
* raw ``XREADGROUP`` + ``XACK`` loop (asyncio)   vs a real :class:`brokerjobs.Worker`,
  1 process, no-op ``async def run`` jobs, and no-op ``def run`` jobs (thread pool)
  (and ``Subscription`` + ``ack``, the backend alone)

The raw side writes the same fields the backend writes (message id, the envelope the
core builds for the job, the attempt base), so both move the same bytes. Keys live under
a fresh prefix and are deleted at the end. Figures depend on the machine's load: quote
them as ratios, together with the load average printed at the top.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis
import redis.asyncio as aioredis
from brokerjobs_redis import RedisBackend

from brokerjobs import Job, JobContext, dispatch, dispatch_many
from brokerjobs.backend import OutgoingMessage
from brokerjobs.dispatch import prepare
from brokerjobs.worker import Worker

BATCH = 500
PREFETCH = 64
CONCURRENCY = 64


class NoopAsync(Job, name="bench.redis.noop_async"):
    n: int

    async def run(self, ctx: JobContext) -> None:
        return None


class NoopSync(Job, name="bench.redis.noop_sync"):
    n: int

    def run(self, ctx: JobContext) -> None:
        return None


class Bench:
    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.prefix = f"bench{uuid.uuid4().hex[:6]}:"
        self.backend = RedisBackend.from_options(
            url=url, prefix=self.prefix, warn_without_persistence=False
        )
        self.queue = "work"
        self.keys = self.backend.keys(self.queue)
        self.raw = redis.Redis.from_url(url)
        self.body = prepare(NoopAsync(n=1), self.backend, queue=self.queue).message.body

    def fields(self) -> dict[str, object]:
        return {"i": uuid.uuid4().hex, "b": self.body, "n": 0}

    def reset(self) -> None:
        self.raw.delete(*self.keys.all)
        self.raw.xgroup_create(self.keys.stream, "brokerjobs", id="0", mkstream=True)
        self.backend._declared.clear()

    # -- publishing ------------------------------------------------------------------
    def raw_xadd(self) -> float:
        entries = [self.fields() for _ in range(self.count)]
        started = time.perf_counter()
        for entry in entries:
            self.raw.xadd(self.keys.stream, entry)  # type: ignore[arg-type]
        return self.count / (time.perf_counter() - started)

    def publish_sync(self) -> float:
        batch = [OutgoingMessage(self.body, uuid.uuid4().hex) for _ in range(self.count)]
        started = time.perf_counter()
        for message in batch:
            self.backend.publish_sync(self.queue, message)
        return self.count / (time.perf_counter() - started)

    def dispatch_one(self) -> float:
        jobs = [NoopAsync(n=i) for i in range(self.count)]
        started = time.perf_counter()
        for job in jobs:
            dispatch(job, backend=self.backend, queue=self.queue)
        return self.count / (time.perf_counter() - started)

    def raw_pipeline(self) -> float:
        entries = [self.fields() for _ in range(self.count)]
        started = time.perf_counter()
        for start in range(0, self.count, BATCH):
            pipe = self.raw.pipeline(transaction=False)
            for entry in entries[start : start + BATCH]:
                pipe.xadd(self.keys.stream, entry)  # type: ignore[arg-type]
            pipe.execute()
        return self.count / (time.perf_counter() - started)

    def dispatch_batches(self) -> float:
        jobs = [NoopAsync(n=i) for i in range(self.count)]
        started = time.perf_counter()
        for start in range(0, self.count, BATCH):
            dispatch_many(jobs[start : start + BATCH], backend=self.backend, queue=self.queue)
        return self.count / (time.perf_counter() - started)

    # -- consuming -------------------------------------------------------------------
    def fill(self, job: type[NoopAsync] | type[NoopSync]) -> None:
        self.reset()
        messages = [
            prepare(job(n=i), self.backend, queue=self.queue).message for i in range(self.count)
        ]
        for start in range(0, self.count, BATCH):
            self.backend.publish_batch_sync(self.queue, messages[start : start + BATCH])

    async def raw_consume(self) -> float:
        self.fill(NoopAsync)
        client = aioredis.Redis.from_url(self.url)
        received = 0
        started = time.perf_counter()
        while received < self.count:
            reply: Any = await client.xreadgroup(
                "brokerjobs", "raw", {self.keys.stream: ">"}, count=PREFETCH, block=1000
            )
            for _, entries in reply:
                for entry_id, _fields in entries:
                    await client.xack(self.keys.stream, "brokerjobs", entry_id)
                    received += 1
        elapsed = time.perf_counter() - started
        await client.aclose()
        return self.count / elapsed

    async def subscription(self) -> float:
        self.fill(NoopAsync)
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

    async def _worker(self, job: type[NoopAsync] | type[NoopSync]) -> float:
        self.fill(job)
        worker = Worker(self.backend, [self.queue], concurrency=CONCURRENCY, stop_when_idle=True)
        started = time.perf_counter()
        await worker.run()
        elapsed = time.perf_counter() - started
        stats = await self.backend.stats(self.queue)
        assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 0), stats
        return self.count / elapsed

    async def worker_async(self) -> float:
        return await self._worker(NoopAsync)

    async def worker_sync(self) -> float:
        return await self._worker(NoopSync)

    async def cleanup(self) -> None:
        self.raw.delete(*self.keys.all)
        self.raw.close()
        await self.backend.aclose()
        self.backend.close()


Measure = Callable[[], Awaitable[float]]


async def interleaved(runs: int, measures: list[Measure], bench: Bench) -> list[float]:
    """Median rate of each measure, alternating them so that load drifts hit all."""
    rates: list[list[float]] = [[] for _ in measures]
    for _ in range(runs):
        for measure, found in zip(measures, rates, strict=True):
            bench.reset()
            found.append(await measure())
    return [statistics.median(found) for found in rates]


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--url", default=os.environ.get("BROKERJOBS_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench = Bench(args.url, args.messages)
    bench.reset()

    def threaded(function: Callable[[], float]) -> Measure:
        return lambda: asyncio.to_thread(function)

    groups: list[tuple[str, list[tuple[str, Measure]]]] = [
        (
            "publish one at a time (sync)",
            [
                ("raw XADD", threaded(bench.raw_xadd)),
                ("publish_sync", threaded(bench.publish_sync)),
                ("dispatch()", threaded(bench.dispatch_one)),
            ],
        ),
        (
            f"pipelined batches of {BATCH}",
            [
                ("raw pipeline", threaded(bench.raw_pipeline)),
                ("dispatch_many()", threaded(bench.dispatch_batches)),
            ],
        ),
        (
            f"consume + ack (prefetch {PREFETCH}, concurrency {CONCURRENCY})",
            [
                ("raw XREADGROUP+XACK", bench.raw_consume),
                ("Subscription+ack", bench.subscription),
                ("Worker, async jobs", bench.worker_async),
                ("Worker, sync jobs", bench.worker_sync),
            ],
        ),
    ]
    load = os.getloadavg()
    print(
        f"{args.messages} messages of {len(bench.body)} bytes, median of {args.runs}; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs"
    )
    try:
        for title, measures in groups:
            rates = await interleaved(args.runs, [m for _, m in measures], bench)
            baseline = rates[0]
            print(title)
            for (name, _), rate in zip(measures, rates, strict=True):
                print(f"  {name:24} {rate:9.0f}/s   ratio {rate / baseline:5.2f}")
    finally:
        await bench.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
