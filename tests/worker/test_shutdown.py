"""Graceful and forced stops in process: nothing lost, nothing run twice when graceful."""

from __future__ import annotations

import asyncio

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import make_worker, send


async def test_graceful_stop_finishes_running_jobs_and_gives_prefetched_ones_back(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    tokens = [f"{token}-{i}" for i in range(6)]
    for each in tokens:
        await send(backend, queue, jobs.Sleep(token=each, seconds=1.0))
    worker = make_worker(backend, [queue], concurrency=2, prefetch=2)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _started(tokens, 2))
    worker.request_stop()
    clean = await asyncio.wait_for(task, 20)
    assert clean is True
    finished = [t for t in tokens if jobs.runs(t + ":done")]
    assert len(finished) == 2, "the two running jobs finish during the grace period"

    async def nothing_held() -> bool:
        stats = await backend.stats(queue)
        return stats.in_flight == 0 and stats.ready == 4

    await eventually(nothing_held, timeout=5)  # released at once, not after a lease

    second = make_worker(await harness.new_backend(), [queue], concurrency=4)
    task = asyncio.create_task(second.run())
    await eventually(lambda: _done(tokens), timeout=20)
    second.request_stop()
    assert await asyncio.wait_for(task, 20) is True
    for each in tokens:
        assert len(jobs.runs(each)) == 1, f"{each} ran {len(jobs.runs(each))} times"


async def test_second_stop_request_abandons_running_jobs_which_are_redelivered(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    tokens = [f"{token}-{i}" for i in range(2)]
    for each in tokens:
        await send(backend, queue, jobs.Sleep(token=each, seconds=3.0))
    worker = make_worker(backend, [queue], concurrency=2, shutdown_timeout=30)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _started(tokens, 2))
    worker.request_stop()
    worker.request_stop()
    assert await asyncio.wait_for(task, 5) is False
    assert not any(jobs.runs(t + ":done") for t in tokens)
    await harness.crash(backend)  # the process exits: its connections drop

    second = make_worker(await harness.new_backend(), [queue])
    task = asyncio.create_task(second.run())
    await eventually(lambda: _done(tokens), timeout=harness.redelivery_timeout + 10)
    second.request_stop()
    assert await asyncio.wait_for(task, 20) is True
    for each in tokens:
        assert len(jobs.runs(each + ":done")) == 1


async def test_shutdown_timeout_bounds_the_wait(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    await send(backend, queue, jobs.Sleep(token=token, seconds=10.0))
    worker = make_worker(backend, [queue], shutdown_timeout=0.5)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _started([token], 1))
    loop = asyncio.get_running_loop()
    began = loop.time()
    worker.request_stop()
    assert await asyncio.wait_for(task, 5) is False
    assert loop.time() - began < 3


async def _started(tokens: list[str], count: int) -> bool:
    return sum(1 for t in tokens if jobs.runs(t)) >= count


async def _done(tokens: list[str]) -> bool:
    return all(jobs.runs(t + ":done") for t in tokens)
