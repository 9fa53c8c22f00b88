"""Garbage bodies, unknown job names and payloads that no longer validate go to the DLQ at
once with the reason, and the worker keeps running (promise 5)."""

from __future__ import annotations

import json
import uuid

import pytest

from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.envelope import Envelope, encode, utcnow
from tests.support.harness import eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, make_worker, running, send


def envelope_body(
    job: str, payload: dict[str, object], *, queue: str, max_attempts: int = 3
) -> bytes:
    envelope = Envelope(
        id=uuid.uuid4().hex,
        job=job,
        queue=queue,
        payload=payload,
        max_attempts=max_attempts,
        created_at=utcnow(),
    )
    return encode(envelope)


BAD_BODIES = {
    "not-json": (b"\xff\xfe definitely not json", "not a brokerjobs envelope"),
    "json-not-envelope": (json.dumps({"hello": "world"}).encode(), "not a brokerjobs envelope"),
    "pickle": (
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os",
        "not a brokerjobs envelope",
    ),
    "deep-nesting": (b"[" * 5000 + b"]" * 5000, "not a brokerjobs envelope"),
}


@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
async def test_garbage_body_is_dead_lettered_and_the_worker_carries_on(
    backend: Backend, queue: str, token: str, kind: str
) -> None:
    body, expected = BAD_BODIES[kind]
    bad_id = uuid.uuid4().hex
    await backend.publish(queue, OutgoingMessage(body=body, message_id=bad_id))
    await send(backend, queue, jobs.Succeed(token=token))
    async with running(make_worker(backend, [queue], concurrency=1)):
        dead = await dead_letter(backend, queue, bad_id)
        await eventually(lambda: _ran(token))
    assert expected in dead.reason
    assert dead.body == body


async def test_unknown_job_name_is_dead_lettered_with_the_name(
    backend: Backend, queue: str, token: str
) -> None:
    body = envelope_body("bjtest.no_such_job", {}, queue=queue)
    message_id = json.loads(body)["id"]
    await backend.publish(queue, OutgoingMessage(body=body, message_id=message_id))
    await send(backend, queue, jobs.Succeed(token=token))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
        await eventually(lambda: _ran(token))
    assert "bjtest.no_such_job" in dead.reason and "--app" in dead.reason
    assert dead.attempt == 1


async def test_payload_that_no_longer_validates_is_dead_lettered(
    backend: Backend, queue: str, token: str
) -> None:
    body = envelope_body("bjtest.typed", {"token": token, "count": "many"}, queue=queue)
    message_id = json.loads(body)["id"]
    await backend.publish(queue, OutgoingMessage(body=body, message_id=message_id))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert "payload no longer validates against bjtest.typed" in dead.reason
    assert "count" in dead.reason
    assert jobs.runs(token) == []


async def _ran(token: str) -> bool:
    return len(jobs.runs(token)) == 1


async def test_a_validator_raising_any_exception_dead_letters_the_message(
    backend: Backend, queue: str, token: str
) -> None:
    body = envelope_body("bjtest.picky", {"token": "boom"}, queue=queue)
    message_id = json.loads(body)["id"]
    await backend.publish(queue, OutgoingMessage(body=body, message_id=message_id))
    await send(backend, queue, jobs.Picky(token=token))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
        await eventually(lambda: _ran(token))
    assert "payload no longer validates against bjtest.picky" in dead.reason
    assert "TypeError: cannot handle boom" in dead.reason
