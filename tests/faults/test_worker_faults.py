"""Worker-level faults on every target: kill -9, SIGTERM, hung jobs, poison (T1, T3, T4, T5).

Pass criterion everywhere: lost == 0, unexpected == 0, and duplicate successful runs no
more than the deliveries the faulted worker held (its concurrency + prefetch).
"""

from __future__ import annotations

import signal

import pytest

from tests.faults import jobs
from tests.faults.checker import assert_sound, drain
from tests.faults.conftest import make_fleet
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.producer import new_keys, produce
from tests.faults.scenarios import restarting, running_on, until_started
from tests.faults.targets import Target
from tests.support.harness import eventually

pytestmark = [pytest.mark.faults, pytest.mark.slow]


async def test_kill_9_mid_job_loses_nothing(
    target: Target, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T1: two workers; one is killed while it runs jobs; a fresh one takes over."""
    backend = target.backend()
    fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "4", "--prefetch", "4")
    fleet.start(2)
    keys = new_keys(40)
    await produce(backend, target.queue, ledger, keys, lambda k: jobs.Work(key=k, seconds=0.4))
    await until_started(ledger, 6)
    victim = max(fleet.members.values(), key=lambda m: len(running_on(ledger, m.pid)))
    interrupted = running_on(ledger, victim.pid)
    fleet.kill9(victim.index)
    assert interrupted, "the killed worker was running nothing: the fault hit no job"
    fleet.restart(victim)

    verdict = await drain(ledger, backend, target.queue, timeout=target.redelivery + 40)
    assert_sound(verdict, max_duplicates=8)
    reruns = {run.key for run in ledger.executions() if run.attempt >= 2}
    assert interrupted <= reruns, "every interrupted job ran again as a later attempt"
    print(f"\n[T1 {target.name}] {verdict.summary()}")


async def test_sigterm_finishes_running_jobs_and_gives_back_prefetched_ones(
    target: Target, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T3: SIGTERM with 2 running and prefetched jobs: exit 0, nothing runs twice."""
    backend = target.backend()
    keys = new_keys(8)
    await produce(backend, target.queue, ledger, keys, lambda k: jobs.Work(key=k, seconds=1.5))
    args = ["--concurrency", "2", "--prefetch", "4", "--shutdown-timeout", "20"]
    fleet = make_fleet(fleet_factory, target, ledger, *args)
    first = fleet.spawn()
    await until_started(ledger, 2)
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(25) == 0, fleet.output()
    finished_by_first = [r for r in ledger.executions() if r.pid == first.pid]
    assert finished_by_first and all(r.outcome == "ok" for r in finished_by_first)

    fleet.spawn(extra=["--concurrency", "8"])
    verdict = await drain(ledger, backend, target.queue, timeout=target.redelivery + 40)
    assert_sound(verdict, max_duplicates=0)
    assert verdict.reruns == 0, "a finished job was given back, or a released one counted"
    print(f"\n[T3 {target.name}] {verdict.summary()}")


async def test_hung_jobs_past_their_time_limit_fail_and_others_run(
    target: Target, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T4: an async job that never returns and a sync one stuck in sleep, among good jobs."""
    backend = target.backend()
    hang, hang_sync = new_keys(2)
    good = new_keys(6)
    await produce(backend, target.queue, ledger, [hang], lambda k: jobs.Hang(key=k))
    await produce(backend, target.queue, ledger, [hang_sync], lambda k: jobs.HangSync(key=k))
    await produce(backend, target.queue, ledger, good, lambda k: jobs.Work(key=k, seconds=0.1))
    fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "2")
    worker = fleet.spawn()

    verdict = await drain(ledger, backend, target.queue, timeout=60, expect_dead=2)
    assert_sound(verdict, max_duplicates=0, expect_dead=2)
    for key in (hang, hang_sync):
        assert "attempts exhausted (2/2)" in verdict.dead_reasons[key], verdict.dead_reasons
        assert "JobTimeLimitExceeded" in verdict.dead_reasons[key]
    starts = [r for r in ledger.executions() if r.key == hang]
    assert len(starts) == 2 and all(r.outcome == "cancelled" for r in starts)
    assert worker.alive(), fleet.output()


async def test_poison_job_is_dead_lettered_after_bounded_deliveries(
    target: Target, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T5: a job that kills its worker every time; workers are restarted as they die."""
    backend = target.backend()
    poison = new_keys(1)
    good = new_keys(10)
    await produce(backend, target.queue, ledger, poison, lambda k: jobs.Poison(key=k))
    await produce(backend, target.queue, ledger, good, lambda k: jobs.Work(key=k, seconds=0.2))
    fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "2")
    fleet.start(2)
    async with restarting(fleet):
        verdict = await drain(
            ledger, backend, target.queue, timeout=4 * target.redelivery + 60, expect_dead=1
        )
    # Each poison run killed one worker holding at most 2 deliveries.
    assert_sound(verdict, max_duplicates=2 * jobs.Poison.job_options.max_attempts, expect_dead=1)
    reason = verdict.dead_reasons[poison[0]]
    assert "poison message" in reason or "delivery limit" in reason, reason
    poison_runs = [r for r in ledger.executions() if r.key == poison[0]]
    assert len(poison_runs) <= jobs.Poison.job_options.max_attempts, poison_runs

    async def all_alive() -> bool:
        fleet.restart_dead()
        return len(fleet.pids()) == 2

    await eventually(all_alive, timeout=10)
    print(f"\n[T5 {target.name}] {verdict.summary()} poison runs={len(poison_runs)}")
