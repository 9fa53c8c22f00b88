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
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

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
        task = asyncio.ensure_future(self._channel.basic_ack(tag, multiple=multiple))
        task.add_done_callback(_report_failure)


def _report_failure(task: asyncio.Future[Any]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    # The channel closed under the ack: the broker redelivers those messages.
    log.warning("could not send an ack (%s); the broker redelivers the message", task.exception())
