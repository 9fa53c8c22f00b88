"""Cost of tracing + metrics per job, in µs, on the in-memory backend with no-op jobs.

    .venv/bin/python bench/telemetry_overhead.py [--jobs 5000] [--runs 5]

Each mode runs in its own process (OpenTelemetry's global providers can be set only
once), ``--runs`` times; the median is reported:

* ``bare``: no SDK, worker without the telemetry middleware (dispatch still opens its
  no-op PRODUCER span: that code path is always there).
* ``api``: no SDK, telemetry middleware installed: what every user without an SDK pays.
* ``sdk``: SDK tracer provider (always-on sampler, BatchSpanProcessor into an exporter
  that drops spans) and meter provider (a reader that is never collected), middleware
  installed: the real cost of producing the spans and metrics, minus the network.

Two measurements per mode:

* isolated: the telemetry code alone, per job: ``producer`` is what dispatch adds (the
  PRODUCER span, context injection, send metrics), ``consumer`` what the middleware adds
  around a job (CONSUMER span, log context, metrics), measured against the same loop
  without the middleware. This is the figure to quote: it does not move with broker or
  scheduler noise.
* end to end: ``dispatch_async`` per job, then the worker draining them (concurrency 10,
  async no-op job), divided by the number of jobs.

A calibration line (a tiny dict operation) is printed so figures from a loaded machine
can be scaled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("bare", "api", "sdk")


def _install_sdk() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class DropSpans(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


async def _isolated(mode: str, count: int) -> dict[str, float]:
    from brokerjobs import Job, JobContext
    from brokerjobs.backend import Delivery
    from brokerjobs.envelope import Envelope, encode, utcnow
    from brokerjobs.telemetry import describe_send, outgoing_headers, producer_span
    from brokerjobs.telemetry.consumer import Telemetry
    from brokerjobs.worker.hooks import JobEvent

    class Noop(Job, name="bench.isolated_noop"):
        n: int

        async def run(self, ctx: JobContext) -> None:
            return None

    with producer_span():
        headers = outgoing_headers()
    envelope = Envelope(
        id="0" * 32,
        job=Noop.job_name,
        queue="bench",
        payload={"n": 1},
        max_attempts=3,
        created_at=utcnow(),
        headers=headers,
    )
    body, job = encode(envelope), Noop(n=1)
    started = time.perf_counter()
    for _ in range(count):
        with producer_span() as send:
            outgoing_headers()
            describe_send(send, [envelope], body, backend="memory")
    producer = time.perf_counter() - started

    async def settle(event: JobEvent) -> None:
        event.outcome, event.duration = "ack", 0.0

    def event() -> JobEvent:
        return JobEvent(Delivery("bench", body, envelope.id, 1, None), envelope, job)

    telemetry = Telemetry("memory")
    started = time.perf_counter()
    for _ in range(count):
        each = event()
        await telemetry.middleware(each, lambda each=each: settle(each))  # type: ignore[misc]
    wrapped = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        each = event()
        await settle(each)
    plain = time.perf_counter() - started
    return {
        "producer_us": producer / count * 1e6,
        "consumer_us": (wrapped - plain) / count * 1e6,
    }


def _calibration_ns() -> float:
    import timeit

    loops = 200_000
    return min(timeit.repeat("d = {}; d['a'] = 1", number=loops, repeat=5)) / loops * 1e9


async def _measure(mode: str, jobs: int) -> dict[str, float]:
    from brokerjobs import Job, JobContext, dispatch_async
    from brokerjobs.memory import MemoryBackend
    from brokerjobs.telemetry.consumer import Telemetry
    from brokerjobs.worker import Worker

    class Noop(Job, name="bench.noop"):
        n: int

        async def run(self, ctx: JobContext) -> None:
            return None

    backend = MemoryBackend()
    queue = "bench"
    await backend.declare(queue)
    started = time.perf_counter()
    for n in range(jobs):
        await dispatch_async(Noop(n=n), backend=backend, queue=queue)
    dispatched = time.perf_counter()
    worker = Worker(backend, [queue], concurrency=10, stop_when_idle=True)
    if mode != "bare":
        Telemetry(backend.name).install(worker)
    await worker.run()
    consumed = time.perf_counter()
    assert (await backend.stats(queue)).ready == 0
    return {
        "dispatch_us": (dispatched - started) / jobs * 1e6,
        "consume_us": (consumed - dispatched) / jobs * 1e6,
    }


def _child(mode: str, jobs: int) -> None:
    import logging

    logging.disable(logging.INFO)
    if mode == "sdk":
        _install_sdk()
    result = asyncio.run(_measure(mode, jobs))
    if mode != "bare":
        result.update(asyncio.run(_isolated(mode, jobs * 4)))
    print(json.dumps(result))


def _run(mode: str, jobs: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--jobs", str(jobs)]
    output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=MODES)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.jobs)
        return
    medians: dict[str, dict[str, float]] = {}
    for mode in MODES:
        runs = [_run(mode, args.jobs) for _ in range(args.runs)]
        medians[mode] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"{mode}: done", file=sys.stderr)
    print(f"calibration: {_calibration_ns():.0f} ns per `d = {{}}; d['a'] = 1`")
    print(f"median of {args.runs} runs, µs per job")
    print("isolated telemetry cost:")
    print(f"{'mode':6} {'producer':>9} {'consumer':>9} {'total':>9}")
    for mode in ("api", "sdk"):
        values = medians[mode]
        producer, consumer = values["producer_us"], values["consumer_us"]
        print(f"{mode:6} {producer:9.1f} {consumer:9.1f} {producer + consumer:9.1f}")
    print(f"end to end ({args.jobs} no-op jobs on the memory backend):")
    print(f"{'mode':6} {'dispatch':>9} {'consume':>9} {'total':>9} {'vs bare':>9}")
    bare = medians["bare"]["dispatch_us"] + medians["bare"]["consume_us"]
    for mode, values in medians.items():
        total = values["dispatch_us"] + values["consume_us"]
        print(
            f"{mode:6} {values['dispatch_us']:9.1f} {values['consume_us']:9.1f} "
            f"{total:9.1f} {total - bare:+9.1f}"
        )


if __name__ == "__main__":
    main()
