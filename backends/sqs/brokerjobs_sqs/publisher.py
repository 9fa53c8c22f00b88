"""SendMessage and SendMessageBatch: size checks, delays (with hops), FIFO ids, failed entries.

All methods block and are thread-safe; the backend runs them in its thread pool for async
callers.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brokerjobs.backend import OutgoingMessage
from brokerjobs.errors import (
    BackendError,
    BrokerUnavailableError,
    PayloadTooLargeError,
    PublishRejectedError,
    QueueNotFoundError,
)
from brokerjobs_sqs.batching import MAX_BATCH, EntryFailure, call_batch
from brokerjobs_sqs.client import ClientHolder
from brokerjobs_sqs.queues import QueueDirectory, QueueRef
from brokerjobs_sqs.settings import MAX_MESSAGE_SIZE, SQSSettings
from brokerjobs_sqs.translate import translated
from brokerjobs_sqs.wire import Meta, WireBody, attributes, deduplication_id, wire_size

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for SQS: encoded body, bookkeeping and native delay."""

    body: WireBody
    meta: Meta
    delay_seconds: int = 0
    group: str | None = None
    dedup_id: str | None = None


class Publisher:
    """Sends messages to resolved queues."""

    def __init__(
        self,
        settings: SQSSettings,
        clients: ClientHolder,
        directory: QueueDirectory,
        now: Callable[[], float],
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._directory = directory
        self._now = now

    # -- building ----------------------------------------------------------------------
    def schedule(self, ref: QueueRef, delay: float) -> tuple[int, float | None]:
        """``DelaySeconds`` for the first hop and the due time to carry, for ``delay``.

        Whole delays up to the hop limit are native only. Anything longer, or with a
        fraction of a second, also carries its due time: the consumer hops it again or
        holds it for the last fraction, so it is never early.
        """
        if delay <= 0:
            return 0, None
        if ref.fifo:
            raise PublishRejectedError(
                f"SQS FIFO queue {ref.sqs_name!r} does not support per-message delays; "
                "dispatch without a delay, or use a standard queue for delayed jobs"
            )
        whole = math.floor(delay)
        if delay > self._settings.max_native_delay:
            return self._settings.max_native_delay, self._now() + delay
        if whole != delay:
            return whole, self._now() + delay
        return whole, None

    def outgoing(self, ref: QueueRef, message: OutgoingMessage) -> Outgoing:
        delay_seconds, due = self.schedule(ref, message.delay)
        group = None
        if ref.fifo:
            group = getattr(message, "group", None) or self._settings.message_group
        return Outgoing(
            body=WireBody.encode(message.body),
            meta=Meta(message.message_id, due=due),
            delay_seconds=delay_seconds,
            group=group,
            dedup_id=deduplication_id(message.message_id) if ref.fifo else None,
        )

    def entry(self, ref: QueueRef, item: Outgoing) -> dict[str, Any]:
        """``SendMessage`` parameters (without ``QueueUrl``), size-checked."""
        attrs: dict[str, MessageAttributeValueTypeDef] = attributes(item.meta, item.body)
        size = wire_size(item.body, attrs)
        if size > ref.max_size:
            raise PayloadTooLargeError(
                size,
                ref.max_size,
                what=f"message for SQS queue {ref.sqs_name!r} (MaximumMessageSize)",
            )
        params: dict[str, Any] = {"MessageBody": item.body.text, "MessageAttributes": attrs}
        if ref.fifo:
            params["MessageGroupId"] = item.group or self._settings.message_group
            params["MessageDeduplicationId"] = item.dedup_id or uuid.uuid4().hex
        elif item.delay_seconds:
            params["DelaySeconds"] = item.delay_seconds
        return params

    # -- sending -----------------------------------------------------------------------
    def publish(self, queue: str, message: OutgoingMessage) -> None:
        """``SendMessage``; returns once SQS answered with a MessageId."""
        ref = self._directory.resolve(queue)
        params = self.entry(ref, self.outgoing(ref, message))
        client = self._clients.client
        try:
            self._send_one(client, ref, params)
        except QueueNotFoundError:
            # Deleted since it was cached: resolve (and, if allowed, create) it again.
            self._directory.forget(queue)
            ref = self._directory.resolve(queue)
            self._send_one(client, ref, params)

    @staticmethod
    def _send_one(client: Any, ref: QueueRef, params: dict[str, Any]) -> None:
        with translated("SendMessage", ref.sqs_name):
            response = client.send_message(QueueUrl=ref.url, **params)
        if not response.get("MessageId"):
            raise PublishRejectedError(f"SQS accepted no message on queue {ref.sqs_name!r}")

    def publish_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> None:
        """``SendMessageBatch`` in chunks of ten; raises naming how many were accepted."""
        if not messages:
            return
        ref = self._directory.resolve(queue)
        items = [self.outgoing(ref, message) for message in messages]
        entries = [self.entry(ref, item) for item in items]
        failures = self.send_entries(ref, entries)
        if failures:
            raise _rejected(ref, len(entries), failures, [m.message_id for m in messages])

    def send_entries(
        self, ref: QueueRef, entries: Sequence[dict[str, Any]], *, url: str | None = None
    ) -> list[EntryFailure]:
        """Send prepared entries in batches; returns entries refused for good (by index)."""
        client = self._clients.client
        target = url or ref.url
        failures: list[EntryFailure] = []
        accepted = 0
        for start, chunk in _chunks(entries):

            def call(batch: list[dict[str, Any]]) -> Any:
                return client.send_message_batch(QueueUrl=target, Entries=batch)  # type: ignore[arg-type]

            try:
                chunk_failures = call_batch(
                    call,
                    chunk,
                    operation="SendMessageBatch",
                    queue=ref.sqs_name,
                    attempts=self._settings.batch_attempts,
                )
            except BackendError as exc:
                raise _partial(exc, accepted, len(entries)) from None
            failures += [
                EntryFailure(start + f.index, f.code, f.message, f.sender_fault)
                for f in chunk_failures
            ]
            accepted += len(chunk) - len(chunk_failures)
        return failures

    def send_copies(
        self, ref: QueueRef, items: Sequence[Outgoing], *, url: str | None = None
    ) -> set[int]:
        """Re-send copies (hops, releases, dead letters); the indexes that SQS accepted."""
        entries = [
            self.entry(ref, item) if url is None else self._unchecked(item) for item in items
        ]
        failed = {f.index for f in self.send_entries(ref, entries, url=url)}
        return {i for i in range(len(items)) if i not in failed}

    def _unchecked(self, item: Outgoing) -> dict[str, Any]:
        params: dict[str, Any] = {
            "MessageBody": item.body.text,
            "MessageAttributes": attributes(item.meta, item.body),
        }
        if item.group is not None:
            params["MessageGroupId"] = item.group
            params["MessageDeduplicationId"] = uuid.uuid4().hex
        return params


def _chunks(entries: Sequence[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    """Batches of at most ten entries and at most 1 MiB of payload (SQS's batch limits)."""
    chunks: list[tuple[int, list[dict[str, Any]]]] = []
    current: list[dict[str, Any]] = []
    start = size = 0
    for index, entry in enumerate(entries):
        entry_size = len(entry["MessageBody"].encode("utf-8")) + 200
        if current and (len(current) == MAX_BATCH or size + entry_size > MAX_MESSAGE_SIZE):
            chunks.append((start, current))
            current, start, size = [], index, 0
        current.append(entry)
        size += entry_size
    if current:
        chunks.append((start, current))
    return chunks


def _partial(exc: BackendError, accepted: int, total: int) -> BackendError:
    prefix = f"{accepted} of {total} messages were accepted before the failure: "
    if isinstance(exc, BrokerUnavailableError):
        return BrokerUnavailableError(prefix + str(exc))
    if isinstance(exc, PublishRejectedError):
        return PublishRejectedError(prefix + str(exc))
    if isinstance(exc, QueueNotFoundError):
        return exc
    return BackendError(prefix + str(exc))


def _rejected(
    ref: QueueRef, total: int, failures: list[EntryFailure], ids: Sequence[str]
) -> PublishRejectedError:
    first = failures[0]
    failed_ids = ", ".join(ids[f.index] for f in failures[:5])
    more = "" if len(failures) <= 5 else f" and {len(failures) - 5} more"
    return PublishRejectedError(
        f"SQS queue {ref.sqs_name!r} accepted {total - len(failures)} of {total} messages; "
        f"{len(failures)} kept failing ({first.code}: {first.message}); "
        f"failed message ids: {failed_ids}{more}"
    )
