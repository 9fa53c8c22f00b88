"""Deferring (the ``Defers`` capability): back after the delay, the attempt not counted."""

from __future__ import annotations

import time

from brokerjobs.backend import Backend, Defers
from tests.contract.conftest import message
from tests.support.harness import BackendHarness, nothing_within, receive

WITHOUT_DEFERS: set[str] = set()
"""Backends documented to defer by retrying (none at present)."""


async def test_a_deferred_message_returns_after_the_delay_with_the_same_attempt(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    if not isinstance(backend, Defers):
        assert backend.name in WITHOUT_DEFERS, f"{backend.name} should implement Defers"
        return
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    first = await receive(subscription)
    assert first.attempt == 1
    deferred_at = time.monotonic()
    await backend.defer(first, delay=2.0)
    assert await nothing_within(subscription, 1.5), "a deferred message must not come back early"
    again = await receive(subscription, timeout=2.0 + harness.timing_tolerance)
    assert (again.message_id, again.body) == (sent.message_id, sent.body)
    assert again.attempt == 1, "deferring must not count an attempt"
    assert time.monotonic() - deferred_at >= 2.0 - 0.05
    await backend.ack(again)
    await subscription.stop()
