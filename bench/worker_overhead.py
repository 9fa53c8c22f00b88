"""Worker overhead on the in-memory backend: no-op sync and async jobs, jobs/s and µs/job.

    .venv/bin/python bench/worker_overhead.py [--jobs 20000] [--concurrency 1,10]
                                              [--telemetry off|api|on|both|all]

CPU µs/job (the process's user + system time, worker threads included) is printed too:
it moves much less than wall time when other processes compete for the cores.

Each run publishes N no-op jobs to a fresh in-memory broker, then times a real
:class:`brokerjobs.Worker` from start until the queue is drained (decode, look-up,
validation, hooks, thread pool hand-off for sync jobs, ack). ``--telemetry on`` installs
the OpenTelemetry SDK (spans and metrics recorded, not exported) and the worker's
consumer telemetry (``brokerjobs.telemetry.consumer.Telemetry``: a CONSUMER span and
metrics per job). ``--telemetry api`` installs the consumer telemetry without an SDK, as
``brokerjobs consume`` runs when no ``OTEL_*`` exporter is configured. ``both`` is off
then on, ``all`` is off, api, on (the SDK, once installed, stays for the process).

``--cli-report`` adds the per-job line ``brokerjobs consume`` prints (to /dev/null),
``--cli-report quiet`` the hooks ``consume --quiet`` installs: what ``--quiet`` saves.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import time
import uuid

from brokerjobs import Job, JobContext
from brokerjobs.backend import OutgoingMessage
from brokerjobs.dispatch import prepare
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.worker import Worker


class NoopAsync(Job, name="bench.noop_async"):
    n: int

    async def run(self, ctx: JobContext) -> None:
        return None


class NoopSync(Job, name="bench.noop_sync"):
    n: int

    def run(self, ctx: JobContext) -> None:
        return None


def install_sdk() -> None:
    """The OpenTelemetry SDK with spans and metrics recorded but not exported."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())
    metrics.set_meter_provider(MeterProvider())


async def one_run(
    job_type: type[Job], jobs: int, concurrency: int, traced: bool, report: str | None = None
) -> tuple[float, float]:
    backend = MemoryBackend(MemoryStore())
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    messages: list[OutgoingMessage] = [
        prepare(job_type(n=i), backend, queue=queue).message  # type: ignore[call-arg]
        for i in range(jobs)
    ]
    await backend.publish_batch(queue, messages)
    hooks = None
    if report is not None:
        from brokerjobs.cli.output import reporter

        hooks = reporter("text", _DEVNULL, quiet=report == "quiet")
    worker = Worker(backend, [queue], concurrency=concurrency, stop_when_idle=True, hooks=hooks)
    if traced:
        from brokerjobs.telemetry.consumer import Telemetry

        Telemetry(backend.name).install(worker)
    started, cpu_started = time.perf_counter(), time.process_time()
    await worker.run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    stats = await backend.stats(queue)
    assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 0), stats
    return elapsed, cpu


async def raw_run(jobs: int, prefetch: int) -> float:
    """The baseline: the same jobs received and acked off a subscription, no worker."""
    backend = MemoryBackend(MemoryStore())
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    messages = [prepare(NoopAsync(n=i), backend, queue=queue).message for i in range(jobs)]
    await backend.publish_batch(queue, messages)
    started = time.perf_counter()
    subscription = await backend.consume([queue], prefetch=prefetch)
    for _ in range(jobs):
        await backend.ack(await anext(subscription))
    elapsed = time.perf_counter() - started
    await subscription.stop()
    return elapsed


_DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - the whole run writes to it

MODES = {  # (install the SDK, install the consumer telemetry)
    "off": [(False, False)],
    "api": [(False, True)],
    "on": [(True, True)],
    "both": [(False, False), (True, True)],
    "all": [(False, False), (False, True), (True, True)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", default="1,10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--telemetry", choices=list(MODES), default="off")
    parser.add_argument("--cli-report", choices=["lines", "quiet"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{args.jobs} no-op jobs per run, best of {args.repeat}")
    print(
        f"{'job':<6} {'conc':>4} {'telemetry':<10} {'jobs/s':>9} {'µs/job':>8} {'cpu µs/job':>10}"
    )
    for sdk, enabled in MODES[args.telemetry]:
        if sdk:
            install_sdk()
        label = "on" if sdk else "api" if enabled else "off"
        rates: dict[tuple[str, int], float] = {}
        for job_type, kind in ((NoopAsync, "async"), (NoopSync, "sync")):
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                times = [
                    asyncio.run(one_run(job_type, args.jobs, concurrency, enabled, args.cli_report))
                    for _ in range(args.repeat)
                ]
                best = min(wall for wall, _ in times)
                rates[(kind, concurrency)] = args.jobs / best
                best_cpu = min(cpu for _, cpu in times)
                print(
                    f"{kind:<6} {concurrency:>4} {label:<10} "
                    f"{args.jobs / best:>9.0f} {best / args.jobs * 1e6:>8.1f}"
                    f" {best_cpu / args.jobs * 1e6:>10.1f}"
                    f"   (median {statistics.median(w for w, _ in times) / args.jobs * 1e6:.1f} µs)"
                )
        for concurrency in sorted({c for _, c in rates}):
            # Ratios of the same run: to the raw subscription loop, and the thread hand-off
            # of a plain `def run` job against `async def run`.
            raw = args.jobs / min(
                asyncio.run(raw_run(args.jobs, concurrency)) for _ in range(args.repeat)
            )
            sync, async_ = rates[("sync", concurrency)], rates[("async", concurrency)]
            print(
                f"concurrency {concurrency}, telemetry {label}: raw Subscription+ack {raw:.0f}/s;"
                f" async ÷ raw {async_ / raw:.2f}, sync ÷ raw {sync / raw:.2f},"
                f" sync ÷ async {sync / async_:.2f}"
            )


if __name__ == "__main__":
    main()
