"""Running a scheduler as a process (``brokerjobs scheduler``) or beside a worker.

``/healthz`` of a scheduler (``--metrics-port``) fails when its tick loop made no pass
for ``max_stall`` seconds (a wedged loop, a claim or publish that hangs) or the last
pass failed on a broker error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator

from brokerjobs.backend import Backend
from brokerjobs.schedules.scheduler import Scheduler
from brokerjobs.telemetry.health import HealthServer, LoopWatchdog

log = logging.getLogger("brokerjobs.schedules")


class TickLoopWatchdog(LoopWatchdog):
    """A watchdog fed by the scheduler's passes instead of a timer of its own."""

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__()
        self.scheduler = scheduler

    def start(self) -> None:
        return None

    def stalled_for(self) -> float:
        return max(0.0, time.monotonic() - self.scheduler.last_pass)

    async def stop(self) -> None:
        return None


def health_server(scheduler: Scheduler, port: int, *, max_stall: float = 30.0) -> HealthServer:
    """``/healthz``, ``/livez``, ``/readyz`` and ``/metrics`` for ``scheduler`` (not started)."""
    from brokerjobs.telemetry.sdk import configure_sdk_from_env

    sdk = configure_sdk_from_env(prometheus=True)
    return HealthServer(
        port,
        connected=lambda: scheduler.last_error is None,
        watchdog=TickLoopWatchdog(scheduler),
        metrics=sdk.prometheus,
        max_stall=max_stall,
    )


@contextlib.asynccontextmanager
async def scheduler_beside(backend: Backend, *, enabled: bool) -> AsyncIterator[None]:
    """Run the declared schedules as a task while the body runs (``consume --with-scheduler``)."""
    if not enabled:
        yield
        return
    scheduler = Scheduler(backend)
    log.info(
        "scheduler: %d schedule(s), ticks claimed by %s",
        len(scheduler.schedules),
        scheduler.claimer.description,
    )
    task = asyncio.create_task(scheduler.run(), name="brokerjobs-scheduler")
    try:
        yield
    finally:
        scheduler.stop()
        await task


async def run_until_signal(scheduler: Scheduler, *, metrics_port: int | None = None) -> None:
    """Run ``scheduler`` until SIGTERM/SIGINT, serving health on ``metrics_port``."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, scheduler.stop)
    server = health_server(scheduler, metrics_port) if metrics_port is not None else None
    if server is not None:
        server.start()
    log.info(
        "scheduler: %d schedule(s), ticks claimed by %s",
        len(scheduler.schedules),
        scheduler.claimer.description,
    )
    try:
        await scheduler.run()
    finally:
        if server is not None:
            server.stop()
        for signum in signals:
            loop.remove_signal_handler(signum)
