"""Log lines carry job, message id, queue, attempt and trace ids; secrets never show."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from brokerjobs import dispatch_async
from brokerjobs.backend import Backend
from brokerjobs.telemetry.logs import configure_logging
from tests.observability import jobs
from tests.observability.conftest import instrumented, named, running
from tests.support.harness import eventually


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("json", logging.INFO, stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


@pytest.mark.parametrize("job", [jobs.Traced(note="n1"), jobs.SyncTraced(note="n1")])
async def test_job_log_lines_carry_job_fields_and_trace_ids(
    spans: InMemorySpanExporter,
    json_lines: io.StringIO,
    backend: Backend,
    queue: str,
    job: jobs.Traced | jobs.SyncTraced,
) -> None:
    message_id = await dispatch_async(job, backend=backend, queue=queue)
    async with running(instrumented(backend, [queue])):
        await eventually(lambda: _has_line(json_lines, "job ran n1"))
    [line] = [r for r in _records(json_lines) if "job ran n1" in str(r["message"])]
    [process] = named(spans, f"process {queue}")
    [inner] = [s for s in spans.get_finished_spans() if s.name.startswith("inside")]
    assert line["message_id"] == message_id
    assert line["job"] == type(job).job_name
    assert line["queue"] == queue
    assert line["attempt"] == 1
    assert line["trace_id"] == format(process.context.trace_id, "032x")
    assert line["span_id"] == format(inner.context.span_id, "016x")
    assert line["level"] == "info"
    assert line["logger"] == "tests.observability.jobs"


async def _has_line(stream: io.StringIO, text: str) -> bool:
    return text in stream.getvalue()


def test_text_format_appends_fields_and_masks() -> None:
    stream = io.StringIO()
    handler = configure_logging("text", logging.INFO, stream)
    try:
        logging.getLogger("x").warning("connecting to amqp://u:pw-1234@h/")
    finally:
        logging.getLogger().removeHandler(handler)
    assert "amqp://u:***@h/" in stream.getvalue()
    assert "pw-1234" not in stream.getvalue()
