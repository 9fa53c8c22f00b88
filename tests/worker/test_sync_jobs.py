"""Plain ``def run`` jobs where the thread pool meets the event loop, on every backend (#13).

Sync jobs run in worker threads and report back to the loop; these are the moments the
two meet: many completions at once, a graceful stop with every thread busy, a job that
outlives its lease, and a job abandoned past its time limit while others keep running.
"""

from __future__ import annotations

import asyncio

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import make_worker, send

BUSY = 64


async def _all(tokens: list[str], suffix: str = "") -> bool:
    return all(jobs.runs(t + suffix) for t in tokens)


async def test_a_graceful_stop_with_every_thread_busy_finishes_them_all(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    tokens = [f"{token}-{i}" for i in range(BUSY)]
    await asyncio.gather(
        *(send(backend, queue, jobs.SyncSleep(token=t, seconds=1.0)) for t in tokens)
    )
    worker = make_worker(backend, [queue], concurrency=BUSY, shutdown_timeout=30)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: _all(tokens), timeout=30)
    worker.request_stop()
    assert await asyncio.wait_for(task, 40) is True
    for each in tokens:
        assert len(jobs.runs(each)) == 1, f"{each} started {len(jobs.runs(each))} times"
        assert len(jobs.runs(each + ":done")) == 1, f"{each} did not finish exactly once"

    async def nothing_left() -> bool:
        stats = await backend.stats(queue)
        return stats.ready == 0 and stats.in_flight == 0

    await eventually(nothing_left, timeout=10)


async def test_a_sync_job_longer_than_its_lease_keeps_it(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    worker = make_worker(backend, [queue], concurrency=2)
    seconds = min(2.5 * worker.lease, 6.0)  # short leases in the harnesses: 2-3 of them
    await send(backend, queue, jobs.SyncSleep(token=token, seconds=seconds))
    rival = make_worker(await harness.new_backend(), [queue], concurrency=2)
    tasks = [asyncio.create_task(w.run()) for w in (worker, rival)]
    try:
        await eventually(lambda: _all([token], ":done"), timeout=seconds + 20)
    finally:
        for each in (worker, rival):
            each.request_stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert len(jobs.runs(token)) == 1, "the lease lapsed: another worker ran the job again"


async def test_an_abandoned_thread_does_not_hold_up_the_jobs_behind_it(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    await send(backend, queue, jobs.SlowSync(token=token, seconds=8.0))
    others = [f"{token}-{i}" for i in range(20)]
    for each in others:
        await send(backend, queue, jobs.SyncSucceed(token=each))
    worker = make_worker(backend, [queue], concurrency=1)
    task = asyncio.create_task(worker.run())
    try:
        # One thread: the 8 s job is abandoned at its 0.3 s limit, the rest run meanwhile.
        await eventually(lambda: _all(others), timeout=7)
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)
    assert all(len(jobs.runs(each)) == 1 for each in others)
