"""OpenTelemetry on the producer side: a PRODUCER span per dispatch, context in headers.

Only the OpenTelemetry API is used; without an SDK every call here is a cheap no-op.
The ``send`` span is the messages' creation context: its W3C ``traceparent`` (and
``tracestate``) go into each envelope's headers, so the worker's ``process`` span is its
child. A batch dispatch is one ``send`` span whose context every message of the batch
carries (the conventions' "batch publishing without create spans").
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from brokerjobs.envelope import Envelope
from brokerjobs.telemetry import semconv as sc
from brokerjobs.telemetry.redact import redact
from brokerjobs.telemetry.tracing import global_tracing

SYSTEM = sc.DEFAULT_SYSTEM
tracer = trace.get_tracer("brokerjobs")
_meter = metrics.get_meter("brokerjobs")
_sent = _meter.create_counter(
    "messaging.client.sent.messages",
    unit="{message}",
    description="Messages dispatch attempted to send to the broker.",
)
_send_duration = _meter.create_histogram(
    "messaging.client.operation.duration",
    unit="s",
    description="Duration of a dispatch (single or batch), retries included.",
    explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
)


@dataclass(slots=True, eq=False)
class SendSpan:
    """What :func:`producer_span` yields: the span and what :func:`describe_send` learned."""

    span: Span
    started: float
    count: int = 0
    attributes: dict[str, str] = field(default_factory=dict)


def outgoing_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for a new envelope: ``extra`` plus the current trace context (W3C)."""
    headers = dict(extra or {})
    propagate.inject(headers)
    return headers


class _ProducerScope:
    """The context manager :func:`producer_span` returns (a class: cheaper than a generator)."""

    __slots__ = ("_send", "_token")

    def __enter__(self) -> SendSpan:
        if global_tracing():
            span = tracer.start_span(sc.SEND, kind=SpanKind.PRODUCER)
            self._token: object | None = otel_context.attach(trace.set_span_in_context(span))
        else:  # no SDK: nothing to record; the caller's context is what gets injected
            span, self._token = trace.INVALID_SPAN, None
        self._send = SendSpan(span, time.perf_counter())
        return self._send

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        send = self._send
        _finish(send, exc)
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            send.span.end()


def producer_span() -> _ProducerScope:
    """A PRODUCER span around one dispatch (single or batch); renamed once the queue is known.

    Use as ``with producer_span() as send:`` and pass ``send`` to :func:`describe_send`.
    On exit the ``messaging.client.sent.messages`` counter and the
    ``messaging.client.operation.duration`` histogram are recorded (with ``error.type``
    when the dispatch raised); a failure is recorded on the span with its message redacted.
    Without an SDK no span is started at all.
    """
    return _ProducerScope()


def _finish(send: SendSpan, exc: BaseException | None) -> None:
    if not send.count:
        return  # failed before anything was ready to send (invalid payload...)
    attributes: dict[str, str] = dict(send.attributes)
    if exc is not None:
        kind = sc.error_type(exc)
        attributes[sc.ERROR_TYPE] = kind
        if send.span.is_recording():
            message = redact(str(exc))
            send.span.set_attribute(sc.ERROR_TYPE, kind)
            send.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))
            send.span.add_event(
                "exception",
                {"exception.type": kind, "exception.message": message},
            )
    _sent.add(send.count, attributes)
    _send_duration.record(time.perf_counter() - send.started, attributes)


def describe_send(
    send: SendSpan,
    envelopes: Sequence[Envelope],
    body: bytes | None = None,
    *,
    backend: str | None = None,
) -> None:
    """Name the dispatch span ``send <queue>`` and record what is being sent.

    ``backend`` is the backend's entry-point name, reported as ``messaging.system``
    (``rabbitmq``, ``aws_sqs``...); without it the system is reported as ``brokerjobs``.
    """
    if not envelopes:
        return
    first = envelopes[0]
    send.count = len(envelopes)
    attributes = send.attributes
    attributes[sc.MESSAGING_SYSTEM] = sc.system_name(backend)
    attributes[sc.OPERATION_NAME] = sc.SEND
    queues = {envelope.queue for envelope in envelopes}
    if len(queues) == 1:
        attributes[sc.DESTINATION_NAME] = first.queue
    jobs = {envelope.job for envelope in envelopes}
    if len(jobs) == 1:
        attributes[sc.JOB_NAME] = first.job
    span = send.span
    if not span.is_recording():
        return
    # Several queues: the conventions say to omit the destination from the name.
    span.update_name(f"{sc.SEND} {first.queue}" if len(queues) == 1 else sc.SEND)
    span.set_attributes(attributes)
    span.set_attribute(sc.OPERATION_TYPE, sc.SEND)
    if len(envelopes) == 1:
        span.set_attribute(sc.MESSAGE_ID, first.id)
        if body is not None:
            span.set_attribute(sc.BODY_SIZE, len(body))
        correlation = first.headers.get("correlation-id")
        if correlation:
            span.set_attribute(sc.CONVERSATION_ID, correlation)
    else:
        span.set_attribute(sc.BATCH_COUNT, len(envelopes))
