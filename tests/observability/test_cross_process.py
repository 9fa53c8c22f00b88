"""One trace from dispatch (this process) to execution (a worker subprocess), per broker.

The worker is ``brokerjobs consume``; it exports spans with ``OTEL_TRACES_EXPORTER=console``
(one JSON object per line on stdout, redirected to a file) and serves ``/healthz`` and
``/metrics`` (``--metrics-port``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from brokerjobs import dispatch_async
from brokerjobs.backend import Backend
from tests.observability import jobs
from tests.observability.conftest import named
from tests.support.harness import BackendHarness, eventually
from tests.worker.processes import child_env

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exported_spans(path: Path) -> list[dict[str, Any]]:
    spans = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"context"' in line:
            spans.append(json.loads(line))
    return spans


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except (urllib.error.HTTPError, OSError) as error:
        code = error.code if isinstance(error, urllib.error.HTTPError) else 0
        return code, str(error)


def start_worker(
    env: dict[str, str], backend: str, queue: str, port: int, out: IO[bytes], err: IO[bytes]
) -> subprocess.Popen[bytes]:
    """``brokerjobs consume`` as a user runs it, JSON logs, health and metrics served."""
    command = [sys.executable, "-m", "brokerjobs.cli", "consume", "--backend", backend]
    command += ["--app", "tests.observability.jobs", "--queue", queue, "--log-format", "json"]
    command += ["--metrics-port", str(port)]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=err)


def start_command(
    env: dict[str, str], command: list[str], out: IO[bytes]
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)


def hex_id(value: int, width: int) -> str:
    return "0x" + format(value, f"0{width}x")


async def test_one_trace_across_the_process_boundary(
    spans: InMemorySpanExporter,
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
) -> None:
    env = child_env(harness)
    env.update(
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_SERVICE_NAME": "obs-test-worker",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
    )
    traced_id = await dispatch_async(jobs.Traced(note="xp"), backend=backend, queue=queue)
    flaky_id = await dispatch_async(jobs.FailOnce(), backend=backend, queue=queue)
    [send_traced] = [
        s
        for s in named(spans, f"send {queue}")
        if s.attributes["messaging.message.id"] == traced_id  # type: ignore[index]
    ]
    port = free_port()
    stdout, stderr = tmp_path / "spans.jsonl", tmp_path / "worker.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        child = start_worker(env, backend.name, queue, port, out, err)
        try:

            async def processed() -> bool:
                mine = [s for s in exported_spans(stdout) if s["name"] == f"process {queue}"]
                return len(mine) >= 3

            await eventually(processed, timeout=60, interval=0.2)

            async def healthy() -> bool:
                return http_get(port, "/healthz")[0] == 200

            await eventually(healthy, timeout=20)
            status, metrics_text = http_get(port, "/metrics")
            assert status == 200
            assert f'messaging_destination_name="{queue}"' in metrics_text
            assert "messaging_process_duration_seconds_count" in metrics_text
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(child.wait, 30)
    assert code == 0, stderr.read_text()

    exported = exported_spans(stdout)
    process = [s for s in exported if s["name"] == f"process {queue}"]
    [traced] = [s for s in process if s["attributes"]["messaging.message.id"] == traced_id]
    assert traced["kind"] == "SpanKind.CONSUMER"
    assert traced["context"]["trace_id"] == hex_id(send_traced.context.trace_id, 32)
    assert traced["parent_id"] == hex_id(send_traced.context.span_id, 16)
    assert traced["attributes"]["brokerjobs.job.outcome"] == "success"
    assert traced["resource"]["attributes"]["service.name"] == "obs-test-worker"
    [inner] = [s for s in exported if s["name"] == "inside async run"]
    assert inner["parent_id"] == traced["context"]["span_id"]

    first, second = sorted(
        (s for s in process if s["attributes"]["messaging.message.id"] == flaky_id),
        key=lambda s: s["attributes"]["brokerjobs.job.attempt"],
    )
    assert first["attributes"]["brokerjobs.job.outcome"] == "retry"
    assert first["status"]["status_code"] == "ERROR"
    assert second["attributes"]["brokerjobs.job.outcome"] == "success"
    assert first["parent_id"] == second["parent_id"]
    assert [link["context"]["span_id"] for link in second["links"]] == [
        first["parent_id"],
        first["context"]["span_id"],
    ]

    logs = [json.loads(line) for line in stderr.read_text().splitlines() if line.startswith("{")]
    [ran] = [entry for entry in logs if entry["message"] == "async job ran xp"]
    assert ran["message_id"] == traced_id
    assert ran["queue"] == queue
    assert "0x" + ran["trace_id"] == traced["context"]["trace_id"]


async def test_the_stats_exporter_serves_queue_depth_without_a_worker(
    harness: BackendHarness, backend: Backend, queue: str, tmp_path: Path
) -> None:
    env = child_env(harness)
    for note in ("a", "b"):
        await dispatch_async(jobs.Traced(note=note), backend=backend, queue=queue)
    port = free_port()
    command = [sys.executable, "-m", "brokerjobs.telemetry.exporter", "--backend", backend.name]
    command += ["--queue", queue, "--port", str(port), "--host", "127.0.0.1", "--interval", "0.5"]
    log = tmp_path / "exporter.log"
    with log.open("wb") as out:
        child = start_command(env, command, out)
        try:
            labels = f'messaging_destination_name="{queue}"'

            async def two_ready() -> bool:
                status, text = http_get(port, "/metrics")
                return (
                    status == 200
                    and f"brokerjobs_queue_ready{{{labels}" in text
                    and any(
                        line.startswith("brokerjobs_queue_ready{") and line.endswith(" 2")
                        for line in text.splitlines()
                        if labels in line
                    )
                )

            await eventually(two_ready, timeout=60, interval=0.2)
            assert http_get(port, "/healthz")[0] == 200
        finally:
            child.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(child.wait, 30)
    assert code == 0, log.read_text()
