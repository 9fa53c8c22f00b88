"""Operator views over AMQP alone (no management plugin): stats, purge, the dead letters.

Dead letters are listed with ``basic.get`` without ack on a channel of their own, then
handed back by closing that channel: the DLQ is a classic queue, where a requeued
message keeps its position and no delivery limit applies, so listing never loses or
reorders anything. Replay publishes a copy to the work queue (confirmed) before acking
the dead letter, so a crash in between duplicates rather than loses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

import aiormq.abc
from pamqp.commands import Basic

from brokerjobs.backend import DeadLetter

from . import headers as hdr
from .publisher_async import AsyncPublisher, Outgoing
from .topology import QueueNames, Route

ChannelFactory = Callable[[], Awaitable[aiormq.abc.AbstractChannel]]


async def message_counts(
    channel: aiormq.abc.AbstractChannel, names: QueueNames
) -> tuple[list[int], int]:
    """Ready counts of the work queue, the DLQ and each wait queue (passive declares),
    and the number of consumers on the work queue."""
    counts = []
    consumers = 0
    for name in (names.work, names.dead, *names.waits):
        ok = await channel.queue_declare(name, passive=True)
        counts.append(ok.message_count or 0)
        if name == names.work:
            consumers = ok.consumer_count or 0
    return counts, consumers


def _dead_letter(queue: str, message: aiormq.abc.DeliveredMessage, limit: int) -> DeadLetter:
    props: Basic.Properties = message.header.properties
    headers: dict[str, Any] = props.headers or {}
    if hdr.REASON in headers:
        reason = hdr.text(headers[hdr.REASON])
        attempt = hdr.header_attempt(headers)
    else:
        reason = hdr.broker_reason(headers)
        attempt = hdr.header_attempt(headers) + (
            limit if hdr.text(headers.get("x-first-death-reason")) == "delivery_limit" else 0
        )
    dead_at = headers.get(hdr.DEAD_AT)
    when = datetime.fromtimestamp(float(dead_at), UTC) if dead_at is not None else None
    return DeadLetter(
        queue=queue,
        message_id=props.message_id or "",
        body=message.body,
        reason=reason,
        attempt=attempt,
        dead_lettered_at=when,
    )


async def _get(
    channel: aiormq.abc.AbstractChannel, queue: str
) -> aiormq.abc.DeliveredMessage | None:
    message = await channel.basic_get(queue, no_ack=False)
    if isinstance(message.delivery, Basic.GetEmpty):
        return None
    return message


async def list_dead_letters(
    open_channel: ChannelFactory, queue: str, names: QueueNames, limit: int, delivery_limit: int
) -> list[DeadLetter]:
    channel = await open_channel()
    found: list[DeadLetter] = []
    try:
        while len(found) < limit:
            message = await _get(channel, names.dead)
            if message is None:
                break
            found.append(_dead_letter(queue, message, delivery_limit))
    finally:
        await _close(channel)
    return found


async def replay_dead_letters(
    open_channel: ChannelFactory,
    publisher: AsyncPublisher,
    names: QueueNames,
    message_ids: Collection[str] | None,
    limit: int | None,
) -> int:
    channel = await open_channel()
    wanted = set(message_ids) if message_ids is not None else None
    moved = 0
    try:
        while limit is None or moved < limit:
            if wanted is not None and not wanted:
                break
            message = await _get(channel, names.dead)
            if message is None:
                break
            props: Basic.Properties = message.header.properties
            message_id = props.message_id or ""
            if wanted is not None:
                if message_id not in wanted:
                    continue  # left unacked: back in the DLQ when the channel closes
                wanted.discard(message_id)
            copy = Outgoing(
                Route("", names.work),
                message.body,
                hdr.properties(message_id, hdr.replay_headers(props.headers)),
            )
            await publisher.publish(copy, f"replay a dead letter into {names.work!r}")
            await channel.basic_ack(message.delivery_tag or 0)
            moved += 1
    finally:
        await _close(channel)
    return moved


async def purge_dead_letters(open_channel: ChannelFactory, names: QueueNames) -> int:
    channel = await open_channel()
    try:
        ok = await channel.queue_purge(names.dead)
        return ok.message_count or 0
    finally:
        await _close(channel)


async def purge_waiting(open_channel: ChannelFactory, names: QueueNames) -> int:
    """Purge the work queue and its wait queues: ready and delayed messages, not unacked."""
    channel = await open_channel()
    try:
        total = 0
        for name in (*names.waits, names.work):
            ok = await channel.queue_purge(name)
            total += ok.message_count or 0
        return total
    finally:
        await _close(channel)


async def _close(channel: aiormq.abc.AbstractChannel) -> None:
    if channel.is_closed:
        return
    # Unacked messages go back to the queue when the channel dies anyway.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await channel.close()
