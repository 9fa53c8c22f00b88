"""Operator tools on SQS: queue counts and the dead-letter queue (list, replay, purge).

moto (and some SQS-compatible servers) lack ``StartMessageMoveTask``, and a move task can
neither pick messages by id nor reset our attempt count, so replay is a receive, send,
delete loop: a crash in the middle duplicates a dead letter, never loses one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from brokerjobs.backend import DeadLetter, QueueStats
from brokerjobs_sqs.batching import MAX_BATCH, call_batch
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.publisher import Outgoing, Publisher
from brokerjobs_sqs.queues import QueueRef
from brokerjobs_sqs.settings import SQSSettings
from brokerjobs_sqs.translate import translated
from brokerjobs_sqs.wire import Meta, parse

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

PEEK_VISIBILITY = 30
"""Seconds a listed or replayed dead letter stays hidden from other readers meanwhile."""
_COUNTS: list[QueueAttributeNameType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class Operations:
    """Blocking operator calls; the backend runs them in its thread pool."""

    def __init__(self, settings: SQSSettings, clients: ClientHolder, publisher: Publisher) -> None:
        self._settings = settings
        self._clients = clients
        self._publisher = publisher

    def _counts(self, url: str, name: str) -> tuple[int, int, int]:
        with translated("GetQueueAttributes", name):
            attrs = self._clients.client.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=_COUNTS,
            )["Attributes"]
        ready, hidden, delayed = (int(attrs.get(key, "0")) for key in _COUNTS)
        return ready, hidden, delayed

    def stats(self, ref: QueueRef) -> QueueStats:
        """SQS's approximate counts; a retry waiting out its backoff shows as in flight."""
        ready, in_flight, delayed = self._counts(ref.url, ref.sqs_name)
        dead = 0
        if ref.dead_letter_url is not None:
            dead_ready, dead_hidden, dead_delayed = self._counts(
                ref.dead_letter_url, ref.dead_letter_name
            )
            dead = dead_ready + dead_hidden + dead_delayed
        return QueueStats(
            queue=ref.name, ready=ready, in_flight=in_flight, delayed=delayed, dead=dead
        )

    # -- reading the DLQ ---------------------------------------------------------------
    def _receive(self, ref: QueueRef, url: str, count: int, wait: int) -> list[Any]:
        with translated("ReceiveMessage", ref.dead_letter_name):
            response = self._clients.client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                VisibilityTimeout=PEEK_VISIBILITY,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=[
                    "ApproximateReceiveCount",
                    "SentTimestamp",
                    "MessageGroupId",
                ],
            )
        return list(response.get("Messages", []))

    def _scan(
        self, ref: QueueRef, limit: int | None, keep: Callable[[Meta], bool]
    ) -> tuple[list[Any], list[Any]]:
        """Receive dead letters (hiding them) until ``limit`` kept ones or the DLQ is exhausted.

        Returns (kept, skipped); the caller must make both visible again or delete them.
        The DLQ's approximate count bounds the scan.
        """
        url = ref.require_dead_letter_url()
        expected, _, _ = self._counts(url, ref.dead_letter_name)
        kept: list[Any] = []
        skipped: list[Any] = []
        seen: set[str] = set()
        long_polled = False
        while (limit is None or len(kept) < limit) and len(seen) < expected:
            # Short polls while the count says more are there; a short poll may miss some
            # on real SQS, so an empty one is confirmed by a one-second long poll.
            batch = self._receive(ref, url, MAX_BATCH, 1 if long_polled else 0)
            if not batch:
                if long_polled:
                    break
                long_polled = True
                continue
            for message in batch:
                if message["MessageId"] in seen:
                    continue
                seen.add(message["MessageId"])
                _, meta, _ = parse(message)
                target = kept if keep(meta) and (limit is None or len(kept) < limit) else skipped
                target.append(message)
        return kept, skipped

    def _unhide(self, ref: QueueRef, messages: list[Any]) -> None:
        url = ref.require_dead_letter_url()
        client = self._clients.client
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]

            def call(batch: list[dict[str, Any]]) -> Any:
                return client.change_message_visibility_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]

            call_batch(
                call,
                [{"ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for m in chunk],
                operation="ChangeMessageVisibilityBatch",
                queue=ref.dead_letter_name,
                attempts=self._settings.batch_attempts,
            )

    def _delete(self, ref: QueueRef, messages: list[Any]) -> int:
        url = ref.require_dead_letter_url()
        client = self._clients.client
        deleted = 0
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]

            def call(batch: list[dict[str, Any]]) -> Any:
                return client.delete_message_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]

            failures = call_batch(
                call,
                [{"ReceiptHandle": m["ReceiptHandle"]} for m in chunk],
                operation="DeleteMessageBatch",
                queue=ref.dead_letter_name,
                attempts=self._settings.batch_attempts,
            )
            deleted += len(chunk) - len(failures)
        return deleted

    # -- public ------------------------------------------------------------------------
    def dead_letters(self, ref: QueueRef, limit: int) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, left in place (visible again on return)."""
        if ref.dead_letter_url is None:
            return []
        kept, skipped = self._scan(ref, limit, lambda meta: True)
        try:
            return [_dead_letter(ref, message) for message in kept]
        finally:
            self._unhide(ref, kept + skipped)

    def replay(self, ref: QueueRef, ids: Collection[str] | None, limit: int | None) -> int:
        """Move dead letters (those ids, or all) back to the work queue, attempt reset to 1."""
        if ref.dead_letter_url is None:
            return 0
        wanted = set(ids) if ids is not None else None
        kept, skipped = self._scan(ref, limit, lambda m: wanted is None or m.message_id in wanted)
        try:
            copies = []
            for message in kept:
                body, meta, _ = parse(message)
                group = (message.get("Attributes") or {}).get("MessageGroupId")
                if ref.fifo:
                    group = group or self._settings.message_group
                copies.append(Outgoing(body, Meta(meta.message_id), group=group))
            sent = self._publisher.send_copies(ref, copies, url=ref.url) if copies else set()
            moved = [m for i, m in enumerate(kept) if i in sent]
            skipped += [m for i, m in enumerate(kept) if i not in sent]
            return self._delete(ref, moved)
        finally:
            self._unhide(ref, skipped)

    def purge_work(self, ref: QueueRef) -> None:
        """``PurgeQueue`` on the work queue: every message goes, in flight ones too.

        SQS takes up to 60 s to finish and refuses a second purge of the same queue
        within 60 s (``PurgeQueueInProgress``).
        """
        with translated("PurgeQueue", ref.sqs_name):
            self._clients.client.purge_queue(QueueUrl=ref.url)

    def purge(self, ref: QueueRef) -> int:
        """Delete every dead letter; returns how many (``PurgeQueue`` cannot say)."""
        if ref.dead_letter_url is None:
            return 0
        total = 0
        while True:
            kept, _ = self._scan(ref, 100, lambda meta: True)
            if not kept:
                return total
            total += self._delete(ref, kept)


def _dead_letter(ref: QueueRef, message: Any) -> DeadLetter:
    body, meta, count = parse(message)
    system = message.get("Attributes") or {}
    sent = system.get("SentTimestamp")
    reason = meta.reason
    if reason is None:
        reason = f"received {count - 1} times (redrive policy maxReceiveCount reached)"
    return DeadLetter(
        queue=ref.name,
        message_id=meta.message_id,
        body=body.decode(),
        reason=reason,
        attempt=meta.attempt if meta.attempt is not None else max(1, meta.base + count - 1),
        dead_lettered_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
    )
