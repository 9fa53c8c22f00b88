"""Visibility changes and re-sends: retry, release, extend, dead-letter and delay hops.

SQS redelivers a message by letting its visibility lapse, and counts every receive in
``ApproximateReceiveCount``. Where a receive must *not* count (a release, a delay hop), or
where SQS cannot wait long enough (a retry past the 12 h visibility cap), the message is
re-sent as a copy carrying ``bj.base`` (see :mod:`brokerjobs_sqs.wire`) and the original is
deleted once the copy is accepted: a crash between the two yields a duplicate, never a loss.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from brokerjobs.errors import BackendError, DeliveryLostError
from brokerjobs_sqs.batching import MAX_BATCH, call_batch
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.publisher import Outgoing, Publisher
from brokerjobs_sqs.queues import QueueRef
from brokerjobs_sqs.receipt import Receipt
from brokerjobs_sqs.settings import MAX_VISIBILITY, SQSSettings
from brokerjobs_sqs.translate import LOST_RECEIPT_CODES, translated
from brokerjobs_sqs.wire import MAX_REASON, Meta, for_resend, printable

log = logging.getLogger("brokerjobs.sqs")


class Settler:
    """Blocking settle operations on receipts; run them in the backend's thread pool."""

    def __init__(
        self,
        settings: SQSSettings,
        clients: ClientHolder,
        publisher: Publisher,
        now: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._publisher = publisher
        self._now = now

    # -- visibility --------------------------------------------------------------------
    def set_visibility(
        self, receipts: Sequence[Receipt], seconds: Callable[[Receipt], int]
    ) -> list[Receipt]:
        """``ChangeMessageVisibilityBatch``, updating leases; returns receipts SQS lost."""
        lost: list[Receipt] = []
        for ref, group in _by_queue(receipts):
            for start in range(0, len(group), MAX_BATCH):
                chunk = group[start : start + MAX_BATCH]
                values = [seconds(r) for r in chunk]
                began = time.monotonic()
                entries = [
                    {"ReceiptHandle": r.handle, "VisibilityTimeout": v}
                    for r, v in zip(chunk, values, strict=True)
                ]
                client = self._clients.client

                def call(
                    batch: list[dict[str, Any]], url: str = ref.url, client: Any = client
                ) -> Any:
                    return client.change_message_visibility_batch(QueueUrl=url, Entries=batch)

                failures = call_batch(
                    call,
                    entries,
                    operation="ChangeMessageVisibilityBatch",
                    queue=ref.sqs_name,
                    attempts=self._settings.batch_attempts,
                )
                failed = {f.index: f for f in failures}
                for index, (receipt, value) in enumerate(zip(chunk, values, strict=True)):
                    failure = failed.get(index)
                    if failure is None:
                        receipt.lease_until = began + value
                    elif failure.code in LOST_RECEIPT_CODES:
                        lost.append(receipt)
                    else:
                        raise BackendError(
                            f"SQS ChangeMessageVisibility on queue {ref.sqs_name!r} failed: "
                            f"{failure.code}: {failure.message}"
                        )
        return lost

    def extend(self, receipt: Receipt, seconds: float) -> None:
        """Keep ``receipt`` invisible for at least ``seconds`` more (up to the 12 h cap)."""
        began = time.monotonic()
        room = receipt.lease_cap - began
        wanted = math.ceil(seconds)
        if wanted > room:
            if not receipt.cap_warned:
                receipt.cap_warned = True
                log.warning(
                    "message %s on %s reaches SQS's 12 h visibility cap: lease extended "
                    "to the cap only, it will be redelivered after that",
                    receipt.meta.message_id,
                    receipt.ref.sqs_name,
                )
            wanted = math.floor(room)
            if wanted < 1 or began + wanted <= receipt.lease_until:
                return
        with translated("ChangeMessageVisibility", receipt.ref.sqs_name):
            self._clients.client.change_message_visibility(
                QueueUrl=receipt.ref.url, ReceiptHandle=receipt.handle, VisibilityTimeout=wanted
            )
        receipt.lease_until = max(receipt.lease_until, began + wanted)

    def retry(self, receipt: Receipt, delay: float) -> None:
        """Redeliver after ``delay`` (visibility change; a re-send past the 12 h cap)."""
        visibility = max(0, math.ceil(delay))
        room = receipt.lease_cap - time.monotonic()
        if visibility <= min(room, MAX_VISIBILITY):
            with translated("ChangeMessageVisibility", receipt.ref.sqs_name):
                self._clients.client.change_message_visibility(
                    QueueUrl=receipt.ref.url,
                    ReceiptHandle=receipt.handle,
                    VisibilityTimeout=visibility,
                )
            return
        if receipt.ref.fifo:
            # A copy would jump behind later messages of its group: wait as long as allowed.
            log.warning(
                "retry delay of %.0f s on FIFO queue %s exceeds SQS's 12 h visibility cap; "
                "capped at %d s",
                delay,
                receipt.ref.sqs_name,
                int(room),
            )
            self.extend(receipt, room)
            return
        meta = for_resend(receipt.meta, base=receipt.attempt, due=self._now() + delay)
        self._replace([receipt], [self._copy(receipt, meta, delay)], "retry")

    def release(self, receipts: Sequence[Receipt]) -> None:
        """Make unstarted messages deliverable now without counting their delivery."""
        fifo = [r for r in receipts if r.ref.fifo]
        standard = [r for r in receipts if not r.ref.fifo]
        if fifo:
            # Copies would lose their place in the group (and be deduplicated): SQS counts
            # this receive, so a released FIFO message shows one attempt more.
            self.set_visibility(fifo, lambda r: 0)
        if standard:
            now = self._now()
            copies = []
            for r in standard:
                due = r.meta.due if r.meta.due is not None and r.meta.due > now else None
                copies.append(self._copy(r, for_resend(r.meta, base=r.attempt - 1, due=due), 0))
            refused = self._replace(standard, copies, "release")
            if refused:
                self.set_visibility(refused, lambda r: 0)

    def defer(self, receipt: Receipt, delay: float) -> None:
        """Deliverable again after ``delay`` without counting this delivery: a copy whose
        ``bj.base`` takes the receive back. FIFO queues change the visibility instead (a
        copy would lose its place in the group), which counts the receive."""
        if receipt.ref.fifo:
            self.retry(receipt, delay)
            return
        long = delay > self._settings.max_native_delay
        meta = for_resend(
            receipt.meta, base=receipt.attempt - 1, due=self._now() + delay if long else None
        )
        if self._replace([receipt], [self._copy(receipt, meta, delay)], "defer"):
            self.retry(receipt, delay)  # the copy was refused: wait, counted

    def hop(self, receipts: Sequence[Receipt]) -> None:
        """Re-send messages that are not due yet, as one more native delay."""
        now = self._now()
        copies = []
        for r in receipts:
            remaining = (r.meta.due or now) - now
            copies.append(
                self._copy(r, for_resend(r.meta, base=r.meta.base, due=r.meta.due), remaining)
            )
        self._replace(receipts, copies, "delay hop")

    def dead_letter(self, receipt: Receipt, reason: str) -> None:
        """Copy to the DLQ with ``reason``, then delete the original."""
        ref = receipt.ref
        dead_url = ref.require_dead_letter_url()
        budget = max(64, min(MAX_REASON, ref.max_size - len(receipt.body.text.encode()) - 512))
        meta = Meta(
            receipt.meta.message_id,
            reason=printable(reason)[:budget],
            attempt=receipt.attempt,
        )
        group = (receipt.group or self._settings.message_group) if ref.fifo else None
        copy = Outgoing(receipt.body, meta, group=group)
        if not self._publisher.send_copies(ref, [copy], url=dead_url):
            raise BackendError(
                f"SQS refused the dead letter of message {receipt.meta.message_id} "
                f"for {ref.dead_letter_name!r}; it stays on {ref.sqs_name!r}"
            )
        self.delete([receipt])

    # -- helpers -----------------------------------------------------------------------
    def _copy(self, receipt: Receipt, meta: Meta, delay: float) -> Outgoing:
        seconds = 0 if delay <= 0 else min(math.floor(delay), self._settings.max_native_delay)
        return Outgoing(receipt.body, meta, delay_seconds=seconds)

    def _replace(
        self, receipts: Sequence[Receipt], copies: Sequence[Outgoing], why: str
    ) -> list[Receipt]:
        """Send ``copies`` then delete the originals they replace; returns those not copied."""
        ref = receipts[0].ref
        sent = self._publisher.send_copies(ref, copies)
        replaced = [r for i, r in enumerate(receipts) if i in sent]
        refused = [r for i, r in enumerate(receipts) if i not in sent]
        if refused:
            log.warning("SQS refused %d %s copies on %s", len(refused), why, ref.sqs_name)
        if replaced:
            self.delete(replaced)
        return refused

    def delete(self, receipts: Sequence[Receipt]) -> None:
        """``DeleteMessageBatch`` without coalescing (for the backend's own re-sends)."""
        client = self._clients.client
        for ref, group in _by_queue(receipts):
            for start in range(0, len(group), MAX_BATCH):
                chunk = group[start : start + MAX_BATCH]

                def call(batch: list[dict[str, Any]], url: str = ref.url) -> Any:
                    return client.delete_message_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]

                failures = call_batch(
                    call,
                    [{"ReceiptHandle": r.handle} for r in chunk],
                    operation="DeleteMessageBatch",
                    queue=ref.sqs_name,
                    attempts=self._settings.batch_attempts,
                )
                if failures:
                    raise DeliveryLostError(
                        f"SQS did not delete {len(failures)} message(s) on {ref.sqs_name!r} "
                        f"({failures[0].code}); a duplicate may be delivered"
                    )


def _by_queue(receipts: Sequence[Receipt]) -> list[tuple[QueueRef, list[Receipt]]]:
    groups: dict[str, tuple[QueueRef, list[Receipt]]] = {}
    for receipt in receipts:
        groups.setdefault(receipt.ref.url, (receipt.ref, []))[1].append(receipt)
    return list(groups.values())
