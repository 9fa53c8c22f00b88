"""A scheduler's ticks: one PRODUCER span each, the lateness histogram, and /healthz."""

from __future__ import annotations

import time
from datetime import datetime

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from brokerjobs import Job, JobContext
from brokerjobs.clock import FakeClock
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.schedules import InProcessClaimer, Schedule, Scheduler
from brokerjobs.schedules.running import health_server
from brokerjobs.telemetry.health import HealthServer
from tests.faults.rabbit_node import free_port
from tests.observability.conftest import named, points


class Tick(Job, name="tests.observability.Tick", queue="obs-ticks"):
    def run(self, ctx: JobContext) -> None:
        return None


async def test_each_tick_is_a_producer_span_and_a_lateness_point(
    spans: InMemorySpanExporter, reader: InMemoryMetricReader
) -> None:
    backend = MemoryBackend(MemoryStore())
    clock = FakeClock(datetime.fromisoformat("2026-06-01T12:00:00+00:00").timestamp())
    every_10s = Schedule("obs-ten", Tick(), every=10)
    scheduler = Scheduler(backend, [every_10s], claimer=InProcessClaimer(backend), clock=clock)
    await scheduler.run_once()
    for _ in range(3):
        clock.advance(12)  # each tick dispatched 2, 4 and 6 s late
        await scheduler.run_once()
    sent = named(spans, "send obs-ticks")
    assert [span.kind for span in sent] == [SpanKind.PRODUCER] * 3
    assert [(span.attributes or {}).get("messaging.message.id") for span in sent] == [
        "obs-ten@2026-06-01T12:00:10Z",
        "obs-ten@2026-06-01T12:00:20Z",
        "obs-ten@2026-06-01T12:00:30Z",
    ]
    [lateness] = points(reader, "brokerjobs.schedule.tick.lateness", {"schedule": "obs-ten"})
    assert lateness.count == 3
    assert lateness.sum == 2 + 4 + 6
    dispatched = {"schedule": "obs-ten", "outcome": "dispatched"}
    assert sum(p.value for p in points(reader, "brokerjobs.schedule.ticks", dispatched)) == 3


def test_healthz_fails_when_the_tick_loop_stalls() -> None:
    backend = MemoryBackend(MemoryStore())
    scheduler = Scheduler(
        backend, [Schedule("obs-stall", Tick(), every=1)], claimer=InProcessClaimer(backend)
    )
    server = health_server(scheduler, free_port(), max_stall=5).start()
    try:
        assert_stall_and_errors_fail(server, scheduler)
    finally:
        server.stop()


def assert_stall_and_errors_fail(server: HealthServer, scheduler: Scheduler) -> None:
    healthy, details = server.check()
    assert healthy, details
    scheduler.last_pass = time.monotonic() - 6  # no pass for 6 s
    healthy, details = server.check()
    assert not healthy and details["loop_stalled_seconds"] >= 6
    scheduler.last_pass = time.monotonic()
    scheduler.last_error = "BrokerUnavailableError: down"
    healthy, details = server.check()
    assert not healthy and details["connected"] is False
