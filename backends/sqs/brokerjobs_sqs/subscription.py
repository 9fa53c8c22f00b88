"""Long-polling consumer: pollers fill a prefetch buffer, a heartbeat keeps leases alive.

Shutdown order matters (celery/kombu#1835): ``stop()`` first lets every in-flight
``ReceiveMessage`` return, so nothing can be received after the release, and only then
gives the buffered messages back. Until the caller settles what it was handed, the
heartbeat keeps extending those leases too, even after ``stop()``.

A *failed* subscription is different: once iteration raised, the caller holds none of
the deliveries it was handed (the :class:`~brokerjobs.backend.Subscription` contract;
the worker never settles them). Their leases are dropped then, so SQS redelivers them
after one visibility timeout; extending them would hide them for as long as this
process lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from brokerjobs.backend import Delivery, Subscription
from brokerjobs.errors import BrokerJobsError, BrokerUnavailableError, QueueNotFoundError
from brokerjobs_sqs.batching import MAX_BATCH
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.queues import QueueRef
from brokerjobs_sqs.receipt import Receipt, renewals
from brokerjobs_sqs.settings import SQSSettings
from brokerjobs_sqs.settling import Settler
from brokerjobs_sqs.translate import translated
from brokerjobs_sqs.wire import parse

log = logging.getLogger("brokerjobs.sqs")

HOLD_WINDOW = 1.0
"""A message due within this many seconds is held in memory rather than hopped again."""
POLL_FAILURES = 3
"""Consecutive failed receives before iteration raises (the worker then reconnects)."""


class SQSSubscription(Subscription):
    """Deliveries from one or more queues, earlier queues first; see the module docstring."""

    def __init__(
        self,
        refs: Sequence[QueueRef],
        prefetch: int,
        *,
        settings: SQSSettings,
        clients: ClientHolder,
        settler: Settler,
        now: Callable[[], float],
        forget_queue: Callable[[str], None] = lambda name: None,
    ) -> None:
        self._refs = list(refs)
        self._forget_queue = forget_queue
        self._prefetch = prefetch
        self._settings = settings
        self._clients = clients
        self._settler = settler
        self._now = now
        self._buffers: dict[str, deque[Receipt]] = {ref.name: deque() for ref in refs}
        self._owned: set[Receipt] = set()
        self._unyielded: set[Receipt] = set()
        self._held: dict[Receipt, asyncio.TimerHandle] = {}
        self._reserved = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._halt = asyncio.Event()
        self._stopped = False
        self._abandoned = False
        self._error: BaseException | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Task[None] | None = None
        per_queue = min(settings.max_pollers, max(1, math.ceil(prefetch / MAX_BATCH)))
        loop = asyncio.get_running_loop()
        self._pollers = [
            loop.create_task(self._poll(ref)) for ref in refs for _ in range(per_queue)
        ]
        self._heartbeat = loop.create_task(self._beat())

    # -- iteration ---------------------------------------------------------------------
    async def __anext__(self) -> Delivery:
        while True:
            if self._abandoned:
                raise BrokerUnavailableError("SQS subscription was abandoned (simulated crash)")
            if self._stopped:
                raise StopAsyncIteration
            receipt = self._pop()
            if receipt is not None:
                return receipt.delivery()
            if self._error is not None:
                self._disown_yielded()
                raise self._error
            self._ready.clear()
            await self._ready.wait()

    def _pop(self) -> Receipt | None:
        # Synchronous from the wake-up to the return: a cancelled __anext__ takes nothing.
        for buffer in self._buffers.values():
            while buffer:
                receipt = buffer.popleft()
                if receipt in self._unyielded:
                    self._unyielded.discard(receipt)
                    return receipt
        return None

    def forget(self, receipt: Receipt) -> None:
        """The receipt was settled (or lost): it no longer counts against the prefetch."""
        self._owned.discard(receipt)
        self._unyielded.discard(receipt)
        handle = self._held.pop(receipt, None)
        if handle is not None:
            handle.cancel()
        self._room.set()

    def take_group(self, receipt: Receipt) -> list[Receipt]:
        """Unyielded messages of ``receipt``'s FIFO group, now settled by the caller.

        When a FIFO message goes back to its queue, the later ones of its group fetched in
        the same batch must go back too, or they would overtake it.
        """
        mates = [
            r
            for r in self._buffers[receipt.ref.name]
            if r in self._unyielded and r.group == receipt.group and r.ref is receipt.ref
        ]
        for mate in mates:
            mate.settled = True
            self.forget(mate)
        return mates

    # -- polling -----------------------------------------------------------------------
    def _free(self) -> int:
        return self._prefetch - len(self._owned) - self._reserved

    async def _poll(self, ref: QueueRef) -> None:
        failures = 0
        while not self._stopped:
            wanted = min(MAX_BATCH, self._free())
            if wanted <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            self._reserved += wanted
            began = time.monotonic()
            try:
                messages = await self._clients.run(self._receive, ref, wanted)
            except QueueNotFoundError as exc:
                self._forget_queue(ref.name)  # deleted: the next subscription resolves it anew
                self._fail(exc)
                return
            except BrokerJobsError as exc:
                failures += 1
                if failures >= POLL_FAILURES:
                    self._fail(exc)
                    return
                log.warning("receiving from %s failed (%s); retrying", ref.sqs_name, exc)
                await self._pause(min(0.2 * 4**failures, 5.0))
                continue
            except Exception as exc:  # a bug must surface in the consumer, not vanish
                self._fail(exc)
                raise
            finally:
                self._reserved -= wanted
            failures = 0
            self._accept(ref, messages, began)

    def _receive(self, ref: QueueRef, count: int) -> list[Any]:
        with translated("ReceiveMessage", ref.sqs_name):
            response = self._clients.client.receive_message(
                QueueUrl=ref.url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self._settings.wait_time,
                VisibilityTimeout=self._settings.visibility_timeout,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
            )
        return list(response.get("Messages", []))

    def _accept(self, ref: QueueRef, messages: list[Any], began: float) -> None:
        if self._abandoned:
            return  # as after kill -9: these come back when their visibility lapses
        wall = self._now()
        hops: list[Receipt] = []
        loop = asyncio.get_running_loop()
        for message in messages:
            body, meta, count = parse(message)
            receipt = Receipt(
                ref=ref,
                handle=message["ReceiptHandle"],
                body=body,
                meta=meta,
                attempt=max(1, meta.base + count),
                received_at=began,
                lease_until=began + self._settings.visibility_timeout,
                group=(message.get("Attributes") or {}).get("MessageGroupId"),
                owner=self,
            )
            remaining = 0.0 if meta.due is None else meta.due - wall
            if remaining > HOLD_WINDOW and not ref.fifo:
                hops.append(receipt)
                continue
            self._owned.add(receipt)
            self._unyielded.add(receipt)
            if remaining > 0:
                self._held[receipt] = loop.call_later(remaining, self._ripen, receipt)
            else:
                self._buffers[ref.name].append(receipt)
                self._ready.set()
        if hops:
            self._spawn(self._hop(hops))

    def _ripen(self, receipt: Receipt) -> None:
        if self._held.pop(receipt, None) is not None and receipt in self._unyielded:
            self._buffers[receipt.ref.name].append(receipt)
            self._ready.set()

    async def _hop(self, receipts: list[Receipt]) -> None:
        try:
            await self._clients.run(self._settler.hop, receipts)
        except BrokerJobsError as exc:
            log.warning("delay hop failed (%s); the messages return after their visibility", exc)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._ready.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._halt.wait(), seconds)

    # -- leases ------------------------------------------------------------------------
    async def _beat(self) -> None:
        """Extend every lease of this subscription, yielded or not, until it is settled."""
        timeout = self._settings.visibility_timeout
        interval = max(0.2, timeout / 3)
        while not (self._stopped and not self._owned):
            await asyncio.sleep(interval)
            expiring, expired = renewals(self._owned, time.monotonic(), timeout, interval)
            for receipt in expired:
                self._lose(receipt)
            if not expiring:
                continue
            try:
                lost = await self._clients.run(
                    self._settler.set_visibility, expiring, lambda r: timeout
                )
            except BrokerJobsError as exc:
                log.warning("visibility heartbeat failed (%s); will try again", exc)
                continue
            for receipt in lost:
                self._lose(receipt)

    def _lose(self, receipt: Receipt) -> None:
        receipt.lost = True
        self.forget(receipt)

    def _disown_yielded(self) -> None:
        """Stop extending what iteration handed out: the failure ends the caller's hold."""
        yielded = [r for r in self._owned if r not in self._unyielded]
        if not yielded:
            return
        for receipt in yielded:
            self._lose(receipt)
        log.warning(
            "subscription to %s failed; %d delivered message(s) are no longer extended "
            "and return after their visibility timeout",
            ", ".join(ref.sqs_name for ref in self._refs),
            len(yielded),
        )

    # -- shutdown ----------------------------------------------------------------------
    async def stop(self) -> None:
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._shutdown())
        await asyncio.shield(self._stopping)

    async def _shutdown(self) -> None:
        self._stopped = True
        self._ready.set()
        self._room.set()
        self._halt.set()
        # In-flight long polls finish first; what they bring back is released below.
        await asyncio.gather(*self._pollers, return_exceptions=True)
        if self._chores:
            await asyncio.gather(*list(self._chores), return_exceptions=True)
        for handle in self._held.values():
            handle.cancel()
        self._held.clear()
        pending = list(self._unyielded)
        for receipt in pending:
            receipt.settled = True
            self.forget(receipt)
        for buffer in self._buffers.values():
            buffer.clear()
        if not pending:
            return
        try:
            await self._clients.run(self._settler.release, pending)
        except BrokerJobsError as exc:
            log.warning(
                "releasing %d prefetched message(s) failed (%s); they return after their "
                "visibility timeout",
                len(pending),
                exc,
            )

    @property
    def finished(self) -> bool:
        """Stopped with nothing left to extend: the backend can let go of it."""
        return self._stopped and self._heartbeat.done()

    def abandon(self) -> None:
        """Drop everything without settling or releasing, as a killed process would."""
        self._abandoned = self._stopped = True
        for task in (*self._pollers, self._heartbeat, *self._chores):
            task.cancel()
        for handle in self._held.values():
            handle.cancel()
        self._held.clear()
        for receipt in self._owned:
            receipt.lost = True
        self._owned.clear()
        self._unyielded.clear()
        for buffer in self._buffers.values():
            buffer.clear()
        self._ready.set()

    async def aclose(self) -> None:
        """Stop, then stop extending the leases of deliveries still unsettled."""
        await self.stop()
        self._heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._heartbeat
