"""Broker-level faults on a private redis-server: kill -9 of the server during a run.

With AOF ``appendfsync always`` a reply comes after the write reached the disk, so a
kill -9 and a restart on the same directory lose nothing that was confirmed. Without
persistence a restart loses everything: the backend warns at worker start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.contract.conftest import message
from tests.faults import jobs
from tests.faults.checker import assert_sound
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.redis_load import fault_under_load
from tests.faults.redis_server import RedisServer, private_redis
from tests.faults.targets import RedisTarget

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    with private_redis(getattr(request, "param", "always")) as server:
        yield server


@pytest.fixture
async def redis_target(redis_server: RedisServer) -> AsyncIterator[RedisTarget]:
    target = RedisTarget(redis_server)
    yield target
    await target.aclose()


async def kill_server_under_load(
    target: RedisTarget,
    ledger: Ledger,
    fleets: list[Fleet],
    make: type[jobs.Work] | type[jobs.SyncWork],
) -> None:
    async def restart() -> None:
        await asyncio.to_thread(target.server.restart, 1.5)

    run = await fault_under_load(
        target, ledger, fleets, lambda k: make(key=k, seconds=0.05), restart, runs_each_side=20
    )
    # In flight when the server died: 2 workers x (4 running + 4 prefetched), plus
    # settlements that failed while it was down (those jobs run again).
    assert_sound(run.verdict, max_duplicates=16 + 40)
    assert run.verdict.confirmed == run.sent
    assert run.publish_errors > 0, "the restart never hit a publish: the fault missed the load"
    assert all(m.alive() for m in run.fleet.members.values()), run.fleet.output()
    assert "Task exception was never retrieved" not in run.fleet.full_output()
    print(f"\n[redis kill -9, appendfsync {target.server.appendfsync}] {run.verdict.summary()}")


@pytest.mark.parametrize("make", [jobs.Work, jobs.SyncWork], ids=["async", "sync"])
async def test_kill_9_of_the_server_with_aof_always_loses_nothing(
    redis_target: RedisTarget,
    ledger: Ledger,
    fleet_factory: list[Fleet],
    make: type[jobs.Work] | type[jobs.SyncWork],
) -> None:
    await kill_server_under_load(redis_target, ledger, fleet_factory, make)


@pytest.mark.record
@pytest.mark.parametrize("redis_server", ["everysec"], indirect=True)
async def test_kill_9_of_the_server_with_aof_everysec(
    redis_target: RedisTarget, ledger: Ledger, fleet_factory: list[Fleet]
) -> None:
    """Record: a process kill keeps what reached the OS; only a host crash loses ~1 s."""
    await kill_server_under_load(redis_target, ledger, fleet_factory, jobs.Work)


@pytest.mark.parametrize("redis_server", [None], indirect=True)
async def test_restart_without_persistence_loses_every_queued_message(
    redis_target: RedisTarget,
) -> None:
    backend = redis_target.backend()
    await backend.declare(redis_target.queue)
    await backend.publish_batch(redis_target.queue, [message() for _ in range(20)])
    assert (await backend.stats(redis_target.queue)).ready == 20
    await asyncio.to_thread(redis_target.server.restart)
    stats = await backend.stats(redis_target.queue)
    assert (stats.ready, stats.in_flight) == (0, 0), "nothing on disk, nothing comes back"
