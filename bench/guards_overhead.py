"""What the guards cost per job, on the in-memory backend and store, with no-op async jobs.

    .venv/bin/python bench/guards_overhead.py [--jobs 5000] [--runs 5]

Modes, each drained ``--runs`` times by one worker (concurrency 10); the median is reported
as µs per job and as a ratio to ``bare`` measured in the same run:

* ``bare``: the worker without the guard middleware (the path before guards existed).
* ``layer``: the guard middleware installed, the job has no guard (what every job pays).
* ``idempotent``: ``idempotency_key_by`` (claim, mark done before the ack).
* ``concurrency``: ``concurrency_limit`` high enough never to defer (take and give a slot).
* ``rate``: ``rate_limit`` high enough never to defer (one window count).

The memory store does no I/O: on SQL, Redis or DynamoDB each store call adds a round trip
(1 to 3 per job), which dwarfs these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import brokerjobs
from brokerjobs import Job, JobContext
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.worker import processing


class Plain(Job, name="bench.guards.plain", queue="bench-guards"):
    n: int

    async def run(self, ctx: JobContext) -> None:
        return None


class Keyed(Plain, name="bench.guards.keyed", idempotency_key_by=("n",)):
    pass


class Slotted(Plain, name="bench.guards.slotted", concurrency_limit=1000):
    pass


class Rated(Plain, name="bench.guards.rated", rate_limit=(10**9, 60.0)):
    pass


MODES: dict[str, type[Plain]] = {
    "bare": Plain, "layer": Plain, "idempotent": Keyed, "concurrency": Slotted, "rate": Rated
}  # fmt: skip


async def drain(cls: type[Plain], jobs: int, *, guard_layer: bool) -> float:
    backend = MemoryBackend(MemoryStore(), lease=3600)
    await brokerjobs.dispatch_many_async([cls(n=i) for i in range(jobs)], backend=backend)
    original = processing.Processor.__init__
    if not guard_layer:

        def without_guards(self: Any, *args: Any) -> None:
            args = (*args[:4], [m for m in args[4] if not hasattr(m, "_backlog")], *args[5:])
            original(self, *args)

        processing.Processor.__init__ = without_guards  # type: ignore[method-assign]
    try:
        worker = brokerjobs.Worker(backend, ["bench-guards"], concurrency=10, stop_when_idle=True)
        started = time.perf_counter()
        await worker.run()
        return time.perf_counter() - started
    finally:
        processing.Processor.__init__ = original  # type: ignore[method-assign]


async def main(jobs: int, runs: int) -> None:
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _ in range(runs):  # interleaved, so machine load hits every mode alike
        for mode, cls in MODES.items():
            times[mode].append(await drain(cls, jobs, guard_layer=mode != "bare"))
    base = statistics.median(times["bare"])
    for mode, measured in times.items():
        median = statistics.median(measured)
        print(f"{mode:12s} {median / jobs * 1e6:8.1f} µs/job   x{median / base:.2f} of bare")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.jobs, options.runs))
