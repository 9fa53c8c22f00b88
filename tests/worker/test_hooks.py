"""Lifecycle hooks fire in order, middleware wraps the handling, and neither breaks the worker."""

from __future__ import annotations

from collections.abc import Sequence

from brokerjobs.backend import Backend
from brokerjobs.worker import CallNext, Hooks, JobEvent
from tests.support.harness import eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, make_worker, running, send


def recording_hooks(seen: list[tuple[str, str, object]]) -> Hooks:
    hooks = Hooks()

    @hooks.before
    def before(event: JobEvent) -> None:
        seen.append(("before", event.message_id, event.attempt))

    @hooks.after
    async def after(event: JobEvent) -> None:
        seen.append(("after", event.message_id, event.outcome))

    @hooks.on_failure
    def failure(event: JobEvent) -> None:
        seen.append(("on_failure", event.message_id, type(event.error).__name__))

    @hooks.on_retry
    def retry(event: JobEvent) -> None:
        seen.append(("on_retry", event.message_id, event.retry_delay))

    @hooks.on_dead_letter
    def dead(event: JobEvent) -> None:
        seen.append(("on_dead_letter", event.message_id, event.outcome))

    return hooks


async def test_hooks_fire_in_order_through_retries_and_dead_lettering(
    backend: Backend, queue: str, token: str
) -> None:
    seen: list[tuple[str, str, object]] = []
    ok_id = await send(backend, queue, jobs.Succeed(token=token))
    bad_id = await send(backend, queue, jobs.AlwaysFail(token=token + "bad"))
    worker = make_worker(backend, [queue], concurrency=1, hooks=recording_hooks(seen))
    async with running(worker):
        await dead_letter(backend, queue, bad_id)
        await eventually(lambda: _seen(seen, ("on_dead_letter", bad_id, "dead_letter")))
    assert [entry for entry in seen if entry[1] == ok_id] == [
        ("before", ok_id, 1),
        ("after", ok_id, "ack"),
    ]
    assert [entry for entry in seen if entry[1] == bad_id] == [
        ("before", bad_id, 1),
        ("on_failure", bad_id, "ValueError"),
        ("on_retry", bad_id, 0.1),
        ("before", bad_id, 2),
        ("on_failure", bad_id, "ValueError"),
        ("on_dead_letter", bad_id, "dead_letter"),
    ]


async def test_middleware_wraps_handling_and_sees_the_outcome(
    backend: Backend, queue: str, token: str
) -> None:
    trail: list[str] = []

    async def outer(event: JobEvent, call_next: CallNext) -> None:
        trail.append("outer in")
        await call_next()
        trail.append(f"outer out {event.outcome} {type(event.error).__name__}")

    async def inner(event: JobEvent, call_next: CallNext) -> None:
        trail.append("inner in")
        await call_next()
        trail.append("inner out")

    hooks = Hooks()
    hooks.before(lambda event: trail.append("before hook"))
    message_id = await send(backend, queue, jobs.GiveUp(token=token))
    worker = make_worker(backend, [queue], hooks=hooks, middleware=[outer, inner])
    async with running(worker):
        await dead_letter(backend, queue, message_id)
        await eventually(lambda: _seen(trail, "outer out dead_letter Fail"))
    assert trail == [
        "outer in",
        "inner in",
        "before hook",
        "inner out",
        "outer out dead_letter Fail",
    ]


async def test_a_failing_hook_or_middleware_does_not_break_the_worker(
    backend: Backend, queue: str, token: str
) -> None:
    hooks = Hooks()

    @hooks.before
    def broken(event: JobEvent) -> None:
        raise RuntimeError("hook bug")

    calls = 0

    async def broken_once(event: JobEvent, call_next: CallNext) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("middleware bug")
        await call_next()

    await send(backend, queue, jobs.FailTimes(token=token, failures=0))
    worker = make_worker(backend, [queue], hooks=hooks, middleware=[broken_once])
    async with running(worker):
        await eventually(lambda: _ran(token), timeout=15)

        async def acked() -> bool:
            stats = await backend.stats(queue)
            return (stats.ready, stats.in_flight, stats.delayed, stats.dead) == (0, 0, 0, 0)

        await eventually(acked)
    # The middleware bug counted as a failed attempt (retried); the second attempt ran.
    assert [run.attempt for run in jobs.runs(token)] == [2]


async def _seen(items: Sequence[object], wanted: object) -> bool:
    return wanted in items


async def _ran(token: str) -> bool:
    return bool(jobs.runs(token))
