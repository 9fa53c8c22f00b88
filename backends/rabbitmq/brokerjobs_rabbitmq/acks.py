"""Acks of one consuming channel, coalesced into as few ``basic.ack`` frames as possible.

An ack per delivery was a quarter of the consumer's CPU (one frame, one write each), and
the broker pays per frame too. Deliveries on a channel carry increasing tags, and AMQP's
``basic.ack(multiple=True)`` settles every outstanding tag up to the one given. Acks asked
for during one event-loop iteration are therefore sent together when it ends: the longest
run of settled tags from the oldest outstanding delivery goes as one multiple ack, the
acks above a still-running delivery one by one. A multiple ack never covers a delivery
that is running or waiting in a buffer.

The cost: an ack is on the wire one loop iteration later, so a channel that dies in that
instant redelivers the message (at-least-once allows it; the ack could be lost in the
socket anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import aiormq.abc

log = logging.getLogger("brokerjobs.rabbitmq")

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
        self._scheduled = False

    def delivered(self, tag: int) -> None:
        self._outstanding.append(tag)

    def nacked(self, tag: int) -> None:
        """``tag`` was settled by a ``basic.nack`` already written to the channel."""
        self._done.add(tag)

    def ack(self, tag: int) -> None:
        """Ack ``tag`` at the end of this loop iteration (together with the others)."""
        self._pending.add(tag)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write the pending acks now (also before the channel or connection closes)."""
        self._scheduled = False
        if not self._pending:
            return
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
