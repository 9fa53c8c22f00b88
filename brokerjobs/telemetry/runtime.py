"""Everything ``brokerjobs consume`` needs for observability, in one object.

::

    observability = observe_worker(worker, metrics_port=9464)   # before worker.run()
    async with observability:
        await worker.run()

On construction: the SDK is configured from ``OTEL_*`` (once per process), secrets in
the environment are registered for redaction, and :class:`Telemetry` is installed on the
worker. Inside the ``async with``: the loop watchdog runs, queue stats are polled for
the gauges, and with a ``metrics_port`` the ``/healthz`` + ``/metrics`` server listens.
On exit everything stops and the SDK flushes.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from brokerjobs.telemetry.consumer import Telemetry
from brokerjobs.telemetry.health import HealthServer, LoopWatchdog
from brokerjobs.telemetry.queue_stats import QueueStatsGauges
from brokerjobs.telemetry.redact import register_environment_secrets
from brokerjobs.telemetry.sdk import SdkHandle, configure_sdk_from_env

if TYPE_CHECKING:
    from brokerjobs.worker import Worker


def worker_connected(worker: Worker) -> bool:
    """Whether every queue of ``worker`` has a live subscription.

    Uses ``Worker.connected`` when the worker has it; otherwise reads the intake's feeds
    (a stopgap until the worker exposes the property).
    """
    connected = getattr(worker, "connected", None)
    if isinstance(connected, bool):
        return connected
    intake = getattr(worker, "_intake", None)
    if intake is None:
        return False
    return all(feed.subscription is not None for feed in intake.feeds)


class WorkerObservability:
    """SDK, telemetry middleware, watchdog, queue gauges and health server for one worker."""

    def __init__(
        self,
        worker: Worker,
        *,
        metrics_port: int | None = None,
        metrics_host: str = "0.0.0.0",
        stats_interval: float = 15.0,
        max_stall: float = 10.0,
        sdk: SdkHandle | None = None,
    ) -> None:
        self.worker = worker
        self.sdk = sdk if sdk is not None else configure_sdk_from_env(prometheus=bool(metrics_port))
        register_environment_secrets()
        self.telemetry = Telemetry(worker.backend.name)
        self.telemetry.install(worker)
        self.watchdog = LoopWatchdog()
        self.gauges: QueueStatsGauges | None = None
        if self.sdk.meter_provider is not None:
            self.gauges = QueueStatsGauges(worker.backend, worker.queues, interval=stats_interval)
        self.server: HealthServer | None = None
        if metrics_port is not None:
            self.server = HealthServer(
                metrics_port,
                connected=lambda: worker_connected(worker),
                watchdog=self.watchdog,
                metrics=self.sdk.prometheus,
                host=metrics_host,
                max_stall=max_stall,
            )

    async def __aenter__(self) -> WorkerObservability:
        self.watchdog.start()
        if self.gauges is not None:
            self.gauges.start()
        if self.server is not None:
            self.server.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.server is not None:
            self.server.stop()
        if self.gauges is not None:
            await self.gauges.stop()
        await self.watchdog.stop()
        self.sdk.shutdown()


def observe_worker(worker: Worker, *, metrics_port: int | None = None) -> WorkerObservability:
    """A :class:`WorkerObservability` with the defaults (see the module docstring)."""
    return WorkerObservability(worker, metrics_port=metrics_port)
