"""A real :class:`brokerjobs.Worker` draining N queued no-op jobs, sync or async.

The backend benchmarks (``rabbitmq_backend.py``, ``sqs_backend.py``, ``sql_backend.py``)
report this end-to-end figure for both job kinds next to their raw consume loops: an
``async def run`` job runs on the event loop, a plain ``def run`` job in the worker's
thread pool (one hand-off there and back per job), which is what most Django and Flask
code dispatches. Each job records its own number, so duplicate runs are counted too.
"""

from __future__ import annotations

import asyncio
import threading
import time

from brokerjobs import Job, JobContext
from brokerjobs.backend import Backend
from brokerjobs.dispatch import prepare
from brokerjobs.worker import Worker

JOB_KINDS = ("async", "sync")


class Tally:
    """Job runs seen by this process; thread-safe (sync jobs run in worker threads)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.runs = 0
        self.seen: set[int] = set()
        self.last = 0.0
        self.done = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()

    def hit(self, number: int) -> None:
        with self._lock:
            self.runs += 1
            self.seen.add(number)
            self.last = time.perf_counter()
            finished = len(self.seen) == self.expected
        if finished:
            self._loop.call_soon_threadsafe(self.done.set)

    @property
    def duplicates(self) -> int:
        return self.runs - len(self.seen)


_tally: Tally | None = None


def _hit(number: int) -> None:
    assert _tally is not None, "a drain job ran outside drain()"
    _tally.hit(number)


class DrainAsync(Job, name="bench.drain_async"):
    n: int

    async def run(self, ctx: JobContext) -> None:
        _hit(self.n)


class DrainSync(Job, name="bench.drain_sync"):
    n: int

    def run(self, ctx: JobContext) -> None:
        _hit(self.n)


async def publish(backend: Backend, queue: str, kind: str, count: int) -> None:
    """Queue ``count`` no-op jobs of ``kind`` (``async`` or ``sync``) on ``queue``."""
    job = DrainAsync if kind == "async" else DrainSync
    messages = [prepare(job(n=i), backend, queue=queue).message for i in range(count)]
    for start in range(0, count, 1000):
        await backend.publish_batch(queue, messages[start : start + 1000])


async def drain(
    backend: Backend,
    queue: str,
    count: int,
    *,
    concurrency: int,
    prefetch: int,
    timeout: float = 300.0,
) -> tuple[float, int]:
    """Run a worker on ``queue`` (filled by :func:`publish`) until all ``count`` jobs ran.

    Returns jobs/s, from the worker's start to the last job's end, and duplicate runs.
    Raises ``TimeoutError`` naming how far it got when the jobs do not all run in time.
    """
    global _tally
    tally = _tally = Tally(count)
    worker = Worker(backend, [queue], concurrency=concurrency, prefetch=prefetch)
    started = time.perf_counter()
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(tally.done.wait(), timeout)
    except TimeoutError:
        raise TimeoutError(
            f"{len(tally.seen)}/{count} jobs ran in {timeout:.0f} s ({tally.duplicates} twice)"
        ) from None
    finally:
        worker.request_stop()
        await running
        _tally = None
    return count / (tally.last - started), tally.duplicates


async def publish_and_drain(
    backend: Backend, queue: str, kind: str, count: int, *, concurrency: int, prefetch: int
) -> tuple[float, int]:
    """:func:`publish` then :func:`drain`; only the drain is timed."""
    await publish(backend, queue, kind, count)
    return await drain(backend, queue, count, concurrency=concurrency, prefetch=prefetch)
