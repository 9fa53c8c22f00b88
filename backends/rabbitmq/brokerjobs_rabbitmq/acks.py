"""Acks of one consuming channel, coalesced into as few ``basic.ack`` frames as possible.

An ack per delivery was a quarter of the consumer's CPU (one frame, one write each), and
the broker pays per frame too. Deliveries on a channel carry increasing tags, and AMQP's
``basic.ack(multiple=True)`` settles every outstanding tag up to the one given. Acks asked
for during one event-loop iteration are therefore sent together when it ends: the longest
run of settled tags from the oldest outstanding delivery goes as one multiple ack, the
acks above a still-running delivery one by one. A multiple ack never covers a delivery
that is running or waiting in a buffer.

Under load a frame per loop iteration is still a frame every few deliveries, and each is
a write system call in the worker and a frame for the broker to parse (both share the
CPUs). So a channel flushes at most once per :data:`ACK_INTERVAL`: an ack asked for
sooner after the previous flush waits for the rest of the interval. An idle channel's
first ack still goes out at the end of the loop iteration, and acks holding back a
quarter of the prefetch window go out at once, so a small window never starves.

The cost: an ack is on the wire up to :data:`ACK_INTERVAL` later, so a channel that dies
in that instant redelivers the message (at-least-once allows it; the ack could be lost in
the socket anyway). Stopping a subscription and closing the connection flush first.

Frames leave in the order they were decided, through one writer task per channel. aiormq
hands frames to its socket writer through a bounded ``asyncio.Queue``; a ``put`` that
finds a free slot goes ahead of earlier ``put`` calls still waiting for one, so acks sent
as concurrent tasks could reach the broker out of order. A multiple ack overtaking a
single ack below it (or a smaller multiple ack) settles that tag first, and the broker
then closes the channel on the late frame with ``unknown delivery tag``, requeueing every
unacked delivery (issue #13: sync jobs completing in bursts from the thread pool filled
the queue and caused that storm). A frame still waiting in the writer's outbox when a
multiple ack above it is decided is dropped: the multiple ack settles it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import aiormq.abc

log = logging.getLogger("brokerjobs.rabbitmq")

ACK_INTERVAL = 0.002
"""Least seconds between two flushes of one channel (see the module docstring)."""

COMPACT_AT = 1024
"""Tags settled behind a long-running delivery, kept before the queue is compacted."""


class AckCoalescer:
    """Coalesces the acks of one channel; :meth:`flush` sends what is pending now."""

    def __init__(self, channel: aiormq.abc.AbstractChannel) -> None:
        self._channel = channel
        self._outstanding: deque[int] = deque()
        """Delivered tags, oldest first, that no ack or nack sent so far has settled."""
        self._done: set[int] = set()
        """Tags in ``_outstanding`` already settled one by one (ack or nack sent)."""
        self._pending: set[int] = set()
        """Tags whose ack was asked for and is not sent yet."""
        self._flush_at = 1
        """Pending acks that are sent at once rather than at the next interval."""
        self._flushed_at = float("-inf")
        """When the last flush sent something (``loop.time()``)."""
        self._scheduled: asyncio.Handle | None = None
        self._outbox: deque[tuple[int, bool]] = deque()
        """Ack frames decided and not yet handed to aiormq, in the order they must go."""
        self._writer: asyncio.Task[None] | None = None

    def window(self, prefetch: int) -> None:
        """The channel's prefetch: acks holding back a quarter of it are not delayed."""
        self._flush_at = max(1, prefetch // 4)

    def delivered(self, tag: int) -> None:
        self._outstanding.append(tag)

    def nacked(self, tag: int) -> None:
        """``tag`` was settled by a ``basic.nack`` already written to the channel."""
        self._done.add(tag)

    def ack(self, tag: int) -> None:
        """Ack ``tag`` with the others asked for until the next flush (see the module docstring)."""
        pending = self._pending
        pending.add(tag)
        urgent = len(pending) >= self._flush_at
        scheduled = self._scheduled
        if scheduled is not None:
            if not urgent or not isinstance(scheduled, asyncio.TimerHandle):
                return  # a flush is due already
            scheduled.cancel()  # enough acks are held back to bring the timer forward
        loop = asyncio.get_running_loop()
        wait = self._flushed_at + ACK_INTERVAL - loop.time()
        if urgent or wait <= 0:
            self._scheduled = loop.call_soon(self.flush)
        else:
            self._scheduled = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Write the pending acks now (also before the channel or connection closes)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if not self._pending:
            return
        self._flushed_at = asyncio.get_running_loop().time()
        pending, done, outstanding = self._pending, self._done, self._outstanding
        highest = 0
        while outstanding:
            tag = outstanding[0]
            if tag in pending:
                pending.discard(tag)
                highest = tag
            elif tag in done:
                done.discard(tag)
            else:
                break
            outstanding.popleft()
        if highest:
            self._send(highest, multiple=True)
        for tag in sorted(pending):
            self._send(tag, multiple=False)
            done.add(tag)
        pending.clear()
        if len(done) > COMPACT_AT:
            # A long job at the head keeps everything behind it: drop what is settled.
            self._outstanding = deque(tag for tag in outstanding if tag not in done)
            done.clear()

    def _send(self, tag: int, *, multiple: bool) -> None:
        if self._channel.is_closed:
            return  # the broker requeued everything unacked when the channel closed
        outbox = self._outbox
        if multiple and outbox:
            # Not written yet and settled by this frame anyway (see the module docstring).
            kept = [frame for frame in outbox if frame[0] > tag]
            outbox.clear()
            outbox.extend(kept)
        outbox.append((tag, multiple))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Hand the outbox to aiormq one frame after the other, so that order is kept."""
        outbox, channel = self._outbox, self._channel
        try:
            while outbox:
                if channel.is_closed:
                    outbox.clear()  # the broker requeues what was not acked
                    return
                tag, multiple = outbox.popleft()
                await channel.basic_ack(tag, multiple=multiple, wait=False)
        except Exception as exc:
            outbox.clear()
            # The channel closed under the ack: the broker redelivers those messages.
            log.warning("could not send an ack (%s); the broker redelivers the message", exc)
        finally:
            self._writer = None

    async def drained(self) -> None:
        """Flush, then wait until every ack decided so far was handed to the connection.

        Called before closing the channel or the connection: a close frame queued ahead
        of acks still in the outbox would requeue finished jobs (run twice).
        """
        self.flush()
        writer = self._writer
        if writer is not None:
            await asyncio.shield(writer)
