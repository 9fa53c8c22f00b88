"""Setting up the OpenTelemetry SDK from the standard ``OTEL_*`` environment variables.

``brokerjobs consume`` calls :func:`configure_sdk_from_env` at start-up and
``handle.shutdown()`` at exit (which flushes what is buffered). Read:

* ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER``: comma-separated ``otlp``,
  ``console``, ``none`` (metrics also ``prometheus``: served on ``--metrics-port``).
  Unset: ``otlp`` when an ``OTEL_EXPORTER_OTLP_*ENDPOINT`` is set, else ``none``
  (no collector, no export errors).
* ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` (default service name:
  ``brokerjobs-worker``), ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``,
  ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_METRIC_EXPORT_INTERVAL``: read by the SDK itself.
* ``OTEL_SDK_DISABLED=true``: configure nothing.

OTLP goes over HTTP/protobuf (``opentelemetry-exporter-otlp-proto-http``). Console spans
are written one compact JSON object per line to stdout. Everything here needs the
``brokerjobs[otel]`` extra; without it a clear :class:`ConfigurationError` says so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from brokerjobs.errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from brokerjobs.telemetry.prometheus import PrometheusReader

DEFAULT_SERVICE_NAME: Final = "brokerjobs-worker"
_TRACE_EXPORTERS: Final = {"otlp", "console", "none"}
_METRIC_EXPORTERS: Final = {"otlp", "console", "prometheus", "none"}
_INSTALL_HINT: Final = 'install the OpenTelemetry SDK with: pip install "brokerjobs[otel]"'


@dataclass
class SdkHandle:
    """What :func:`configure_sdk_from_env` set up."""

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    prometheus: PrometheusReader | None = None
    """The reader behind ``/metrics``, when Prometheus was asked for."""
    exporters: dict[str, list[str]] = field(default_factory=dict)

    def shutdown(self) -> None:
        """Flush and stop the providers (idempotent)."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
            self.tracer_provider = None
        if self.meter_provider is not None:
            self.meter_provider.shutdown()
            self.meter_provider = None


def _choices(
    environ: Mapping[str, str], variable: str, signal: str, allowed: set[str]
) -> list[str]:
    raw = environ.get(variable, "").strip()
    if not raw:
        endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        return ["otlp"] if any(environ.get(name) for name in endpoints) else []
    names = [part.strip().lower() for part in raw.split(",") if part.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ConfigurationError(
            f"{variable}={raw!r}: unsupported exporter(s) {unknown}; use {sorted(allowed)}"
        )
    return [name for name in names if name != "none"]


def configure_sdk_from_env(
    *, prometheus: bool = False, environ: Mapping[str, str] | None = None
) -> SdkHandle:
    """Install global tracer and meter providers as the ``OTEL_*`` variables say.

    ``prometheus=True`` (``--metrics-port``) always adds a :class:`PrometheusReader`.
    Returns an empty handle when nothing is asked for, without importing the SDK.
    """
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return SdkHandle()
    traces = _choices(env, "OTEL_TRACES_EXPORTER", "TRACES", _TRACE_EXPORTERS)
    wanted = _choices(env, "OTEL_METRICS_EXPORTER", "METRICS", _METRIC_EXPORTERS)
    if prometheus and "prometheus" not in wanted:
        wanted.append("prometheus")
    if not traces and not wanted:
        return SdkHandle()
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.resources import Resource
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(f"OTEL_* exporters are configured but {_INSTALL_HINT}") from exc
    attributes = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": DEFAULT_SERVICE_NAME}
    resource = Resource.create(attributes)
    handle = SdkHandle(exporters={"traces": traces, "metrics": wanted})
    if traces:
        handle.tracer_provider = _tracer_provider(resource, traces)
        trace.set_tracer_provider(handle.tracer_provider)
    if wanted:
        handle.meter_provider, handle.prometheus = _meter_provider(resource, wanted)
        metrics.set_meter_provider(handle.meter_provider)
    return handle


def _tracer_provider(resource: Any, exporters: list[str]) -> TracerProvider:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=resource)  # sampler from OTEL_TRACES_SAMPLER
    for name in exporters:
        if name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp("trace_exporter", "Span")))
        else:
            console = ConsoleSpanExporter(
                out=sys.stdout, formatter=lambda span: span.to_json(indent=None) + "\n"
            )
            provider.add_span_processor(BatchSpanProcessor(console))
    return provider


def _meter_provider(
    resource: Any, exporters: list[str]
) -> tuple[MeterProvider, PrometheusReader | None]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        MetricReader,
        PeriodicExportingMetricReader,
    )

    from brokerjobs.telemetry.prometheus import PrometheusReader

    readers: list[MetricReader] = []
    prometheus = None
    for name in exporters:
        if name == "otlp":
            exporter = _otlp("metric_exporter", "Metric")
            readers.append(PeriodicExportingMetricReader(exporter))
        elif name == "console":
            console = ConsoleMetricExporter(
                out=sys.stdout, formatter=lambda data: data.to_json(indent=None) + "\n"
            )
            readers.append(PeriodicExportingMetricReader(console))
        else:
            prometheus = PrometheusReader()
            readers.append(prometheus)
    return MeterProvider(resource=resource, metric_readers=readers), prometheus


def _otlp(module: str, kind: str) -> Any:
    try:
        package = __import__(
            f"opentelemetry.exporter.otlp.proto.http.{module}", fromlist=[f"OTLP{kind}Exporter"]
        )
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError(f"the OTLP exporter is not installed; {_INSTALL_HINT}") from exc
    return getattr(package, f"OTLP{kind}Exporter")()
