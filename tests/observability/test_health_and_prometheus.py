"""/healthz fails on a lost connection or a wedged loop; /metrics renders Prometheus text."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

from opentelemetry.sdk.metrics import MeterProvider

from brokerjobs import dispatch_async
from brokerjobs.backend import Backend
from brokerjobs.telemetry.consumer import Telemetry
from brokerjobs.telemetry.health import LoopWatchdog, serve_health
from brokerjobs.telemetry.prometheus import PrometheusReader
from brokerjobs.telemetry.queue_stats import QueueStatsGauges, stats_document
from brokerjobs.worker import Worker
from tests.observability import jobs
from tests.observability.conftest import running
from tests.support.harness import eventually


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_healthz_follows_the_connection_and_the_loop() -> None:
    up = {"value": True}
    watchdog = LoopWatchdog(interval=0.05)
    watchdog.start()
    server = serve_health(
        0, connected=lambda: up["value"], watchdog=watchdog, host="127.0.0.1", max_stall=0.5
    )
    try:
        status, body = await asyncio.to_thread(_get, server.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        up["value"] = False
        status, body = await asyncio.to_thread(_get, server.port, "/healthz")
        assert status == 503
        assert json.loads(body)["problems"] == ["broker connection lost"]
        assert (await asyncio.to_thread(_get, server.port, "/livez"))[0] == 200
        assert (await asyncio.to_thread(_get, server.port, "/readyz"))[0] == 503
        up["value"] = True

        seen: list[int] = []
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                seen.append(_get(server.port, "/healthz")[0])
                time.sleep(0.05)

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(1.2)  # noqa: ASYNC251 - wedging the event loop is what is tested
        await asyncio.sleep(0.2)  # the loop runs again; the watchdog ticks
        stop.set()
        await asyncio.to_thread(poller.join)
        assert 503 in seen
        status, body = await asyncio.to_thread(_get, server.port, "/healthz")
        assert status == 200, body
        assert (await asyncio.to_thread(_get, server.port, "/metrics"))[0] == 404
    finally:
        server.stop()
        await watchdog.stop()


async def test_metrics_endpoint_serves_worker_metrics_and_queue_gauges(
    backend: Backend, queue: str
) -> None:
    reader = PrometheusReader()
    provider = MeterProvider(metric_readers=[reader])
    gauges = QueueStatsGauges(backend, [queue], interval=0.1, meter_provider=provider)
    for note in ("a", "b", "c"):
        await dispatch_async(jobs.Traced(note=note), backend=backend, queue=queue)
    await dispatch_async(jobs.Traced(note="later"), backend=backend, queue=queue, delay=3600)
    [before] = await gauges.refresh()
    assert (before.ready, before.delayed, before.in_flight) == (3, 1, 0)
    assert stats_document([before], backend.name)["queues"][0]["ready"] == 3
    watchdog = LoopWatchdog(interval=0.05)
    watchdog.start()
    server = serve_health(
        0, connected=lambda: True, watchdog=watchdog, metrics=reader, host="127.0.0.1"
    )
    try:
        status, text = await asyncio.to_thread(_get, server.port, "/metrics")
        assert status == 200
        labels = f'messaging_destination_name="{queue}"'
        assert "# TYPE brokerjobs_queue_ready gauge" in text
        assert f"brokerjobs_queue_ready{{{labels}," in text
        assert _sample(text, "brokerjobs_queue_ready", labels) == 3
        assert _sample(text, "brokerjobs_queue_delayed", labels) == 1

        worker = Worker(backend, [queue], concurrency=2)
        Telemetry(backend.name, meter_provider=provider).install(worker)
        async with running(worker):

            async def drained() -> bool:
                return (await backend.stats(queue)).ready == 0 and not worker.running

            await eventually(drained, timeout=20)
            await eventually(lambda: _attempts(reader, queue, 3), timeout=10)
        await gauges.refresh()
        status, text = await asyncio.to_thread(_get, server.port, "/metrics")
        assert _sample(text, "brokerjobs_queue_ready", labels) == 0
        assert "# TYPE messaging_client_consumed_messages_total counter" in text
        assert "# TYPE messaging_process_duration_seconds histogram" in text
        assert "# TYPE brokerjobs_job_in_flight gauge" in text
        count = _sample(text, "messaging_process_duration_seconds_count", labels)
        inf = _sample(text, "messaging_process_duration_seconds_bucket", 'le="+Inf"')
        assert count == inf == 3
    finally:
        server.stop()
        await watchdog.stop()
        provider.shutdown()


async def _attempts(reader: PrometheusReader, queue: str, expected: int) -> bool:
    text = reader.render()
    return _sample(text, "messaging_process_duration_seconds_count", queue) == expected


def _sample(text: str, name: str, containing: str) -> float:
    """Sum of the samples of ``name`` whose label set contains ``containing``."""
    found = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and containing in line:
            found += float(line.rsplit(" ", 1)[1])
    return found
