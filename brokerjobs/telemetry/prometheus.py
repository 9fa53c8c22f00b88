"""Prometheus text exposition of the OpenTelemetry SDK's metrics, with no extra dependency.

:class:`PrometheusReader` is a pull reader: every scrape collects and renders the
current values. Names follow the usual OpenTelemetry-to-Prometheus translation: dots
become underscores, a ``s`` unit adds ``_seconds``, counters end in ``_total``,
up-down counters and gauges are gauges, histograms get ``_bucket``/``_sum``/``_count``.
``brokerjobs.job.queue_wait`` (s) is therefore ``brokerjobs_job_queue_wait_seconds``.
Needs ``opentelemetry-sdk`` (the ``brokerjobs[otel]`` extra).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable
from typing import Any, Final

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricReader,
    MetricsData,
    Sum,
)

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_INF_LABEL: Final = 'le="+Inf"'
_UNIT_SUFFIX: Final = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "ratio"}


class PrometheusReader(MetricReader):
    """A metric reader whose :meth:`render` returns the Prometheus text format."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._latest: MetricsData | None = None

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Nothing to flush: the data is pulled."""

    def render(self) -> str:
        """Collect now and render every metric."""
        with self._lock:
            self._latest = None
            self.collect()
            data = self._latest
        return render(data)


def render(data: MetricsData | None) -> str:
    """``data`` in the Prometheus text format (version 0.0.4)."""
    families: dict[str, list[str]] = {}
    headers: dict[str, str] = {}
    if data is not None:
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    _family(metric, families, headers)
    lines: list[str] = []
    for name, samples in families.items():
        lines.append(headers[name])
        lines.extend(samples)
    return "\n".join(lines) + "\n" if lines else ""


def metric_name(name: str, unit: str, *, counter: bool = False) -> str:
    """The Prometheus name of an OpenTelemetry metric."""
    base = _INVALID.sub("_", name)
    suffix = _UNIT_SUFFIX.get(unit)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if counter and not base.endswith("_total"):
        base = f"{base}_total"
    return base


def _family(metric: Metric, families: dict[str, list[str]], headers: dict[str, str]) -> None:
    data, unit = metric.data, metric.unit or ""
    if isinstance(data, Histogram):
        name, kind = metric_name(metric.name, unit), "histogram"
    elif isinstance(data, Sum) and data.is_monotonic:
        name, kind = metric_name(metric.name, unit, counter=True), "counter"
    elif isinstance(data, Sum | Gauge):
        name, kind = metric_name(metric.name, unit), "gauge"
    else:  # exponential histograms are not used by brokerjobs
        return
    if name not in headers:
        help_text = (metric.description or "").replace("\\", r"\\").replace("\n", r"\n")
        headers[name] = f"# HELP {name} {help_text}\n# TYPE {name} {kind}"
    samples = families.setdefault(name, [])
    for point in data.data_points:
        labels = _labels(point.attributes or {})
        if isinstance(point, HistogramDataPoint):
            samples.extend(_histogram(name, labels, point))
        else:
            samples.append(f"{name}{_braces(labels)} {_number(point.value)}")


def _histogram(name: str, labels: list[str], point: HistogramDataPoint) -> Iterable[str]:
    cumulative = 0
    for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
        cumulative += count
        yield f"{name}_bucket{_braces([*labels, f'le={_quote(_number(bound))}'])} {cumulative}"
    yield f"{name}_bucket{_braces([*labels, _INF_LABEL])} {point.count}"
    yield f"{name}_sum{_braces(labels)} {_number(point.sum)}"
    yield f"{name}_count{_braces(labels)} {point.count}"


def _labels(attributes: Any) -> list[str]:
    return [f"{_INVALID.sub('_', str(k))}={_quote(str(v))}" for k, v in sorted(attributes.items())]


def _braces(labels: list[str]) -> str:
    return "{" + ",".join(labels) + "}" if labels else ""


def _quote(value: str) -> str:
    escaped = value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return f'"{escaped}"'


def _number(value: float) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isnan(value):
            return "NaN"
        return repr(value)
    return str(value)
