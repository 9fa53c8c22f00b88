"""SQS faults on a private moto server (T19 heartbeat, T3 shutdown race, T27 moto restart).

Worker logs are scanned for the AWS secret key the workers were given.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults import jobs
from tests.faults.checker import assert_sound, drain
from tests.faults.conftest import make_fleet
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.moto_process import MotoProcess
from tests.faults.producer import new_keys, produce
from tests.faults.scenarios import until_started
from tests.faults.targets import SqsTarget
from tests.support.harness import eventually

pytestmark = [pytest.mark.faults, pytest.mark.sqs, pytest.mark.slow]


@pytest.fixture
async def sqs_short_lease(moto: MotoProcess) -> AsyncIterator[SqsTarget]:
    target = SqsTarget(moto, visibility_timeout=2)
    yield target
    await target.aclose()


@pytest.fixture
async def sqs_long_lease(moto: MotoProcess) -> AsyncIterator[SqsTarget]:
    target = SqsTarget(moto, visibility_timeout=30, wait_time=5)
    yield target
    await target.aclose()


def assert_secret_hidden(target: SqsTarget, fleet: Fleet) -> None:
    assert target.secret_key not in fleet.full_output(), "the AWS secret key leaked into a log"


async def test_heartbeat_keeps_running_and_prefetched_messages_past_the_visibility_timeout(
    sqs_short_lease: SqsTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T19: 6 s jobs, 2 s visibility, prefetched messages waiting behind them: no message
    is received twice while a worker holds it."""
    target = sqs_short_lease
    backend = target.backend()
    keys = new_keys(4)
    await produce(backend, target.queue, ledger, keys, lambda k: jobs.Work(key=k, seconds=6.0))
    fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "1", "--prefetch", "2")
    fleet.start(2)
    verdict = await drain(ledger, backend, target.queue, timeout=60)
    assert_sound(verdict, max_duplicates=0)
    assert verdict.reruns == 0, f"a held message was redelivered: {verdict.summary()}"
    assert_secret_hidden(target, fleet)


async def test_sigterm_releases_prefetched_messages_without_the_restore_race(
    sqs_long_lease: SqsTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T3 (SQS, kombu#1835): SIGTERM during a 5 s long poll; the released messages must be
    visible at once, not after the 30 s visibility timeout; nothing runs twice."""
    target = sqs_long_lease
    backend = target.backend()
    keys = new_keys(5)
    await produce(backend, target.queue, ledger, keys, lambda k: jobs.Work(key=k, seconds=1.0))
    args = ["--concurrency", "1", "--prefetch", "4", "--shutdown-timeout", "20"]
    fleet = make_fleet(fleet_factory, target, ledger, *args)
    first = fleet.spawn()
    await until_started(ledger, 1)
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(30) == 0, fleet.output()
    exited = time.monotonic()

    fleet.spawn(extra=["--concurrency", "5"])
    verdict = await drain(ledger, backend, target.queue, timeout=60)
    took = time.monotonic() - exited
    assert_sound(verdict, max_duplicates=0)
    assert verdict.reruns == 0
    assert took < 20, f"released messages came back after {took:.0f} s (the restore race)"
    assert_secret_hidden(target, fleet)
    print(f"\n[T3 sqs race] {verdict.summary()} rest done {took:.1f} s after the first exited")


@pytest.mark.timeout(300)  # ~45 s when it passes; the drain gives up after 150 s
async def test_subscriptions_failed_by_a_stalled_endpoint_lose_nothing(
    moto: MotoProcess, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """Bug 6: moto stops answering long enough for the worker's subscription to fail
    (three failed receives) while one job runs and another waits in the worker's buffer.

    The worker drops those deliveries (they are no longer its own) and re-subscribes;
    they must come back once their visibility lapses. Before the fix the failed
    subscription's heartbeat kept them invisible for as long as the worker lived.
    """
    # Short client timeouts make the receives fail fast; a 30 s visibility outlives the
    # stall, so the leases cannot lapse by themselves while moto is stopped.
    target = SqsTarget(moto, visibility_timeout=30, read_timeout=0.5, connect_timeout=0.5)
    try:
        backend = target.backend()
        slow = new_keys(1)
        waiting = new_keys(1)  # the subscription has room for one more: it keeps polling
        await produce(
            backend,
            target.queue,
            ledger,
            slow,
            lambda k: jobs.Long(key=k, seconds=20.0, first_only=True),
        )
        await produce(backend, target.queue, ledger, waiting, lambda k: jobs.Work(key=k))
        fleet = make_fleet(fleet_factory, target, ledger, "--concurrency", "1", "--prefetch", "2")
        worker = fleet.spawn()
        await until_started(ledger, 1)
        moto.pause()
        try:
            await eventually(lambda: _logged(fleet, "subscription failed"), timeout=90)
        finally:
            moto.resume()
        verdict = await drain(ledger, backend, target.queue, timeout=150)
        assert_sound(verdict, max_duplicates=1)  # the 20 s job may run twice
        assert worker.alive(), fleet.output()
    finally:
        moto.resume()
        await target.aclose()
    print(f"\n[bug 6] {verdict.summary()}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_worker_survives_the_sqs_endpoint_dying_and_resumes(
    sqs: SqsTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """T27: kill -9 the moto server under a worker, restart it (empty: moto keeps nothing).

    What this can show: the worker neither dies nor spins while the endpoint is gone, and
    serves the queue again once it is back. What it cannot: SQS durability — the messages
    moto held are gone, so only jobs dispatched after the restart are checked.
    """
    backend = sqs.backend()
    await backend.declare(sqs.queue)
    fleet = make_fleet(fleet_factory, sqs, ledger, "--concurrency", "2")
    worker = fleet.spawn()
    await eventually(lambda: _logged(fleet, "consuming"), timeout=30)

    sqs.moto.kill9()
    await asyncio.sleep(2)
    before = cpu_seconds(worker.pid)
    await asyncio.sleep(5)
    busy = (cpu_seconds(worker.pid) - before) / 5
    sqs.moto.start()
    assert busy < 0.2, f"the worker spun at {busy:.0%} CPU while the endpoint was down"
    assert worker.alive(), fleet.output()

    keys = new_keys(10)
    fresh = sqs.backend()
    await produce(fresh, sqs.queue, ledger, keys, lambda k: jobs.Work(key=k))
    verdict = await drain(ledger, fresh, sqs.queue, timeout=60)
    assert_sound(verdict, max_duplicates=0)
    assert worker.alive()
    assert_secret_hidden(sqs, fleet)
    print(f"\n[T27] {verdict.summary()} worker CPU while moto was down {busy:.1%}")


async def _logged(fleet: Fleet, text: str) -> bool:
    return text in fleet.full_output()
