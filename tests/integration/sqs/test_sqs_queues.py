"""Queues on SQS: production mode, redrive safety net, FIFO ordering, many pollers."""

from __future__ import annotations

import pytest

from brokerjobs.errors import QueueNotFoundError
from tests.integration.sqs.conftest import message
from tests.support.backend_sqs import SQSHarness, raw_client
from tests.support.harness import eventually, nothing_within, receive

pytestmark = pytest.mark.sqs


async def test_missing_queue_in_production_mode_names_the_queue(sqs: SQSHarness) -> None:
    queue = sqs.queue("absent")
    backend = sqs.sqs_backend(auto_create=False)
    with pytest.raises(QueueNotFoundError, match=f"'{queue}' does not exist.*auto_create is off"):
        await backend.publish(queue, message())
    with pytest.raises(QueueNotFoundError, match=queue):
        backend.publish_sync(queue, message())
    with pytest.raises(QueueNotFoundError, match=queue):
        await backend.consume([queue], prefetch=1)
    with pytest.raises(QueueNotFoundError, match=queue):
        await backend.declare(queue)
    client = raw_client()
    assert not client.list_queues(QueueNamePrefix=sqs.prefix).get("QueueUrls")
    client.close()


async def test_declared_queue_has_a_redrive_policy_and_a_longer_lived_dlq(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue()
    await sqs.sqs_backend(max_receive_count=7).declare(queue)
    client = raw_client()
    url = client.get_queue_url(QueueName=queue)["QueueUrl"]
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    dead_url = client.get_queue_url(QueueName=f"{queue}-dlq")["QueueUrl"]
    dead = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["All"])["Attributes"]
    client.close()
    assert '"maxReceiveCount": 7' in attrs["RedrivePolicy"]
    assert dead["QueueArn"] in attrs["RedrivePolicy"]
    assert int(dead["MessageRetentionPeriod"]) > int(attrs["MessageRetentionPeriod"])


async def test_redrive_policy_moves_a_crash_looping_message_to_the_dlq(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    sent = message()
    first = sqs.sqs_backend(max_receive_count=2)
    await first.publish(queue, sent)
    for expected_attempt in (1, 2):
        victim = sqs.sqs_backend(max_receive_count=2)
        subscription = await victim.consume([queue], prefetch=1)
        delivery = await receive(subscription, timeout=sqs.redelivery_timeout + 2)
        assert delivery.attempt == expected_attempt
        await sqs.crash(victim)  # the job takes its worker down, every time

    survivor = sqs.sqs_backend(max_receive_count=2)
    subscription = await survivor.consume([queue], prefetch=1)

    async def buried() -> bool:
        return (await survivor.stats(queue)).dead == 1

    await eventually(buried, timeout=sqs.redelivery_timeout + 4)
    assert await nothing_within(subscription, 0.5)
    [dead] = await survivor.dead_letters(queue)
    assert (dead.message_id, dead.body) == (sent.message_id, sent.body)
    assert "redrive" in dead.reason
    await subscription.stop()


async def test_fifo_group_keeps_order_even_through_a_retry(sqs: SQSHarness) -> None:
    queue = sqs.queue("ordered.fifo")
    backend = sqs.sqs_backend()
    sent = [message(f'{{"n": {i}}}'.encode()) for i in range(12)]
    await backend.publish_batch(queue, sent[:10])
    for item in sent[10:]:
        await backend.publish(queue, item)
    subscription = await backend.consume([queue], prefetch=4)

    got = []
    first = await receive(subscription)
    await backend.retry(first, delay=1, reason="once more")  # holds the whole group
    while len(got) < len(sent):
        delivery = await receive(subscription)
        got.append((delivery.message_id, delivery.attempt))
        await backend.ack(delivery)
    assert [mid for mid, _ in got] == [m.message_id for m in sent]
    assert got[0][1] == 2
    await subscription.stop()


async def test_fifo_dead_letters_go_to_a_fifo_dlq_and_replay(sqs: SQSHarness) -> None:
    queue = sqs.queue("jobs.fifo")
    backend = sqs.sqs_backend()
    sent = message()
    await backend.publish(queue, sent)
    subscription = await backend.consume([queue], prefetch=1)
    await backend.dead_letter(await receive(subscription), reason="Fail: no")
    [dead] = await backend.dead_letters(queue)
    assert (dead.message_id, dead.reason) == (sent.message_id, "Fail: no")
    assert await backend.replay_dead_letters(queue) == 1
    again = await receive(subscription)
    assert (again.message_id, again.attempt) == (sent.message_id, 1)
    await backend.ack(again)
    await subscription.stop()


async def test_a_large_prefetch_uses_several_pollers_without_duplicates(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    # Not a lease test: a visibility long enough that a slow, loaded machine cannot let a
    # buffered message expire (and come back as a duplicate) between heartbeats.
    backend = sqs.sqs_backend(visibility_timeout=20)
    sent = [message() for _ in range(60)]
    await backend.publish_batch(queue, sent)
    subscription = await backend.consume([queue], prefetch=30)
    got = []
    for _ in range(2):  # fill the whole prefetch, settle it all, then again
        batch = [await receive(subscription) for _ in range(30)]
        for delivery in batch:
            await backend.ack(delivery)
        got += batch
    assert sorted(d.message_id for d in got) == sorted(m.message_id for m in sent)
    assert {d.attempt for d in got} == {1}
    await subscription.stop()


async def test_a_queue_created_without_a_redrive_policy_is_used_with_a_warning(
    sqs: SQSHarness, caplog: pytest.LogCaptureFixture
) -> None:
    queue = sqs.queue("by-hand")
    client = raw_client()
    client.create_queue(QueueName=queue)  # as a foreign producer might: no RedrivePolicy
    client.close()
    with caplog.at_level("WARNING", logger="brokerjobs.sqs"):
        subscription = await sqs.sqs_backend().consume([queue], prefetch=1)
        await subscription.aclose()
    [warning] = [r.getMessage() for r in caplog.records if "RedrivePolicy" in r.getMessage()]
    assert f"{queue!r} has no RedrivePolicy" in warning and f"{queue}-dlq" in warning

    caplog.clear()
    declared = sqs.queue("declared")
    with caplog.at_level("WARNING", logger="brokerjobs.sqs"):
        await sqs.sqs_backend().declare(declared)  # created by brokerjobs: has one
    assert not [r for r in caplog.records if "RedrivePolicy" in r.getMessage()]
