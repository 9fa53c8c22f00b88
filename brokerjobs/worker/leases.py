"""Lease heartbeat: keep every delivery the worker holds owned while it holds it.

Both running jobs and deliveries buffered but not started are extended, so neither a
long job nor a message waiting behind one is redelivered to another worker meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from brokerjobs.backend import Backend, Delivery
from brokerjobs.errors import DeliveryLostError

log = logging.getLogger("brokerjobs.worker")


class Heartbeat:
    """Calls ``backend.extend(d, seconds=lease)`` for every held delivery each ``interval``."""

    def __init__(
        self,
        backend: Backend,
        held: Callable[[], Iterable[Delivery]],
        on_lost: Callable[[Delivery, Exception], None],
        *,
        lease: float,
        interval: float | None = None,
    ) -> None:
        if lease <= 0:
            raise ValueError(f"lease must be > 0 seconds, got {lease}")
        self._backend = backend
        self._held = held
        self._on_lost = on_lost
        self.lease = lease
        self.interval = interval if interval is not None else lease / 3
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat(), name="brokerjobs-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            deliveries = list(self._held())
            if deliveries:
                await asyncio.gather(*(self._extend(d) for d in deliveries))

    async def _extend(self, delivery: Delivery) -> None:
        try:
            await self._backend.extend(delivery, seconds=self.lease)
        except DeliveryLostError as exc:
            self._on_lost(delivery, exc)
        except Exception as exc:
            # Transient trouble: the next beat tries again well before the lease ends.
            log.warning("could not extend the lease of %s: %s", delivery.message_id, exc)
