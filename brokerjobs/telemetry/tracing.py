"""Whether spans are being recorded: asked once per job and per dispatch, so it is cheap.

Without an SDK the OpenTelemetry API hands out invalid spans, and building their names,
attributes and links is wasted work; the producer and the consumer skip it. Asking the
API (``trace.get_tracer_provider()``) costs about 2 µs, most of it an ``os.environ``
look-up: a noticeable share of a no-op job. The answer can change only when the global
provider is set (once per process), so it is cached against the provider object.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import trace

_UNKNOWN: Final = object()
_NO_SDK: Final = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_seen: object = _UNKNOWN
_recording = False

# The API loads a provider named by OTEL_PYTHON_TRACER_PROVIDER on first use; do it now,
# since global_tracing() below does not look at the environment.
trace.get_tracer_provider()


def _installed_provider() -> object:
    # opentelemetry-api keeps the global provider in this module variable (None until one
    # is set). If a future release renames it, every call takes the slow, public path.
    return getattr(trace, "_TRACER_PROVIDER", _UNKNOWN)


def global_tracing() -> bool:
    """True when the global tracer provider records spans (an SDK, not the API's no-op).

    Follows the provider when it is set after the caller was built (the SDK configured
    after the worker), since the cache is keyed on the provider object itself.
    """
    global _seen, _recording
    installed = _installed_provider()
    if installed is None:
        return False  # nothing set yet: the API's proxy, which records nothing
    if installed is _seen:
        return _recording
    recording = not isinstance(trace.get_tracer_provider(), _NO_SDK)
    if installed is not _UNKNOWN:
        _seen, _recording = installed, recording
    return recording
