"""A consumer on the jobs table: claims rows in batches, at most ``prefetch`` unsettled.

Claims run in one background task per subscription, so cancelling ``__anext__`` never
loses a row: whatever the claim returns lands in the buffer for the next call, or is
released by :meth:`SQLSubscription.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from brokerjobs.backend import Delivery, Subscription
from brokerjobs_sql.leases import RowLease

if TYPE_CHECKING:
    from brokerjobs_sql.backend import SQLBackend


class SQLSubscription(Subscription):
    """Deliveries from ``queues`` (served in the order given)."""

    def __init__(self, backend: SQLBackend, queues: Sequence[str], prefetch: int) -> None:
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, got {prefetch}")
        self.queues = list(queues)
        self.prefetch = prefetch
        self._backend = backend
        self._loop = asyncio.get_running_loop()
        self._buffer: deque[Delivery] = deque()
        self._owned: set[tuple[int, str]] = set()
        self._wake = asyncio.Event()
        self._fetcher: asyncio.Task[None] | None = None
        self._stopped = False
        self._on_stop: list[Callable[[], None]] = []

    # -- iteration ---------------------------------------------------------------------
    async def __anext__(self) -> Delivery:
        while True:
            if self._stopped:
                raise StopAsyncIteration
            if self._buffer:
                return self._buffer.popleft()
            fetcher = self._fetcher
            if fetcher is None:
                fetcher = self._fetcher = self._loop.create_task(self._fill())
            try:
                # Shielded: a cancelled caller leaves the claim running into the buffer.
                await asyncio.shield(fetcher)
            finally:
                if fetcher.done() and self._fetcher is fetcher:
                    self._fetcher = None

    async def _fill(self) -> None:
        backend = self._backend
        while not self._stopped:
            room = self.prefetch - len(self._owned)
            if room <= 0:
                # Only a settle frees room; an earlier wake-up must not make this spin.
                self._wake.clear()
                await self._sleep(None)
                continue
            self._wake.clear()
            token = uuid.uuid4().hex
            claim = await backend.claim_rows(self.queues, room, token)
            if claim.rows:
                for row in claim.rows:
                    self._owned.add((row.row_id, token))
                    lease = RowLease(row.row_id, token, self)
                    self._buffer.append(
                        Delivery(row.queue, row.body, row.message_id, row.attempt, lease)
                    )
                backend.keeper.hold(token, len(claim.rows))
                return
            wait = backend.poll_interval
            if claim.next_due is not None:
                wait = min(wait, max(claim.next_due, 0.005))
            await self._sleep(wait)

    async def _sleep(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    # -- notifications from the backend -------------------------------------------------
    def poke(self) -> None:
        """Something may be ready: claim now instead of at the next poll (any thread)."""
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting anyway
            self._loop.call_soon_threadsafe(self._wake.set)

    def on_settled(self, lease: RowLease) -> bool:
        """``lease`` was settled or lost: free its prefetch slot. False if already freed."""
        key = (lease.row_id, lease.token)
        if key not in self._owned:
            return False
        self._owned.discard(key)
        self._wake.set()
        return True

    def add_stop_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when the subscription stops or is abandoned."""
        self._on_stop.append(callback)

    # -- ending ------------------------------------------------------------------------
    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(fetcher)
        pending = list(self._buffer)
        self._buffer.clear()
        self._run_stop_callbacks()
        if pending:
            leases = [d.receipt for d in pending if isinstance(d.receipt, RowLease)]
            for lease in leases:
                if self.on_settled(lease):
                    self._backend.keeper.drop(lease.token)
            await self._backend.release_leases(leases)

    def abandon(self) -> None:
        """Stop as a killed process would: nothing released, leases left to expire."""
        self._stopped = True
        self._buffer.clear()
        self._owned.clear()
        if self._fetcher is not None:
            self._fetcher.cancel()
            self._fetcher = None
        self._run_stop_callbacks()

    def _run_stop_callbacks(self) -> None:
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            callback()
