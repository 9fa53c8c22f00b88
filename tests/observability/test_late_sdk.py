"""An SDK configured after the worker (and its telemetry) was built still gets spans.

The check for "is an SDK installed?" is cached per provider object; this proves the cache
follows a provider set later. It needs a process whose global provider was never set, so
it runs in a fresh interpreter (this one's provider is set by the conftest, once).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from brokerjobs import Job, JobContext, Worker, dispatch_async
    from brokerjobs.memory import MemoryBackend
    from brokerjobs.telemetry.consumer import Telemetry

    class Ping(Job, name="late.ping", queue="late"):
        n: int

        async def run(self, ctx: JobContext) -> None:
            return None

    async def drain(backend, telemetry):
        worker = Worker(backend, ["late"], stop_when_idle=True)
        telemetry.install(worker)
        await worker.run()

    async def main():
        backend = MemoryBackend()
        telemetry = Telemetry(backend.name)  # built while no SDK is installed
        await dispatch_async(Ping(n=1), backend=backend)
        await drain(backend, telemetry)
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        await dispatch_async(Ping(n=2), backend=backend)
        await drain(backend, telemetry)
        print(json.dumps(sorted(span.name for span in exporter.get_finished_spans())))

    asyncio.run(main())
    """
)


def test_spans_start_once_an_sdk_is_installed_after_the_worker_was_built() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Only the second job, dispatched and run after the SDK was installed, has spans.
    assert json.loads(result.stdout.splitlines()[-1]) == ["process late", "send late"]
