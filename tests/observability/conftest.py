"""OpenTelemetry SDK with in-memory exporters, installed once as the global providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from brokerjobs.backend import Backend
from brokerjobs.telemetry.consumer import Telemetry
from brokerjobs.worker import Worker
from tests.support.harness import BackendHarness

_EXPORTER = InMemorySpanExporter()
_READER = InMemoryMetricReader()
_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
    _installed = True


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _install()
    _EXPORTER.clear()
    yield _EXPORTER


@pytest.fixture
def reader() -> InMemoryMetricReader:
    _install()
    return _READER


@pytest.fixture
async def backend(harness: BackendHarness) -> Backend:
    return await harness.new_backend()


@pytest.fixture
async def queue(harness: BackendHarness, backend: Backend) -> str:
    name = harness.queue("obs")
    await backend.declare(name)
    return name


def instrumented(backend: Backend, queues: Sequence[str], **options: Any) -> Worker:
    options.setdefault("concurrency", 4)
    options.setdefault("shutdown_timeout", 10.0)
    worker = Worker(backend, list(queues), **options)
    Telemetry(backend.name).install(worker)
    return worker


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        if not task.done():
            worker.request_stop()
        await asyncio.wait_for(task, 30)


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def points(reader: InMemoryMetricReader, metric: str, wanted: dict[str, object]) -> list[Any]:
    """Data points of ``metric`` whose attributes include ``wanted``."""
    data = reader.get_metrics_data()
    found: list[Any] = []
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for item in scope.metrics:
                if item.name != metric:
                    continue
                for point in item.data.data_points:
                    attributes = dict(point.attributes or {})
                    if all(attributes.get(k) == v for k, v in wanted.items()):
                        found.append(point)
    return found


def total(reader: InMemoryMetricReader, metric: str, wanted: dict[str, object]) -> float:
    """Sum of counter values, or of histogram counts, over the matching points."""
    result = 0.0
    for point in points(reader, metric, wanted):
        result += point.value if isinstance(point, NumberDataPoint) else point.count
    return result
