"""Publishing to SQS: failed batch entries, size limits, exact bodies, fork safety, errors."""

from __future__ import annotations

import multiprocessing
import socket
from typing import Any

import pytest

from brokerjobs.errors import BrokerUnavailableError, PayloadTooLargeError, PublishRejectedError
from tests.integration.sqs.conftest import message
from tests.support.backend_sqs import SQSHarness, raw_client
from tests.support.harness import receive

pytestmark = pytest.mark.sqs


class FailEntry:
    """One entry of each SendMessageBatch is refused by the server, as an internal error.

    The entry is sent with an out-of-range ``DelaySeconds`` so the server really refuses it
    (and stores nothing) while accepting the others; the response's ``SenderFault`` is then
    relabelled to a server-side ``InternalError``, the kind of failure worth retrying.
    """

    def __init__(self, entry_id: str, times: int) -> None:
        self.entry_id = entry_id
        self.times = times
        self.calls: list[list[str]] = []

    def before(self, params: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls.append([entry["Id"] for entry in params["Entries"]])
        if self.times <= 0:
            return params
        self.times -= 1
        entries = [
            dict(e, DelaySeconds=901) if e["Id"] == self.entry_id else e for e in params["Entries"]
        ]
        return {**params, "Entries": entries}

    def after(self, parsed: dict[str, Any], **_: Any) -> None:
        for failed in parsed.get("Failed", []):
            if failed["Id"] == self.entry_id:
                failed.update(SenderFault=False, Code="InternalError")

    def install(self, backend: Any) -> None:
        backend.add_event_hook("provide-client-params.sqs.SendMessageBatch", self.before)
        backend.add_event_hook("after-call.sqs.SendMessageBatch", self.after)


async def drain(backend: Any, queue: str, count: int) -> list[Any]:
    subscription = await backend.consume([queue], prefetch=10)
    got = []
    for _ in range(count):
        delivery = await receive(subscription)
        got.append(delivery)
        await backend.ack(delivery)
    await subscription.stop()
    return got


async def test_a_failed_batch_entry_is_retried_alone(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend()
    fault = FailEntry("3", times=1)
    fault.install(backend)
    sent = [message() for _ in range(10)]
    await backend.publish_batch(queue, sent)

    assert fault.calls == [[str(i) for i in range(10)], ["3"]]
    got = await drain(backend, queue, 10)
    assert sorted(d.message_id for d in got) == sorted(m.message_id for m in sent)
    assert (await backend.stats(queue)).ready == 0, "no duplicate was sent"


async def test_an_entry_that_keeps_failing_raises_naming_what_was_accepted(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend(batch_attempts=3)
    fault = FailEntry("7", times=100)
    fault.install(backend)
    sent = [message() for _ in range(10)]
    with pytest.raises(PublishRejectedError) as raised:
        backend.publish_batch_sync(queue, sent)
    assert "accepted 9 of 10" in str(raised.value)
    assert sent[7].message_id in str(raised.value)
    assert len(fault.calls) == 3
    got = await drain(backend, queue, 9)
    assert sent[7].message_id not in {d.message_id for d in got}


async def test_oversized_payload_fails_at_dispatch_naming_the_queue_limit(
    sqs: SQSHarness,
) -> None:
    queue = sqs.queue("small")
    client = raw_client()
    client.create_queue(QueueName=queue, Attributes={"MaximumMessageSize": "1024"})
    client.close()
    backend = sqs.sqs_backend()
    with pytest.raises(PayloadTooLargeError, match="limit of 1024 bytes") as raised:
        await backend.publish(queue, message(b"x" * 1000))  # body fits, attributes do not
    assert queue in str(raised.value)
    with pytest.raises(PayloadTooLargeError, match="limit of 1048576 bytes"):
        await backend.publish(sqs.queue("big"), message(b"x" * (1024 * 1024)))
    with pytest.raises(PayloadTooLargeError):
        await backend.publish_batch(queue, [message(), message(b"y" * 2000)])
    assert (await backend.stats(queue)).ready == 0


async def test_bodies_come_back_byte_for_byte(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend()
    bodies = [
        b"\x00\x01\xfe\xff not utf-8",
        "é ✓ 😀 \t\r\n".encode(),
        b"\x07 bell is not an SQS character",
        b"",
        b'{"json": true}',
    ]
    sent = [message(body) for body in bodies]
    await backend.publish_batch(queue, sent)
    got = {d.message_id: d.body for d in await drain(backend, queue, len(sent))}
    assert got == {m.message_id: m.body for m in sent}


def _publish_in_child(backend: Any, queue: str, body: bytes) -> None:
    backend.publish_sync(queue, message(body))


async def test_sync_publish_works_in_a_forked_child(sqs: SQSHarness) -> None:
    queue = sqs.queue()
    backend = sqs.sqs_backend()
    backend.publish_sync(queue, message(b"parent"))  # the parent's client exists at fork
    child = multiprocessing.get_context("fork").Process(
        target=_publish_in_child, args=(backend, queue, b"child")
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    got = sorted(d.body for d in await drain(backend, queue, 2))
    assert got == [b"child", b"parent"]


async def test_unreachable_endpoint_is_unavailable_and_secrets_stay_hidden(
    sqs: SQSHarness,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "NOT-A-REAL-SECRET-d41d8cd98f"
    backend = sqs.sqs_backend(
        endpoint_url=f"http://user:{secret}@127.0.0.1:{port}",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key=secret,
        connect_timeout=1,
    )
    with pytest.raises(BrokerUnavailableError) as raised:
        await backend.publish(sqs.queue(), message())
    for text in (str(raised.value), repr(backend), repr(backend.settings)):
        assert secret not in text
        assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert "unreachable" in str(raised.value)
