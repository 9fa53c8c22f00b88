"""The autoscaling signal: queue depth gauges, the same names on every backend.

:class:`QueueStatsGauges` polls ``backend.stats(queue)`` on the event loop every
``interval`` seconds and reports the last snapshot through observable gauges (the SDK
collects on its own thread, where the async backend cannot be called):

| metric | unit | meaning |
| --- | --- | --- |
| ``brokerjobs.queue.ready`` | ``{message}`` | deliverable now (delayed excluded) |
| ``brokerjobs.queue.in_flight`` | ``{message}`` | delivered, not settled |
| ``brokerjobs.queue.delayed`` | ``{message}`` | waiting for a delay or retry backoff |
| ``brokerjobs.queue.dead`` | ``{message}`` | in the dead-letter queue |
| ``brokerjobs.queue.oldest_ready_age`` | ``s`` | age of the oldest ready message, where known |

Attributes: ``messaging.system`` and ``messaging.destination.name`` (the queue).
:func:`stats_document` is the same data as JSON (``brokerjobs stats --json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any, Final

from opentelemetry.metrics import MeterProvider, Observation

from brokerjobs.backend import Backend, QueueStats
from brokerjobs.telemetry import semconv as sc
from brokerjobs.telemetry.observable import observe

log = logging.getLogger("brokerjobs.telemetry")

FIELDS: Final = ("ready", "in_flight", "delayed", "dead", "oldest_ready_age")


def stats_document(stats: Sequence[QueueStats], backend: str | None = None) -> dict[str, Any]:
    """``{"queues": [{"queue", "ready", "in_flight", ...}]}`` (what ``stats --json`` prints).

    With ``backend``, a ``"backend"`` key names it too.
    """
    document: dict[str, Any] = {"queues": [asdict(item) for item in stats]}
    if backend is not None:
        document["backend"] = backend
    return document


class QueueStatsGauges:
    """Polls queue stats and reports them as gauges; ``start()`` on the worker's loop."""

    def __init__(
        self,
        backend: Backend,
        queues: Sequence[str],
        *,
        interval: float = 15.0,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.backend = backend
        self.queues = list(queues)
        self.interval = interval
        self.system = sc.system_name(backend.name)
        self.latest: dict[str, QueueStats] = {}
        self.last_success: float | None = None
        """Monotonic time of the last poll that read every queue."""
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        for field in FIELDS:
            observe(
                self,
                functools.partial(QueueStatsGauges._observations, field=field),
                f"brokerjobs.queue.{field}",
                "gauge",
                unit="s" if field == "oldest_ready_age" else "{message}",
                description=_DESCRIPTIONS[field],
                meter_provider=meter_provider,
            )

    def _observations(self, field: str) -> Iterable[Observation]:
        for queue, stats in list(self.latest.items()):
            value = getattr(stats, field)
            if value is not None:
                attributes = {sc.MESSAGING_SYSTEM: self.system, sc.DESTINATION_NAME: queue}
                yield Observation(value, attributes)

    async def refresh(self) -> list[QueueStats]:
        """Read every queue now; a queue that fails is dropped (no stale values reported)."""
        results = await asyncio.gather(
            *(self.backend.stats(queue) for queue in self.queues), return_exceptions=True
        )
        fresh: list[QueueStats] = []
        for queue, result in zip(self.queues, results, strict=True):
            if isinstance(result, BaseException):
                self.latest.pop(queue, None)
                self._report(queue, result)
            else:
                self.latest[queue] = result
                fresh.append(result)
        if len(fresh) == len(self.queues):
            self.last_success = time.monotonic()
            self._failing = False
        return fresh

    def _report(self, queue: str, exc: BaseException) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        log.log(level, "could not read stats of queue %r: %s: %s", queue, type(exc).__name__, exc)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                await self.refresh()
            await asyncio.sleep(self.interval)

    def start(self) -> asyncio.Task[None]:
        """Start polling on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="brokerjobs-stats")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


_DESCRIPTIONS: Final = {
    "ready": "Messages deliverable now (delayed ones excluded): the autoscaling signal.",
    "in_flight": "Messages delivered to a consumer and not settled yet.",
    "delayed": "Messages waiting for a delay or a retry backoff to pass.",
    "dead": "Messages in the dead-letter queue.",
    "oldest_ready_age": "Seconds since the oldest ready message became ready (where known).",
}
