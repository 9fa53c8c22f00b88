"""The worker side: a CONSUMER span, metrics and log context around every job.

Trace shape (documented in ``docs/observability.md``):

* Every attempt is a ``process <queue>`` CONSUMER span whose parent is the message's
  creation context (the dispatch's ``send`` span, from the envelope's ``traceparent``),
  and which also links to it, as the conventions recommend. The envelope is the same
  bytes on every delivery, so every attempt, redelivery and DLQ replay of a job is a
  sibling under the same ``send`` span: one trace follows the job across retries, the
  DLQ and replays, ordered by ``brokerjobs.job.attempt`` and time.
* When this worker process ran the previous attempt of the message (retry,
  dead-letter, lost settle), the new span also links to that attempt's span
  (``brokerjobs.link.type = previous_attempt``). Across processes no such link can be
  made honestly: the body cannot carry it, and the brokers keep no per-attempt headers
  that survive every retry path.

Spans are made current (with the producer's baggage) around hooks, ``run`` and
settling, so spans opened in ``run`` are children, in async jobs and in sync jobs (the
worker runs those in ``contextvars.copy_context()``).
"""

from __future__ import annotations

import time
import traceback
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace import TracerProvider as TracerProviderAPI

from brokerjobs.envelope import Envelope
from brokerjobs.telemetry import semconv as sc
from brokerjobs.telemetry.instruments import WorkerInstruments
from brokerjobs.telemetry.logs import JobLogContext, current_job
from brokerjobs.telemetry.redact import redact, sensitive_values
from brokerjobs.telemetry.tracing import global_tracing
from brokerjobs.worker.hooks import CallNext, JobEvent, Middleware

if TYPE_CHECKING:
    from brokerjobs.worker import Worker

_SEEN: Final = "brokerjobs.telemetry"
STATUS_LIMIT: Final = 500


class Telemetry:
    """Instruments one worker. ``Telemetry(backend.name).install(worker)`` before ``run()``.

    ``backend`` is the backend's entry-point name (``messaging.system``); the providers
    default to the global ones (the SDK, when one is configured; no-ops otherwise).
    ``remember`` bounds how many message ids keep their last span for the
    ``previous_attempt`` link.
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        tracer_provider: TracerProviderAPI | None = None,
        meter_provider: MeterProvider | None = None,
        remember: int = 10_000,
    ) -> None:
        self.system = sc.system_name(backend)
        self._explicit_tracer = tracer_provider is not None
        self._tracer = trace.get_tracer("brokerjobs", tracer_provider=tracer_provider)
        self.instruments = WorkerInstruments(self.system, meter_provider)
        self._previous: OrderedDict[str, SpanContext] = OrderedDict()
        self._remember = remember

    def install(self, worker: Worker) -> None:
        """Wrap every job of ``worker`` (outermost middleware) and see its rejected messages."""
        worker.middleware.insert(0, self.middleware)
        worker.hooks.on_dead_letter(self.on_dead_letter)

    def _tracing(self) -> bool:
        # Without an SDK the API hands out invalid spans: skip building links and attributes.
        return self._explicit_tracer or global_tracing()

    # -- middleware ------------------------------------------------------------------
    async def middleware(self, event: JobEvent, call_next: CallNext) -> None:
        """The :data:`~brokerjobs.worker.Middleware` that wraps one decoded job."""
        envelope = event.envelope
        if envelope is None:  # never happens: the worker only chains decoded jobs
            await call_next()
            return
        event.extra[_SEEN] = True
        job_name, queue = envelope.job, event.queue
        secrets = sensitive_values(event.job) if event.job is not None else ()
        instruments = self.instruments
        base = instruments.attributes(queue, job_name)
        instruments.consumed.add(1, base)
        instruments.started(queue, job_name)
        wait = _queue_wait(envelope) if event.attempt == 1 else None
        if wait is not None:
            instruments.queue_wait.record(wait, base)
        log_token = current_job.set(
            JobLogContext(event.message_id, queue, event.attempt, job_name, secrets)
        )
        span: Span | None = None
        if self._tracing():
            span, parent = self._start(event, envelope, wait)
            context: Context | None = trace.set_span_in_context(span, parent)
        else:
            # No SDK: no span, but the producer's context stays current, so a job that
            # dispatches (or calls an instrumented client) carries the trace on.
            context = propagate.extract(envelope.headers) if envelope.headers else None
        context_token = otel_context.attach(context) if context is not None else None
        started = time.perf_counter()
        raised: BaseException | None = None
        try:
            await call_next()
        except BaseException as exc:
            raised = exc
            raise
        finally:
            elapsed = time.perf_counter() - started
            if context_token is not None:
                otel_context.detach(context_token)
            current_job.reset(log_token)
            instruments.ended(queue, job_name)
            self._finish(event, job_name, elapsed, raised, span, secrets)

    def _start(
        self, event: JobEvent, envelope: Envelope, wait: float | None
    ) -> tuple[Span, Context]:
        parent = propagate.extract(envelope.headers) if envelope.headers else Context()
        attributes = self._span_attributes(event, envelope.job, envelope.max_attempts)
        if wait is not None:
            attributes[sc.QUEUE_WAIT] = wait
        correlation = envelope.headers.get("correlation-id")
        if correlation:
            attributes[sc.CONVERSATION_ID] = correlation
        span = self._tracer.start_span(
            f"{sc.PROCESS} {event.queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=self._links(event.message_id, parent),
        )
        return span, parent

    def _span_attributes(
        self, event: JobEvent, job: str | None, max_attempts: int | None
    ) -> dict[str, str | int | float]:
        attributes: dict[str, str | int | float] = {
            sc.MESSAGING_SYSTEM: self.system,
            sc.OPERATION_TYPE: sc.PROCESS,
            sc.OPERATION_NAME: sc.PROCESS,
            sc.DESTINATION_NAME: event.queue,
            sc.MESSAGE_ID: event.message_id,
            sc.BODY_SIZE: len(event.delivery.body),
            sc.ATTEMPT: event.attempt,
        }
        if job is not None:
            attributes[sc.JOB_NAME] = job
        if max_attempts is not None:
            attributes[sc.MAX_ATTEMPTS] = max_attempts
        return attributes

    def _links(self, message_id: str, parent: Context) -> list[Link]:
        links = []
        creation = trace.get_current_span(parent).get_span_context()
        if creation.is_valid:
            links.append(Link(creation, {sc.LINK_TYPE: "creation"}))
        previous = self._previous.pop(message_id, None)
        if previous is not None:
            links.append(Link(previous, {sc.LINK_TYPE: "previous_attempt"}))
        return links

    def _finish(
        self,
        event: JobEvent,
        job_name: str,
        elapsed: float,
        raised: BaseException | None,
        span: Span | None,
        secrets: tuple[str, ...],
    ) -> None:
        # No outcome: a middleware inside ours raised before the job was settled.
        outcome = sc.OUTCOMES[event.outcome] if event.outcome is not None else "error"
        error = event.error or raised
        kind = sc.error_type(error) if error is not None else None
        instruments = self.instruments
        attributes = instruments.attributes(event.queue, job_name, outcome, kind)
        instruments.process_duration.record(elapsed, attributes)
        if event.duration is not None:
            instruments.run_duration.record(event.duration, attributes)
        if span is None:
            return
        if span.is_recording():
            span.set_attribute(sc.OUTCOME, outcome)
            if event.outcome == "retry" and event.retry_delay is not None:
                span.set_attribute(sc.RETRY_DELAY, event.retry_delay)
            if error is not None:
                _record_error(span, error, secrets)
        span.end()
        if outcome != "success":
            self._keep(event.message_id, span.get_span_context())

    def _keep(self, message_id: str, span_context: SpanContext) -> None:
        self._previous[message_id] = span_context
        self._previous.move_to_end(message_id)
        while len(self._previous) > self._remember:
            self._previous.popitem(last=False)

    # -- messages that never reached a job -------------------------------------------
    def on_dead_letter(self, event: JobEvent) -> None:
        """Hook: count and trace messages dead-lettered before any job ran.

        (Bodies that are not envelopes, unknown job names, invalid payloads, poison
        messages.) Their span is instantaneous: it marks the decision, not a run.
        """
        if _SEEN in event.extra:
            return
        envelope = event.envelope
        job_name = envelope.job if envelope is not None else None
        kind = _rejection_type(event)
        instruments = self.instruments
        instruments.consumed.add(1, instruments.attributes(event.queue, job_name))
        # Nothing ran: a zero duration, so the outcome counts match the messages settled.
        instruments.process_duration.record(
            0.0, instruments.attributes(event.queue, job_name, "dead_letter", kind)
        )
        if not self._tracing():
            return
        parent = propagate.extract(envelope.headers) if envelope and envelope.headers else Context()
        attributes = self._span_attributes(
            event, job_name, envelope.max_attempts if envelope else None
        )
        attributes[sc.OUTCOME] = "dead_letter"
        attributes[sc.ERROR_TYPE] = kind
        span = self._tracer.start_span(
            f"{sc.PROCESS} {event.queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=self._links(event.message_id, parent),
        )
        span.set_status(Status(StatusCode.ERROR, _cut(redact(event.reason or kind))))
        span.end()


def telemetry_middleware(backend: str | None = None) -> Middleware:
    """Just the middleware of a new :class:`Telemetry` (rejected messages go unseen)."""
    return Telemetry(backend).middleware


def _queue_wait(envelope: Envelope) -> float:
    due = envelope.not_before or envelope.created_at
    # Epoch seconds: half the cost of subtracting aware datetimes, on every job.
    return max(0.0, time.time() - due.timestamp())


def _rejection_type(event: JobEvent) -> str:
    envelope = event.envelope
    if envelope is None:
        return "brokerjobs.errors.EnvelopeError"
    if event.attempt > envelope.max_attempts:
        return "brokerjobs.PoisonMessage"
    return "brokerjobs.RejectedPayload"  # unknown job name, or payload no longer valid


def _cut(text: str) -> str:
    return text if len(text) <= STATUS_LIMIT else text[: STATUS_LIMIT - 1] + "…"


def _record_error(span: Span, error: BaseException, secrets: tuple[str, ...]) -> None:
    kind = sc.error_type(error)
    message = redact(str(error), secrets)
    span.set_attribute(sc.ERROR_TYPE, kind)
    span.set_status(Status(StatusCode.ERROR, _cut(f"{type(error).__name__}: {message}")))
    # Our own exception event (not span.record_exception) so the message and traceback
    # are redacted before they reach any exporter.
    stack = "".join(traceback.format_exception(error))
    span.add_event(
        "exception",
        {
            "exception.type": kind,
            "exception.message": message,
            "exception.stacktrace": redact(stack, secrets),
        },
    )
