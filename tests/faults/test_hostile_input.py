"""Hostile input: the worker never dies, every bad message is parked with a reason, good
jobs alongside run normally (promise 5; T21-T22 of the plan).

A hypothesis fuzz on the memory backend (in-process worker with the telemetry
middleware, so forged trace headers go through the real extraction), then a fixed corpus
through real worker processes on each broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pika
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerjobs import Worker, dispatch_many_async
from brokerjobs.backend import Backend, OutgoingMessage
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.telemetry.consumer import telemetry_middleware
from tests.faults import jobs
from tests.faults.conftest import make_fleet
from tests.faults.fleet import Fleet
from tests.faults.hostile import Hostile, corpus, hostile_cases
from tests.faults.ledger import ENV_VAR, Ledger
from tests.faults.targets import RabbitTarget, SqsTarget, Target
from tests.support.harness import eventually

pytestmark = pytest.mark.faults

QUEUE = "hostile"
GOOD = 3


async def publish_cases(backend: Backend, queue: str, cases: list[Hostile]) -> dict[str, Hostile]:
    sent = {}
    for index, case in enumerate(cases):
        message_id = f"hostile-{index}-{uuid.uuid4().hex[:8]}"
        await backend.publish(queue, OutgoingMessage(body=case.body, message_id=message_id))
        sent[message_id] = case
    return sent


def assert_fates(sent: dict[str, Hostile], dead: dict[str, str], ledger: Ledger) -> None:
    ran = {run.key: run for run in ledger.executions() if run.outcome == "ok"}
    for message_id, case in sent.items():
        if case.fate == "dead":
            assert message_id in dead, f"{case.kind} was not dead-lettered: {case.body[:200]!r}"
            assert dead[message_id].strip(), f"{case.kind} parked without a reason"
        else:
            assert message_id not in dead, f"{case.kind} was parked: {dead.get(message_id)}"
            assert case.key in ran, f"{case.kind} did not run"
            assert ran[case.key].attempt == 1, "a forged header changed the attempt count"


async def run_on_memory(cases: list[Hostile], ledger: Ledger) -> None:
    backend = MemoryBackend(MemoryStore())  # a store of its own: nothing shared
    await backend.declare(QUEUE)
    sent = await publish_cases(backend, QUEUE, cases)
    good = [f"good-{uuid.uuid4().hex}" for _ in range(GOOD)]
    await dispatch_many_async([jobs.Work(key=k) for k in good], backend=backend, queue=QUEUE)
    worker = Worker(
        backend,
        [QUEUE],
        concurrency=4,
        stop_when_idle=True,
        shutdown_timeout=5,
        middleware=[telemetry_middleware("memory")],
    )
    assert await asyncio.wait_for(worker.run(), 60), "the worker left messages unsettled"
    letters = await backend.dead_letters(QUEUE, limit=1000)
    dead = {letter.message_id: letter.reason for letter in letters}
    assert len(letters) == sum(case.fate == "dead" for case in cases)
    assert_fates(sent, dead, ledger)
    assert set(good) <= ledger.finished_keys(), "good jobs alongside were affected"
    await backend.aclose()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases=st.lists(hostile_cases(QUEUE), min_size=1, max_size=6))
def test_fuzzed_messages_are_parked_and_good_jobs_run_on_memory(
    cases: list[Hostile], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "ledger.db"
    ledger = Ledger(path)
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(path)
    try:
        asyncio.run(run_on_memory(cases, ledger))
    finally:
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous
        ledger.close()


def publish_foreign(target: Target) -> int:
    """A message published by another program, with none of our headers or attributes."""
    if isinstance(target, RabbitTarget):
        with pika.BlockingConnection(pika.URLParameters(target.node.url)) as connection:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish("", target.broker_queue(), b"hello from another service")
        return 1
    if isinstance(target, SqsTarget):
        client = target.raw_client()
        url = client.get_queue_url(QueueName=target.sqs_name(target.queue))["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="hello from another service")
        client.close()
        return 1
    return 0


@pytest.mark.slow
async def test_hostile_corpus_through_real_worker_processes(
    target: Target, ledger: Ledger, fleet_factory: list[Fleet], tmp_path: Path
) -> None:
    backend = target.backend()
    await backend.declare(target.queue)
    limit = backend.max_message_size
    oversized = None if target.name == "sqs" else limit + 1024
    cases = corpus(target.queue, oversized)
    sent = await publish_cases(backend, target.queue, cases)
    foreign = await asyncio.to_thread(publish_foreign, target)
    good = [f"good-{uuid.uuid4().hex}" for _ in range(GOOD)]
    ledger.confirmed(good)
    await dispatch_many_async([jobs.Work(key=k) for k in good], backend=backend, queue=target.queue)
    fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "4")
    worker = fleet.spawn()
    expected_dead = sum(case.fate == "dead" for case in cases) + foreign

    letters: dict[str, str] = {}

    async def settled() -> bool:
        found = await backend.dead_letters(target.queue, limit=100)
        letters.update({letter.message_id: letter.reason for letter in found})
        return len(found) >= expected_dead and set(good) <= ledger.finished_keys()

    try:
        await eventually(settled, timeout=60, interval=0.5)
    except AssertionError:
        raise AssertionError(f"dead={json.dumps(letters)[:3000]}\n{fleet.output()}") from None
    assert_fates(sent, letters, ledger)
    assert len(letters) == expected_dead
    assert worker.alive(), fleet.output()
