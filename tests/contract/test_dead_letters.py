"""Dead letters keep body and reason; replay and purge work on the real DLQ."""

from __future__ import annotations

from brokerjobs.backend import Backend
from tests.contract.conftest import message
from tests.support.harness import BackendHarness, eventually, receive


async def _bury(backend: Backend, queue: str, count: int, reason: str) -> list[str]:
    sent = [message(f'{{"n": {i}}}'.encode()) for i in range(count)]
    await backend.publish_batch(queue, sent)
    subscription = await backend.consume([queue], prefetch=count)
    for _ in range(count):
        delivery = await receive(subscription)
        await backend.dead_letter(delivery, reason=reason)
    await subscription.stop()
    return [m.message_id for m in sent]


async def test_dead_letter_keeps_body_id_and_reason(backend: Backend, queue: str) -> None:
    sent = message(b'{"payload": [1, 2, 3]}')
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    await backend.dead_letter(delivery, reason="ValueError: bad input\n  File x.py, line 3")
    await subscription.stop()

    async def one_dead() -> bool:
        return (await backend.stats(queue)).dead == 1

    await eventually(one_dead)
    [dead] = await backend.dead_letters(queue)
    assert dead.message_id == sent.message_id
    assert dead.body == sent.body
    assert dead.queue == queue
    assert dead.reason.startswith("ValueError: bad input")
    assert dead.attempt == 1
    # Listing leaves the dead letter in place.
    assert len(await backend.dead_letters(queue)) == 1


async def test_replay_moves_dead_letters_back_with_attempts_reset(
    backend: Backend, queue: str
) -> None:
    ids = await _bury(backend, queue, 3, "boom")
    moved = await backend.replay_dead_letters(queue)
    assert moved == 3

    subscription = await backend.consume([queue], prefetch=3)
    replayed = [await receive(subscription) for _ in range(3)]
    assert sorted(d.message_id for d in replayed) == sorted(ids)
    assert {d.attempt for d in replayed} == {1}
    for delivery in replayed:
        await backend.ack(delivery)
    await subscription.stop()
    assert (await backend.stats(queue)).dead == 0


async def test_replay_of_chosen_ids_leaves_the_others(backend: Backend, queue: str) -> None:
    ids = await _bury(backend, queue, 3, "boom")
    assert await backend.replay_dead_letters(queue, message_ids=[ids[1]]) == 1

    subscription = await backend.consume([queue], prefetch=1)
    delivery = await receive(subscription)
    assert delivery.message_id == ids[1]
    await backend.ack(delivery)
    await subscription.stop()
    remaining = await backend.dead_letters(queue)
    assert sorted(d.message_id for d in remaining) == sorted([ids[0], ids[2]])


async def test_purge_deletes_every_dead_letter(
    harness: BackendHarness, backend: Backend, queue: str
) -> None:
    await _bury(backend, queue, 2, "boom")
    assert await backend.purge_dead_letters(queue) == 2
    assert await backend.dead_letters(queue) == []

    async def none_dead() -> bool:
        return (await backend.stats(queue)).dead == 0

    await eventually(none_dead)
