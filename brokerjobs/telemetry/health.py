"""``/healthz`` and ``/metrics`` over HTTP, answered from a thread of their own.

The server runs outside the event loop on purpose: a loop wedged by a sync call must
make ``/healthz`` fail, not hang. Loop progress is measured by :class:`LoopWatchdog`, a
task on the worker's loop that records a tick every ``interval`` seconds; the broker
connection by a ``connected()`` callable the worker provides.

* ``/healthz``: 200 when connected and the loop ticked within ``max_stall`` seconds,
  else 503. The body is JSON saying which check failed.
* ``/livez``: the loop check alone (restart-worthy); ``/readyz``: the connection alone.
* ``/metrics``: Prometheus text, when a :class:`PrometheusReader` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol

from brokerjobs.errors import ConfigurationError

if TYPE_CHECKING:
    from brokerjobs.telemetry.prometheus import PrometheusReader

log = logging.getLogger("brokerjobs.telemetry")


class ConnectionState(Protocol):
    """What the health check needs from a worker."""

    @property
    def connected(self) -> bool:
        """False while the broker connection (any queue's subscription) is lost."""
        ...


class LoopWatchdog:
    """Records that the event loop is making progress; ``start()`` on that loop."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.last_tick = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.last_tick = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="brokerjobs-tick")

    async def _tick(self) -> None:
        while True:
            self.last_tick = time.monotonic()
            await asyncio.sleep(self.interval)

    def stalled_for(self) -> float:
        """Seconds since the loop last ticked."""
        return max(0.0, time.monotonic() - self.last_tick)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class HealthServer:
    """The HTTP server; :meth:`start` serves in a daemon thread, :meth:`stop` ends it."""

    def __init__(
        self,
        port: int,
        *,
        connected: Callable[[], bool],
        watchdog: LoopWatchdog,
        metrics: PrometheusReader | None = None,
        host: str = "0.0.0.0",  # probes come from outside the pod
        max_stall: float = 10.0,
    ) -> None:
        self.connected = connected
        self.watchdog = watchdog
        self.metrics = metrics
        self.max_stall = max_stall
        try:
            self._server = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:  # in use, or a port below 1024 without the right
            raise ConfigurationError(
                f"cannot serve /healthz and /metrics on port {port}: {exc.strerror or exc}; "
                "another process (or worker) holds it: choose another --metrics-port "
                "(BROKERJOBS_METRICS_PORT)"
            ) from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="brokerjobs-health", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def check(self, *, loop: bool = True, connection: bool = True) -> tuple[bool, dict[str, Any]]:
        """Run the checks; ``(healthy, details)``."""
        details: dict[str, Any] = {}
        problems = []
        if connection:
            try:
                up = bool(self.connected())
            except Exception as exc:  # a broken probe must not break the endpoint
                up = False
                details["connection_error"] = type(exc).__name__
            details["connected"] = up
            if not up:
                problems.append("broker connection lost")
        if loop:
            stalled = self.watchdog.stalled_for()
            details["loop_stalled_seconds"] = round(stalled, 3)
            if stalled > self.max_stall:
                problems.append(f"event loop made no progress for {stalled:.1f} s")
        details["status"] = "failing" if problems else "ok"
        if problems:
            details["problems"] = problems
        return not problems, details


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            checks = {
                "/healthz": {},
                "/livez": {"connection": False},
                "/readyz": {"loop": False},
            }
            if path in checks:
                healthy, details = server.check(**checks[path])
                body = json.dumps(details).encode()
                self._send(200 if healthy else 503, "application/json", body)
            elif path == "/metrics" and server.metrics is not None:
                from brokerjobs.telemetry.prometheus import CONTENT_TYPE

                self._send(200, CONTENT_TYPE, server.metrics.render().encode())
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health server: " + format, *args)

    return Handler


def serve_health(
    port: int,
    *,
    connected: Callable[[], bool],
    watchdog: LoopWatchdog,
    metrics: PrometheusReader | None = None,
    host: str = "0.0.0.0",
    max_stall: float = 10.0,
) -> HealthServer:
    """Start a :class:`HealthServer` on ``port`` and return it (``stop()`` when done)."""
    return HealthServer(
        port,
        connected=connected,
        watchdog=watchdog,
        metrics=metrics,
        host=host,
        max_stall=max_stall,
    ).start()
