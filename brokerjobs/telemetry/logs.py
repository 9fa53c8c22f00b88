"""Structured logs: every record carries its job, message id, queue, attempt and trace ids.

While the worker handles a job, :data:`current_job` holds what the job is (the telemetry
middleware sets it), so any log record emitted during that job, from the worker, the
backend, or the job's own ``logging.getLogger(__name__)`` calls, in async code or in the
sync job's thread, is stamped with ``message_id``, ``job``, ``queue``, ``attempt``,
``trace_id`` and ``span_id``. Every formatted line goes through
:func:`~brokerjobs.telemetry.redact.redact`, with the job's sensitive field values.

``configure_logging("json")`` is what ``brokerjobs consume --log-format json`` runs.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Final, Literal

from opentelemetry import trace

from brokerjobs.telemetry.redact import redact

FIELDS: Final = ("message_id", "job", "queue", "attempt", "trace_id", "span_id")
LogFormat = Literal["text", "json"]
DRIVER_LOGGERS: Final = ("botocore", "boto3", "urllib3", "aiormq", "aio_pika", "pika", "pamqp")
"""Broker clients whose DEBUG records dump request bodies (payloads) and signed headers."""
_STAMPED: Final = "_brokerjobs_stamped"
_SECRETS: Final = "_brokerjobs_secrets"


@dataclass(frozen=True, slots=True)
class JobLogContext:
    """The job being handled in the current context."""

    message_id: str
    queue: str
    attempt: int
    job: str | None = None
    secrets: tuple[str, ...] = ()
    """Values of the job's sensitive fields, masked in every log line."""


current_job: ContextVar[JobLogContext | None] = ContextVar("brokerjobs_current_job", default=None)


def stamp(record: logging.LogRecord) -> None:
    """Add the job fields and trace ids of the current context to ``record`` (once)."""
    if getattr(record, _STAMPED, False):
        return
    setattr(record, _STAMPED, True)
    job = current_job.get()
    if job is not None:
        for name, value in (
            ("message_id", job.message_id),
            ("job", job.job),
            ("queue", job.queue),
            ("attempt", job.attempt),
        ):
            if getattr(record, name, None) is None and value is not None:
                setattr(record, name, value)
        setattr(record, _SECRETS, job.secrets)
    context = trace.get_current_span().get_span_context()
    if context.is_valid and getattr(record, "trace_id", None) is None:
        record.trace_id = format(context.trace_id, "032x")
        record.span_id = format(context.span_id, "016x")


class ContextFilter(logging.Filter):
    """Stamps records in the emitting thread (attach to handlers that format elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        stamp(record)
        return True


def _secrets(record: logging.LogRecord) -> tuple[str, ...]:
    value = getattr(record, _SECRETS, ())
    return value if isinstance(value, tuple) else ()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, job fields, trace ids, error."""

    def format(self, record: logging.LogRecord) -> str:
        stamp(record)
        secrets = _secrets(record)
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage(), secrets),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc = record.exc_info[1]
            document["error"] = {
                "type": record.exc_info[0].__qualname__,
                "message": redact(str(exc), secrets),
                "traceback": redact(self.formatException(record.exc_info), secrets),
            }
        elif record.exc_text:
            document["error"] = {"traceback": redact(record.exc_text, secrets)}
        if record.stack_info:
            document["stack"] = redact(self.formatStack(record.stack_info), secrets)
        return json.dumps(document, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines, job fields and trace id appended, secrets masked."""

    def __init__(self, fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        stamp(record)
        line = super().format(record)
        shown = (*FIELDS[:4], "trace_id")
        parts = [f"{name}={getattr(record, name)}" for name in shown if _has(record, name)]
        if parts:
            first, newline, rest = line.partition("\n")
            line = f"{first} [{' '.join(parts)}]{newline}{rest}"
        return redact(line, _secrets(record))


def _has(record: logging.LogRecord, name: str) -> bool:
    return getattr(record, name, None) is not None


def json_log_formatter() -> logging.Formatter:
    """A :class:`JsonFormatter` (for handlers the caller sets up)."""
    return JsonFormatter()


def configure_logging(
    log_format: LogFormat = "text", level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``log_format``; returns the handler.

    Replaces handlers an earlier call installed, leaves others alone. Broker client
    libraries (:data:`DRIVER_LOGGERS`) stay at INFO or above even at ``DEBUG``: their
    debug records hold message bodies, whose payload fields no pattern can mask.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_brokerjobs", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    setattr(handler, "_brokerjobs", True)  # noqa: B010 - marks handlers this function owns
    root.addHandler(handler)
    root.setLevel(level)
    driver_level = max(
        logging.INFO, logging.getLevelName(level) if isinstance(level, str) else level
    )
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(driver_level)
    return handler
