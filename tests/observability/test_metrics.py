"""Metric values after a known workload are exact, on every backend."""

from __future__ import annotations

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from brokerjobs import dispatch_async
from brokerjobs.backend import Backend
from brokerjobs.telemetry.semconv import DURATION_BUCKETS
from tests.observability import jobs
from tests.observability.conftest import instrumented, points, running, total
from tests.support.harness import eventually


async def test_known_workload_gives_exact_metrics(
    reader: InMemoryMetricReader, backend: Backend, queue: str
) -> None:
    for note in ("a", "b", "c"):
        await dispatch_async(jobs.Traced(note=note), backend=backend, queue=queue)
    await dispatch_async(jobs.FailOnce(), backend=backend, queue=queue)
    await dispatch_async(jobs.AlwaysFail(), backend=backend, queue=queue)
    here = {"messaging.destination.name": queue}

    async def all_attempts_ended() -> bool:
        return total(reader, "messaging.process.duration", here) >= 7

    worker = instrumented(backend, [queue])  # alive below: its in-flight gauge goes with it
    async with running(worker):
        await eventually(all_attempts_ended, timeout=30)

    def attempts(outcome: str, **more: str) -> float:
        wanted = {**here, "brokerjobs.job.outcome": outcome, **more}
        return total(reader, "messaging.process.duration", wanted)

    # 3 + 1 (fail-once succeeds on attempt 2) successes; attempts 1 of fail-once and
    # always-fail retried; always-fail's attempt 2 dead-lettered.
    assert attempts("success") == 4
    assert attempts("retry") == 2
    assert attempts("retry", **{"error.type": "ConnectionError"}) == 1
    assert attempts("dead_letter", **{"error.type": "ValueError"}) == 1
    assert total(reader, "messaging.client.consumed.messages", here) == 7
    assert total(reader, "messaging.client.sent.messages", here) == 5
    assert total(reader, "messaging.process.duration", here) == 7
    assert total(reader, "brokerjobs.job.duration", here) == 7
    assert total(reader, "brokerjobs.job.queue_wait", here) == 5  # first attempts only
    [in_flight] = points(
        reader, "brokerjobs.job.in_flight", {**here, "brokerjobs.job.name": "bjobs.traced"}
    )
    assert in_flight.value == 0

    [success] = points(
        reader,
        "messaging.process.duration",
        {**here, "brokerjobs.job.name": "bjobs.traced", "brokerjobs.job.outcome": "success"},
    )
    assert success.count == 3
    assert tuple(success.explicit_bounds) == DURATION_BUCKETS
    assert set(success.attributes) == {
        "messaging.system",
        "messaging.operation.name",
        "messaging.destination.name",
        "brokerjobs.job.name",
        "brokerjobs.job.outcome",
    }
