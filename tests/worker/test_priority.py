"""Queues given in priority order are served strictly in that order."""

from __future__ import annotations

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import make_worker, running, send


async def test_backlog_of_an_earlier_queue_runs_before_a_later_one(
    harness: BackendHarness, backend: Backend, token: str
) -> None:
    high, low = harness.queue("high"), harness.queue("low")
    for queue in (high, low):
        await backend.declare(queue)
    for _ in range(3):
        await send(backend, low, jobs.SyncSucceed(token=token))
    for _ in range(3):
        await send(backend, high, jobs.SyncSucceed(token=token))
    async with running(make_worker(backend, [high, low], concurrency=1, prefetch=2)):
        await eventually(lambda: _count(token, 6))
    assert [run.queue for run in jobs.runs(token)] == [high] * 3 + [low] * 3


async def test_a_freed_slot_goes_to_the_earlier_queue_even_if_a_later_one_was_fetched_first(
    harness: BackendHarness, backend: Backend, token: str
) -> None:
    high, low = harness.queue("high"), harness.queue("low")
    for queue in (high, low):
        await backend.declare(queue)
    worker = make_worker(backend, [high, low], concurrency=1, prefetch=2)
    async with running(worker):
        await send(backend, low, jobs.Sleep(token=token, seconds=1.0))
        await eventually(lambda: _count(token, 1))  # the only slot is busy now
        for _ in range(2):
            await send(backend, low, jobs.Succeed(token=token))
        for _ in range(2):
            await send(backend, high, jobs.Succeed(token=token))
        await eventually(lambda: _count(token, 5), timeout=15)
    assert [run.queue for run in jobs.runs(token)] == [low, high, high, low, low]


async def _count(token: str, count: int) -> bool:
    return len(jobs.runs(token)) >= count
