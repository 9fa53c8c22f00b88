"""Time limits: an async job is cancelled, a sync job is reported failed (thread abandoned)."""

from __future__ import annotations

import time

from brokerjobs.backend import Backend
from tests.support.harness import eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, make_worker, running, send


async def test_async_job_past_its_limit_is_cancelled_and_fails(
    backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.SlowAsync(token=token))
    started = time.monotonic()
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert time.monotonic() - started < 10
    assert "JobTimeLimitExceeded" in dead.reason and "0.3 s" in dead.reason
    assert "cancelled" in dead.reason


async def test_sync_job_past_its_limit_fails_and_the_worker_keeps_its_slots(
    backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.SlowSync(token=token, seconds=3))
    worker = make_worker(backend, [queue], concurrency=1)
    async with running(worker):
        dead = await dead_letter(backend, queue, message_id)
        # The abandoned thread still sleeps, yet the single slot is free for the next job.
        await send(backend, queue, jobs.SyncSucceed(token=token + "next"))
        await eventually(lambda: _ran(token + "next"), timeout=2.5)
    assert "thread was abandoned" in dead.reason


async def _ran(token: str) -> bool:
    return bool(jobs.runs(token))
