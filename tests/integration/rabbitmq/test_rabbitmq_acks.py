"""Coalesced acks on the real broker: fewer frames, never an ack for a running delivery."""

from __future__ import annotations

import asyncio

import pytest
from brokerjobs_rabbitmq import acks

from brokerjobs.backend import Delivery
from tests.integration.rabbitmq.conftest import _rabbitmqctl, close_named_connections, message
from tests.support.backend_rabbitmq import RabbitMQHarness
from tests.support.harness import eventually, nothing_within, receive

pytestmark = pytest.mark.rabbitmq


async def unacked(broker_queue: str) -> int:
    listing = await asyncio.to_thread(
        _rabbitmqctl, "list_queues", "--no-table-headers", "name", "messages_unacknowledged"
    )
    for line in listing.splitlines():
        name, _, count = line.partition("\t")
        if name == broker_queue:
            return int(count)
    raise AssertionError(f"queue {broker_queue} not found")


async def test_acks_behind_a_running_delivery_leave_it_unacked(rabbit: RabbitMQHarness) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    batch = [message() for _ in range(6)]
    await backend.publish_batch(queue, batch)
    subscription = await backend.consume([queue], prefetch=6)
    deliveries = [await receive(subscription) for _ in range(6)]
    running, finished = deliveries[0], deliveries[1:]
    await backend.ack(finished[0])
    await asyncio.gather(*(backend.ack(delivery) for delivery in finished[1:]))
    broker_queue = backend.topology.names(queue).work

    async def only_the_running_one_unacked() -> bool:
        return await unacked(broker_queue) == 1

    await eventually(only_the_running_one_unacked, timeout=15)
    await close_named_connections(f"brokerjobs-test.{rabbit.prefix}.")
    resumed = await backend.consume([queue], prefetch=6)
    again = await receive(resumed)
    assert again.message_id == running.message_id
    assert again.attempt == 2
    await backend.ack(again)
    assert await nothing_within(resumed, 0.5)
    await resumed.stop()


async def test_acks_of_one_loop_iteration_go_out_as_one_frame(rabbit: RabbitMQHarness) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    await backend.publish_batch(queue, [message() for _ in range(50)])
    subscription = await backend.consume([queue], prefetch=50)
    deliveries: list[Delivery] = [await receive(subscription) for _ in range(50)]
    frames = count_frames(subscription)
    await asyncio.gather(*(backend.ack(delivery) for delivery in reversed(deliveries)))
    broker_queue = backend.topology.names(queue).work

    async def all_acked() -> bool:
        return await unacked(broker_queue) == 0

    await eventually(all_acked, timeout=15)
    assert frames == [(max(d.receipt.delivery_tag for d in deliveries), True)]
    assert not subscription.closed  # no "unknown delivery tag" closed the channel
    await subscription.stop()


def count_frames(subscription: object) -> list[tuple[int, bool]]:
    """The ack frames ``subscription`` sends from now on, as (tag, multiple)."""
    coalescer = subscription._acks  # type: ignore[attr-defined]
    frames: list[tuple[int, bool]] = []
    send = coalescer._send

    def counting_send(tag: int, *, multiple: bool) -> None:
        frames.append((tag, multiple))
        send(tag, multiple=multiple)

    coalescer._send = counting_send
    return frames


async def test_acks_soon_after_a_flush_wait_for_the_interval_and_share_a_frame(
    rabbit: RabbitMQHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acks, "ACK_INTERVAL", 0.5)  # wide, so the test never races it
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    await backend.publish_batch(queue, [message() for _ in range(10)])
    subscription = await backend.consume([queue], prefetch=100)
    deliveries = [await receive(subscription) for _ in range(10)]
    frames = count_frames(subscription)
    await backend.ack(deliveries[0])
    await asyncio.sleep(0)  # the first ack of an idle channel goes out at once
    assert frames == [(deliveries[0].receipt.delivery_tag, True)]
    for delivery in deliveries[1:]:
        await backend.ack(delivery)
        await asyncio.sleep(0)  # a loop iteration each: without the interval, a frame each
    assert len(frames) == 1

    async def flushed() -> bool:
        return len(frames) > 1

    await eventually(flushed, timeout=5, interval=0.01)
    assert frames[1:] == [(deliveries[-1].receipt.delivery_tag, True)]
    await subscription.stop()
    again = await backend.consume([queue], prefetch=100)
    assert await nothing_within(again, 0.5), "an ack never reached the broker"
    await again.stop()


async def test_acks_holding_back_a_quarter_of_the_window_go_out_at_once(
    rabbit: RabbitMQHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acks, "ACK_INTERVAL", 600.0)  # only the window can send them
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    await backend.publish_batch(queue, [message() for _ in range(8)])
    subscription = await backend.consume([queue], prefetch=8)  # a quarter: 2 acks
    deliveries = [await receive(subscription) for _ in range(8)]
    frames = count_frames(subscription)
    await backend.ack(deliveries[0])
    await asyncio.sleep(0)
    await backend.ack(deliveries[1])
    await asyncio.sleep(0)
    assert len(frames) == 1, "one ack held back is below a quarter of the window"
    await backend.ack(deliveries[2])
    await asyncio.sleep(0)
    assert frames == [(d.receipt.delivery_tag, True) for d in (deliveries[0], deliveries[2])]
    await subscription.stop()
    assert len(frames) == 2, "nothing else was acked"


async def test_stopping_a_subscription_sends_the_acks_it_holds(
    rabbit: RabbitMQHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acks, "ACK_INTERVAL", 600.0)
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    await backend.publish_batch(queue, [message() for _ in range(4)])
    subscription = await backend.consume([queue], prefetch=100)
    deliveries = [await receive(subscription) for _ in range(4)]
    frames = count_frames(subscription)
    await backend.ack(deliveries[0])
    await asyncio.sleep(0)
    for delivery in deliveries[1:]:
        await backend.ack(delivery)
    await asyncio.sleep(0)
    assert len(frames) == 1  # the other three wait for the (long) interval
    await subscription.stop()
    assert frames[1:] == [(deliveries[-1].receipt.delivery_tag, True)]
    again = await backend.consume([queue], prefetch=100)
    assert await nothing_within(again, 0.5), "an ack held at stop() was lost"
    await again.stop()


async def test_ack_frames_keep_their_order_when_the_socket_is_full(
    rabbit: RabbitMQHarness,
) -> None:
    """Issue #13: a multiple ack must never overtake the single acks below it.

    A broker that reads its socket late makes aiormq's writer wait for the socket to
    drain; frames then queue in aiormq's bounded write queue, where a ``put`` that finds
    a free slot goes ahead of ``put`` calls still waiting. Here the socket is held "full"
    (the writer's drain is paused, as the transport does when its buffer is over the
    high-water mark) while twelve single acks queue up; the channel is freed in the same
    loop iteration in which a multiple ack covering them is decided. Sent as independent
    tasks, that multiple ack reached the broker first, and the broker closed the channel
    on the late single ack ("unknown delivery tag"), requeueing every delivery.
    """
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("acks")
    await backend.publish_batch(queue, [message() for _ in range(16)])
    subscription = await backend.consume([queue], prefetch=16)
    deliveries = [await receive(subscription) for _ in range(16)]
    coalescer = subscription._acks  # type: ignore[attr-defined]
    protocols = [writer.transport.get_protocol() for writer in backend._connector._writers]
    for protocol in protocols:
        protocol.pause_writing()  # type: ignore[attr-defined]
    for delivery in deliveries[2:14]:  # the two oldest still "run": twelve single acks
        coalescer.ack(delivery.receipt.delivery_tag)
        delivery.receipt.settled = True
    coalescer.flush()
    await asyncio.sleep(0.05)  # let the acks queue up behind the paused socket
    for protocol in protocols:
        protocol.resume_writing()  # type: ignore[attr-defined]
    for delivery in (deliveries[0], deliveries[1], deliveries[14]):
        coalescer.ack(delivery.receipt.delivery_tag)  # one multiple ack, up to tag 15
    coalescer.flush()
    broker_queue = backend.topology.names(queue).work

    async def settled_or_closed() -> bool:
        return subscription.closed or await unacked(broker_queue) == 1

    await eventually(settled_or_closed, timeout=15)
    assert not subscription.closed, "the broker closed the channel: an ack was out of order"
    await backend.ack(deliveries[15])
    await subscription.stop()
