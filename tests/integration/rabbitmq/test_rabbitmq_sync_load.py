"""Sync and async jobs under load on the real broker: every job once, no channel lost (#13).

Before the fix, acks sent as concurrent tasks could overtake each other in aiormq's
bounded write queue. Plain ``def run`` jobs complete in bursts from the thread pool,
which filled that queue; a multiple ack then reached the broker ahead of a single ack
below it, the broker closed the channel ("unknown delivery tag") and requeued every
unacked delivery: jobs ran twice and the worker crawled. These runs count what a user
would notice: runs per job, lost subscriptions and ERROR records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend, RabbitMQSettings

import brokerjobs
from brokerjobs import Job, JobContext
from brokerjobs.worker import Worker
from tests.support.backend_rabbitmq import RabbitMQHarness, broker_address
from tests.support.slow_link import SlowLink

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

JOBS = 3000
RUNS: Counter[str] = Counter()
_lock = threading.Lock()


def _record(ctx: JobContext) -> None:
    with _lock:
        RUNS[ctx.message_id] += 1


class SyncLoadJob(Job, name="tests.load.sync"):
    n: int

    def run(self, ctx: JobContext) -> None:
        # Uneven I/O-like work, as real jobs do: threads finish out of delivery order,
        # so acks are a mix of single and multiple ones (what triggered the storm).
        time.sleep(0.0003 * (self.n % 4))
        _record(ctx)


class AsyncLoadJob(Job, name="tests.load.async"):
    n: int

    async def run(self, ctx: JobContext) -> None:
        await asyncio.sleep(0.0003 * (self.n % 4))
        _record(ctx)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()[:200]}")


async def _drain(backend: RabbitMQBackend, queue: str, ids: set[str], worker: Worker) -> None:
    task = asyncio.create_task(worker.run())
    deadline = time.monotonic() + 120
    try:
        while not ids <= RUNS.keys():
            assert not task.done(), "the worker stopped before the queue was drained"
            assert time.monotonic() < deadline, f"{len(ids - RUNS.keys())} jobs never ran"
            await asyncio.sleep(0.05)
        # Late duplicates would come from requeued deliveries: wait until none is unacked.
        while (await backend.stats(queue)).in_flight:
            assert time.monotonic() < deadline, "deliveries left unacked"
            await asyncio.sleep(0.05)
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 60)


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("concurrency", [1, 32, 64, 256])
@pytest.mark.parametrize("prefetch", [None, 512], ids=["default-prefetch", "prefetch-512"])
async def test_every_job_runs_once_and_no_channel_is_lost(
    rabbit: RabbitMQHarness,
    stack: contextlib.ExitStack,
    kind: str,
    concurrency: int,
    prefetch: int | None,
) -> None:
    """Over a slow link (a busy broker): the worker's frames queue up in aiormq."""
    producer = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue(f"load-{kind}-{concurrency}")
    await producer.declare(queue)
    cls = SyncLoadJob if kind == "sync" else AsyncLoadJob
    jobs = 300 if concurrency == 1 else JOBS  # one at a time: a round trip per job
    ids = set(
        await brokerjobs.dispatch_many_async(
            [cls(n=i) for i in range(jobs)], backend=producer, queue=queue
        )
    )
    assert len(ids) == jobs
    link = stack.enter_context(SlowLink(broker_address()))
    url = (
        RabbitMQSettings()
        .url.get_secret_value()
        .replace(f":{broker_address()[1]}/", f":{link.port}/")
    )
    backend = await rabbit.new_rabbitmq_backend(url=url)
    errors = _Errors()
    root = logging.getLogger()
    level = root.level
    root.addHandler(errors)
    root.setLevel(logging.INFO)  # as `brokerjobs consume` runs: a log record per job
    try:
        worker = Worker(backend, [queue], concurrency=concurrency, prefetch=prefetch)
        await _drain(backend, queue, ids, worker)
    finally:
        root.removeHandler(errors)
        root.setLevel(level)
    doubled = {message_id: n for message_id in ids if (n := RUNS[message_id]) != 1}
    assert doubled == {}, f"{len(doubled)} jobs ran more than once"
    assert worker.subscription_losses == 0
    assert errors.records == []


async def test_a_lost_channel_is_counted_and_logged_with_the_brokers_reason(
    rabbit: RabbitMQHarness, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await rabbit.new_rabbitmq_backend()
    queue = rabbit.queue("reason")
    await backend.declare(queue)
    worker = Worker(backend, [queue], concurrency=2)
    task = asyncio.create_task(worker.run())
    try:
        await _until(lambda: worker.connected, "the worker did not subscribe")
        intake = worker._intake
        assert intake is not None and intake.feeds[0].subscription is not None
        channel = intake.feeds[0].subscription._channel  # type: ignore[attr-defined]
        with caplog.at_level(logging.WARNING, logger="brokerjobs.worker"):
            await channel.basic_ack(999_999)  # never delivered: the broker closes the channel
            await _until(lambda: worker.subscription_losses == 1, "the loss was not counted")
            await _until(lambda: worker.connected, "the worker did not re-subscribe")
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 60)
    assert worker.subscription_losses == 1
    assert any("unknown delivery tag" in record.getMessage() for record in caplog.records)


async def _until(check: Callable[[], bool], failure: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)
