"""Success, retries with backoff, Retry/Fail, non-retryable errors, exhaustion → DLQ."""

from __future__ import annotations

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, make_worker, running, send


async def test_async_and_sync_jobs_run_once_and_are_acked(
    backend: Backend, queue: str, token: str
) -> None:
    await send(backend, queue, jobs.Succeed(token=token))
    await send(backend, queue, jobs.SyncSucceed(token=token + "s"))
    async with running(make_worker(backend, [queue])):
        await eventually(lambda: _has(token, 1))
        await eventually(lambda: _has(token + "s", 1))

        async def settled() -> bool:
            stats = await backend.stats(queue)
            return (stats.ready, stats.in_flight, stats.dead) == (0, 0, 0)

        await eventually(settled)
    assert [r.attempt for r in jobs.runs(token)] == [1]
    assert [r.attempt for r in jobs.runs(token + "s")] == [1]


async def test_retries_wait_for_the_backoff_and_never_run_early(
    harness: BackendHarness, backend: Backend, queue: str, token: str
) -> None:
    # backoff_base 0.4 s, no jitter: attempt 2 at >= +0.4 s, attempt 3 at >= +0.8 s more.
    await send(backend, queue, jobs.FailTimes(token=token, failures=2))
    async with running(make_worker(backend, [queue])):
        await eventually(lambda: _has(token, 3), timeout=15)
    first, second, third = jobs.runs(token)
    assert [first.attempt, second.attempt, third.attempt] == [1, 2, 3]
    assert second.at - first.at >= 0.4 - 0.02
    assert third.at - second.at >= 0.8 - 0.02
    assert third.at - second.at <= 0.8 + harness.timing_tolerance + 1.0
    stats = await backend.stats(queue)
    assert stats.dead == 0


async def test_exhausted_attempts_dead_letter_with_type_message_and_traceback(
    backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.AlwaysFail(token=token))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert [r.attempt for r in jobs.runs(token)] == [1, 2]
    assert "attempts exhausted (2/2)" in dead.reason
    assert "ValueError: broken on attempt 2" in dead.reason
    assert "Traceback" in dead.reason and "jobs.py" in dead.reason
    assert len(dead.reason) < 3000


async def test_retry_asks_for_its_own_delay(backend: Backend, queue: str, token: str) -> None:
    await send(backend, queue, jobs.AskRetry(token=token, delay=0.6))
    async with running(make_worker(backend, [queue])):
        await eventually(lambda: _has(token, 2), timeout=15)
    first, second = jobs.runs(token)
    assert second.attempt == 2
    assert second.at - first.at >= 0.6 - 0.02


async def test_fail_dead_letters_at_once(backend: Backend, queue: str, token: str) -> None:
    message_id = await send(backend, queue, jobs.GiveUp(token=token))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert len(jobs.runs(token)) == 1
    assert "the account no longer exists" in dead.reason


async def test_exception_outside_retry_on_dead_letters_at_once(
    backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.NotRetryable(token=token))
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert len(jobs.runs(token)) == 1
    assert "not retryable" in dead.reason and "KeyError" in dead.reason


async def test_dispatch_max_attempts_override_is_honoured(
    backend: Backend, queue: str, token: str
) -> None:
    message_id = await send(backend, queue, jobs.AlwaysFail(token=token), max_attempts=1)
    async with running(make_worker(backend, [queue])):
        dead = await dead_letter(backend, queue, message_id)
    assert [r.attempt for r in jobs.runs(token)] == [1]
    assert "(1/1)" in dead.reason


async def _has(token: str, count: int) -> bool:
    return len(jobs.runs(token)) >= count
