"""Batch calls with per-entry results: retry only the ``Failed`` entries, report the rest.

``DeleteBatcher`` gathers acks from many coroutines for a few milliseconds so that ten of
them share one ``DeleteMessageBatch`` call; every ack still returns only once its own
entry was deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from brokerjobs.errors import BackendError, BrokerUnavailableError, DeliveryLostError
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.settings import SQSSettings
from brokerjobs_sqs.translate import LOST_RECEIPT_CODES, scrub, translated

MAX_BATCH = 10


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """A batch entry SQS refused for good."""

    index: int
    code: str
    message: str
    sender_fault: bool


def call_batch(
    call: Callable[[list[dict[str, Any]]], Any],
    entries: Sequence[dict[str, Any]],
    *,
    operation: str,
    queue: str,
    attempts: int,
) -> list[EntryFailure]:
    """Call a ``*Batch`` operation on up to ten entries, re-sending only failed ones.

    ``entries`` get their ``Id`` from their index. Entries failed by the server
    (``SenderFault`` false) are tried again ``attempts`` times with a short backoff; what
    is still failing, or failed by our own fault, is returned. Whole-call errors raise
    (translated), transient ones after the same number of tries.
    """
    pending = {str(i): dict(entry, Id=str(i)) for i, entry in enumerate(entries)}
    failures: list[EntryFailure] = []
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.05 * 2**attempt, 1.0))
        try:
            with translated(operation, queue):
                response = call(list(pending.values()))
        except BrokerUnavailableError:
            if attempt + 1 == attempts:
                raise
            continue
        for ok in response.get("Successful", []):
            pending.pop(ok["Id"], None)
        for failed in response.get("Failed", []):
            failure = EntryFailure(
                index=int(failed["Id"]),
                code=str(failed.get("Code", "Unknown")),
                message=scrub(str(failed.get("Message", ""))),
                sender_fault=bool(failed.get("SenderFault", False)),
            )
            if failure.sender_fault or failure.code in LOST_RECEIPT_CODES:
                pending.pop(failed["Id"], None)
                failures.append(failure)
            elif attempt + 1 == attempts:
                failures.append(failure)
        if not pending or not response.get("Failed"):
            break
    return sorted(failures, key=lambda f: f.index)


class DeleteBatcher:
    """Coalesces ``DeleteMessage`` calls of one event loop into ``DeleteMessageBatch``."""

    def __init__(self, clients: ClientHolder, settings: SQSSettings) -> None:
        self._clients = clients
        self._settings = settings
        self._pending: dict[tuple[str, str], list[tuple[str, asyncio.Future[None]]]] = {}
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._runner = self._loop.create_task(self._run())
        self._sends: set[asyncio.Task[None]] = set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def delete(self, url: str, queue: str, handle: str) -> None:
        """Delete one message; returns once SQS confirmed it (raises otherwise)."""
        future: asyncio.Future[None] = self._loop.create_future()
        self._pending.setdefault((url, queue), []).append((handle, future))
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if all(len(items) < MAX_BATCH for items in self._pending.values()):
                await asyncio.sleep(self._settings.ack_linger)
            pending, self._pending = self._pending, {}
            for (url, queue), items in pending.items():
                for start in range(0, len(items), MAX_BATCH):
                    chunk = items[start : start + MAX_BATCH]
                    task = self._loop.create_task(self._send(url, queue, chunk))
                    self._sends.add(task)
                    task.add_done_callback(self._sends.discard)

    async def _send(
        self, url: str, queue: str, items: list[tuple[str, asyncio.Future[None]]]
    ) -> None:
        client = self._clients.client
        entries = [{"ReceiptHandle": handle} for handle, _ in items]

        def call(batch: list[dict[str, Any]]) -> Any:
            return client.delete_message_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]

        try:
            failures = await self._clients.run(
                call_batch,
                call,
                entries,
                operation="DeleteMessageBatch",
                queue=queue,
                attempts=self._settings.batch_attempts,
            )
        except Exception as exc:
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        failed = {failure.index: failure for failure in failures}
        for index, (_, future) in enumerate(items):
            if future.done():
                continue
            failure = failed.get(index)
            if failure is None:
                future.set_result(None)
            elif failure.code in LOST_RECEIPT_CODES:
                future.set_exception(
                    DeliveryLostError(f"SQS refused the ack on queue {queue!r}: {failure.code}")
                )
            else:
                future.set_exception(
                    BackendError(
                        f"SQS DeleteMessageBatch on queue {queue!r} failed: "
                        f"{failure.code}: {failure.message}"
                    )
                )

    async def aclose(self) -> None:
        """Send what is pending, wait for calls in flight, then stop."""
        if self._pending:
            self._wakeup.set()
            await asyncio.sleep(self._settings.ack_linger)
            await asyncio.sleep(0)
        if self._sends:
            await asyncio.gather(*list(self._sends), return_exceptions=True)
        self._runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
