"""No broker password, AWS key or sensitive payload field in any log line, span or error.

Each run logs at DEBUG through ``configure_logging("json")`` (what ``brokerjobs consume
--log-format json`` installs) and the test reads every line it wrote, every raw record
at INFO and up from every logger, every exported span (name, attributes, events,
status, links) and every error raised. Broker drivers stay at INFO under
``configure_logging``: their DEBUG records dump request bodies and signed headers.
"""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from brokerjobs import dispatch_async
from brokerjobs.errors import BrokerJobsError
from brokerjobs.telemetry.logs import DRIVER_LOGGERS, configure_logging
from brokerjobs.telemetry.redact import forget_secrets, register_environment_secrets
from tests.observability import jobs
from tests.observability.conftest import instrumented, named, running
from tests.support.harness import eventually

PASSWORD = "Pw-9f3kq2-Sekret"
ACCESS_KEY = "AKIAOBSTESTKEY000001"
SECRET_KEY = "obsTestSecret/Abc123+xyzQWERTYuiopASDFGH"
PAYLOAD_SECRET = "payload-secret-7781"


class Capture(logging.Handler):
    """Raw records; ``formatted`` is what ``configure_logging("json", DEBUG)`` wrote."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.formatted = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def raw_text(self, level: int = logging.INFO) -> str:
        lines = []
        for record in self.records:
            if record.levelno < level:
                continue
            lines.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                lines.append("".join(traceback.format_exception(record.exc_info[1])))
        return "\n".join(lines)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    drivers = {name: logging.getLogger(name).level for name in DRIVER_LOGGERS}
    json_handler = configure_logging("json", logging.DEBUG, handler.formatted)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.removeHandler(json_handler)
    root.setLevel(level)
    for name, driver_level in drivers.items():
        logging.getLogger(name).setLevel(driver_level)
    forget_secrets()


def span_text(spans: InMemorySpanExporter) -> str:
    parts = []
    for span in spans.get_finished_spans():
        parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
        parts += [f"{e.name} {dict(e.attributes or {})}" for e in span.events]
        parts += [repr(dict(link.attributes or {})) for link in span.links]
    return "\n".join(parts)


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:4]}… leaked:\n{text}"


@pytest.mark.rabbitmq
async def test_rabbitmq_password_never_shows(
    spans: InMemorySpanExporter, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brokerjobs_rabbitmq import RabbitMQBackend

    url = f"amqp://guest:{PASSWORD}@127.0.0.1:5672/"
    monkeypatch.setenv("BROKERJOBS_RABBITMQ_URL", url)
    register_environment_secrets()
    backend = RabbitMQBackend.from_options(url=url, client_name="brokerjobs-test.secrets")
    errors: list[BaseException] = []
    try:
        await dispatch_async(jobs.Traced(), backend=backend, queue="obs-secrets")
    except BrokerJobsError as exc:  # the password is wrong: access refused
        errors.append(exc)
    worker = instrumented(backend, ["obs-secrets"])
    try:  # access refused is not transient: the worker stops with the error
        await asyncio.wait_for(worker.run(), 60)
    except BrokerJobsError as exc:
        errors.append(exc)
    await backend.aclose()
    backend.close()
    assert len(errors) == 2, "dispatch and consume with a wrong password should fail"
    assert_clean(repr(backend), PASSWORD)
    assert_clean(capture.formatted.getvalue(), PASSWORD)
    assert_clean(capture.raw_text(), PASSWORD)
    assert_clean(span_text(spans), PASSWORD)
    assert_clean("\n".join(error_text(e) for e in errors), PASSWORD)
    [send] = named(spans, "send obs-secrets")
    assert "refused access" in (send.status.description or "")


@pytest.mark.sqs
async def test_aws_keys_and_sensitive_fields_never_show(
    spans: InMemorySpanExporter, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from brokerjobs_sqs import SQSBackend

    from tests.support.backend_sqs import connection_options

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    register_environment_secrets()
    options = {
        **connection_options(),
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "visibility_timeout": 2,
        "wait_time": 1,
    }
    backend = SQSBackend.from_options(**options)
    unreachable = SQSBackend.from_options(**{**options, "endpoint_url": "http://127.0.0.1:9"})
    queue = f"obs-secrets-{id(backend):x}"
    errors: list[BaseException] = []
    try:
        await backend.declare(queue)
        login_id = await dispatch_async(
            jobs.Login(user="ann", password=PAYLOAD_SECRET), backend=backend, queue=queue
        )
        await dispatch_async(jobs.FailOnce(), backend=backend, queue=queue)
        for attempt in (unreachable.declare(queue), unreachable.stats(queue)):
            try:
                await asyncio.wait_for(attempt, 60)
            except BrokerJobsError as exc:
                errors.append(exc)
        async with running(instrumented(backend, [queue])):

            async def parked() -> bool:
                return any(d.message_id == login_id for d in await backend.dead_letters(queue))

            await eventually(parked, timeout=30)
            await eventually(lambda: _process_spans(spans, queue, 3), timeout=30)
    finally:
        for each in (backend, unreachable):
            await each.aclose()
            each.close()
    assert errors, "the unreachable endpoint should have raised"
    assert_clean(capture.formatted.getvalue(), ACCESS_KEY, SECRET_KEY, PAYLOAD_SECRET)
    assert_clean(capture.raw_text(), ACCESS_KEY, SECRET_KEY)
    assert_clean(span_text(spans), ACCESS_KEY, SECRET_KEY, PAYLOAD_SECRET)
    assert_clean("\n".join(error_text(e) for e in errors), ACCESS_KEY, SECRET_KEY)
    assert_clean(repr(backend), ACCESS_KEY, SECRET_KEY)
    # The job itself logged and raised with its password: masked in our output.
    assert "logging in ann with ***" in capture.formatted.getvalue()
    [login] = [
        s
        for s in named(spans, f"process {queue}")
        if s.attributes["brokerjobs.job.name"] == "bjobs.login"
    ]  # type: ignore[index]
    assert login.status.description == "PermissionError: login refused for ann:***"


async def _process_spans(spans: InMemorySpanExporter, queue: str, count: int) -> bool:
    return len(named(spans, f"process {queue}")) >= count
