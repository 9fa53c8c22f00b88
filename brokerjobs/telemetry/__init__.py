"""OpenTelemetry for brokerjobs: traces, metrics, logs and health, by the conventions.

The producer side (:func:`producer_span`, :func:`describe_send`, :func:`outgoing_headers`)
is imported by dispatch and uses only the OpenTelemetry API. The consumer side lives in
submodules imported on demand:

* :mod:`brokerjobs.telemetry.consumer` — :class:`~brokerjobs.telemetry.consumer.Telemetry`,
  the worker middleware (CONSUMER spans, metrics, log context).
* :mod:`brokerjobs.telemetry.logs` — JSON log formatter with trace and job fields.
* :mod:`brokerjobs.telemetry.redact` — keeping secrets out of everything above.
* :mod:`brokerjobs.telemetry.queue_stats` — queue depth gauges (the autoscaling signal).
* :mod:`brokerjobs.telemetry.sdk` — SDK set-up from ``OTEL_*`` variables (needs the
  ``brokerjobs[otel]`` extra).
* :mod:`brokerjobs.telemetry.health` — ``/healthz`` and Prometheus ``/metrics``.
"""

from brokerjobs.telemetry.producer import (
    SYSTEM,
    SendSpan,
    describe_send,
    outgoing_headers,
    producer_span,
    tracer,
)

__all__ = ["SYSTEM", "SendSpan", "describe_send", "outgoing_headers", "producer_span", "tracer"]
