"""RabbitMQ wait queues on quorum queues: delays survive a clean broker restart.

The default classic wait queues dead-letter at most once (see the strict xfail
``test_delayed_messages_survive_a_clean_broker_restart`` and docs/reliability.md).
"""

from __future__ import annotations

import asyncio

import pytest

from brokerjobs.backend import OutgoingMessage
from tests.faults.targets import RabbitTarget
from tests.support.harness import eventually

pytestmark = [pytest.mark.faults, pytest.mark.rabbitmq, pytest.mark.slow]


async def test_quorum_wait_queues_keep_delayed_messages_across_a_clean_restart(
    rabbit: RabbitTarget,
) -> None:
    """T6b fixed by configuration: with ``wait_queue_type="quorum"`` the wait queues
    dead-letter at least once, so no message hopping between levels is dropped."""
    backend = rabbit.backend(wait_queue_type="quorum")
    await backend.declare(rabbit.queue)
    messages = [
        OutgoingMessage(body=b"x", message_id=f"m{i}", delay=0.25 + (i % 16) * 0.25)
        for i in range(600)
    ]
    await backend.publish_batch(rabbit.queue, messages)
    await asyncio.to_thread(rabbit.node.restart_app, 1.0)
    consumer = rabbit.backend(wait_queue_type="quorum")
    subscription = await consumer.consume([rabbit.queue], prefetch=200)
    seen: set[str] = set()

    async def all_arrived() -> bool:
        try:
            delivery = await asyncio.wait_for(anext(subscription), 0.5)
        except TimeoutError:
            return len(seen) == len(messages)
        seen.add(delivery.message_id)
        await consumer.ack(delivery)
        return len(seen) == len(messages)

    try:
        await eventually(all_arrived, timeout=30, interval=0)
    except AssertionError:
        missing = len(messages) - len(seen)
        held = {n: c for n, c in (await asyncio.to_thread(rabbit.node.queues)).items() if any(c)}
        raise AssertionError(
            f"{missing} delayed messages missing after a clean restart; queues: {held}"
        ) from None
    finally:
        await subscription.stop()
