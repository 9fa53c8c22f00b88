"""brokerjobs itself, on any installed backend, run from the project's venv.

Producer modes: ``seq`` is ``brokerjobs.dispatch()`` one job at a time (sync, confirmed);
``async500`` is ``dispatch_async()`` from 500 concurrent tasks; ``many`` is one
``dispatch_many()`` call. The worker (``python -m bench.peers.brokerjobs_peer worker``)
is ``brokerjobs.worker.Worker`` with ``BENCH_CONCURRENCY`` and ``BENCH_PREFETCH``; the
harness starts one such process per worker process measured. ``BENCH_JOB_KIND`` (set by
the System) picks the job the producer dispatches: ``async`` (default, ``async def run``)
or ``sync`` (a plain ``def run``, which the worker runs in its thread pool). Workers
register both, so the same consume command runs either.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping

import brokerjobs
from bench.peers import driver, probe
from bench.peers.payload import pad
from brokerjobs import Job, JobContext
from brokerjobs.backend import Backend
from brokerjobs.discovery import backend_class
from brokerjobs.worker import Worker

TASKS = 500


class BenchNoop(Job, name="bench.noop"):
    """The no-op job: records its start, nothing else."""

    sent_at: float
    padding: str

    async def run(self, ctx: JobContext) -> None:
        probe.hit(self.sent_at)


class BenchNoopSync(Job, name="bench.noop_sync"):
    """The same no-op as a plain ``def run``: the worker hands it to a thread."""

    sent_at: float
    padding: str

    def run(self, ctx: JobContext) -> None:
        probe.hit(self.sent_at)


JOB_KINDS: dict[str, type[BenchNoop] | type[BenchNoopSync]] = {
    "async": BenchNoop,
    "sync": BenchNoopSync,
}


def job_type() -> type[BenchNoop] | type[BenchNoopSync]:
    """The job class named by ``BENCH_JOB_KIND`` (``async`` unless set)."""
    kind = driver.env("JOB_KIND", "async")
    if kind not in JOB_KINDS:
        raise SystemExit(f"BENCH_JOB_KIND must be one of {sorted(JOB_KINDS)}, got {kind!r}")
    return JOB_KINDS[kind]


def make_backend() -> Backend:
    """The backend named by ``BENCH_BACKEND`` with ``BENCH_BACKEND_OPTIONS`` (JSON)."""
    options = json.loads(driver.env("BACKEND_OPTIONS", "{}"))
    return backend_class(driver.env("BACKEND")).from_options(**options)


class BrokerJobsProducer:
    def __init__(self) -> None:
        self.modes: Mapping[str, driver.SendMode] = {
            "seq": self.seq,
            "async500": self.concurrent,
            "many": self.many,
            "fill": self.many,
        }
        self.queue = driver.env("QUEUE")
        self.job = job_type()

    def start(self) -> None:
        self.backend = make_backend()

    def one(self, size: int, sent_at: float) -> None:
        job = self.job(sent_at=sent_at, padding=pad(size))
        brokerjobs.dispatch(job, backend=self.backend, queue=self.queue)

    def seq(self, count: int, size: int) -> None:
        padding = pad(size)
        for _ in range(count):
            job = self.job(sent_at=0.0, padding=padding)
            brokerjobs.dispatch(job, backend=self.backend, queue=self.queue)

    async def concurrent(self, count: int, size: int) -> None:
        padding = pad(size)

        async def dispatcher(jobs: int) -> None:
            for _ in range(jobs):
                job = self.job(sent_at=0.0, padding=padding)
                await brokerjobs.dispatch_async(job, backend=self.backend, queue=self.queue)

        shares = [count // TASKS + (1 if i < count % TASKS else 0) for i in range(TASKS)]
        await asyncio.gather(*(dispatcher(share) for share in shares if share))

    def many(self, count: int, size: int) -> None:
        padding = pad(size)
        jobs = [self.job(sent_at=0.0, padding=padding) for _ in range(count)]
        brokerjobs.dispatch_many(jobs, backend=self.backend, queue=self.queue)

    async def stop(self) -> None:
        self.backend.close()
        await self.backend.aclose()


async def worker() -> None:
    """Run a worker on ``BENCH_QUEUE`` until killed."""
    runner = Worker(
        make_backend(),
        [driver.env("QUEUE")],
        concurrency=int(driver.env("CONCURRENCY", "64")),
        prefetch=int(driver.env("PREFETCH", "256")),
    )
    await runner.run()


if __name__ == "__main__":
    if sys.argv[1:] == ["worker"]:
        asyncio.run(worker())
    else:
        driver.main(BrokerJobsProducer)
