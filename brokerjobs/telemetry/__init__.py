"""OpenTelemetry for brokerjobs: traces, metrics, logs and health, by the conventions.

The producer side (:func:`producer_span`, :func:`describe_send`, :func:`outgoing_headers`)
is used by dispatch and needs only the OpenTelemetry API; it is imported on first use
(the first dispatch), not with ``brokerjobs``. The consumer side lives in submodules
imported on demand:

* :mod:`brokerjobs.telemetry.consumer` — :class:`~brokerjobs.telemetry.consumer.Telemetry`,
  the worker middleware (CONSUMER spans, metrics, log context).
* :mod:`brokerjobs.telemetry.logs` — JSON log formatter with trace and job fields.
* :mod:`brokerjobs.telemetry.redact` — keeping secrets out of everything above.
* :mod:`brokerjobs.telemetry.queue_stats` — queue depth gauges (the autoscaling signal).
* :mod:`brokerjobs.telemetry.sdk` — SDK set-up from ``OTEL_*`` variables (needs the
  ``brokerjobs[otel]`` extra).
* :mod:`brokerjobs.telemetry.health` — ``/healthz`` and Prometheus ``/metrics``.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brokerjobs.telemetry.producer import (
        SYSTEM,
        SendSpan,
        describe_send,
        outgoing_headers,
        producer_span,
        tracer,
    )

__all__ = ["SYSTEM", "SendSpan", "describe_send", "outgoing_headers", "producer_span", "tracer"]


def __getattr__(name: str) -> Any:
    # Importing the OpenTelemetry API costs more than brokerjobs' own modules: it is loaded
    # when the producer side is first used, not when a submodule such as redact is.
    if name in __all__:
        from brokerjobs.telemetry import producer

        value = getattr(producer, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
