"""OpenTelemetry on the producer side: a PRODUCER span per dispatch, context in headers.

Only the OpenTelemetry API is used; without an SDK every call here is a cheap no-op.
Attribute names follow the OpenTelemetry semantic conventions for messaging.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from brokerjobs.envelope import Envelope

SYSTEM = "brokerjobs"
tracer = trace.get_tracer("brokerjobs")


def outgoing_headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for a new envelope: ``extra`` plus the current trace context (W3C)."""
    headers = dict(extra or {})
    propagate.inject(headers)
    return headers


@contextmanager
def producer_span() -> Iterator[Span]:
    """A PRODUCER span around one dispatch (single or batch); renamed once the queue is known."""
    with tracer.start_as_current_span("send", kind=SpanKind.PRODUCER) as span:
        yield span


def describe_send(span: Span, envelopes: Sequence[Envelope], body: bytes | None = None) -> None:
    """Name the dispatch span ``send <queue>`` and record what was sent."""
    if not span.is_recording() or not envelopes:
        return
    first = envelopes[0]
    queues = {envelope.queue for envelope in envelopes}
    destination = first.queue if len(queues) == 1 else "(multiple)"
    span.update_name(f"send {destination}")
    span.set_attribute("messaging.system", SYSTEM)
    span.set_attribute("messaging.operation.type", "send")
    span.set_attribute("messaging.operation.name", "send")
    span.set_attribute("messaging.destination.name", destination)
    if len(envelopes) == 1:
        span.set_attribute("messaging.message.id", first.id)
        span.set_attribute("brokerjobs.job.name", first.job)
        if body is not None:
            span.set_attribute("messaging.message.body.size", len(body))
    else:
        span.set_attribute("messaging.batch.message_count", len(envelopes))
