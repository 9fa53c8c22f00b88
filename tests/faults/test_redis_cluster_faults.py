"""A master of a private Redis Cluster killed with kill -9 under load (record).

3 masters with one replica each, no persistence: what a failover loses is what
asynchronous replication had not copied when the master died. A record, not a pass
criterion (``pytest -m record``): the figure goes to docs/backends/redis.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.faults import jobs
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.redis_cluster import ClusterNode, owner_of, private_cluster
from tests.faults.redis_load import fault_under_load
from tests.faults.targets import RedisTarget

pytestmark = [pytest.mark.faults, pytest.mark.redis, pytest.mark.slow, pytest.mark.record]


@pytest.fixture
def cluster() -> Iterator[list[ClusterNode]]:
    with private_cluster(3, replicas=1) as nodes:
        yield nodes


@pytest.fixture
async def cluster_target(cluster: list[ClusterNode]) -> AsyncIterator[RedisTarget]:
    target = RedisTarget(cluster[0], cluster=True, socket_timeout=2.0)
    yield target
    await target.aclose()


async def test_master_killed_mid_run_fails_over(
    cluster: list[ClusterNode],
    cluster_target: RedisTarget,
    ledger: Ledger,
    fleet_factory: list[Fleet],
) -> None:
    target = cluster_target
    master = owner_of(cluster, f"{target.prefix}:{{{target.queue}}}:stream")
    # Clients bootstrap from the URL's node: name one that survives the kill.
    target.server = next(node for node in cluster if node.port != master.port)

    async def kill() -> None:
        master.kill9()

    work = lambda k: jobs.Work(key=k, seconds=0.02)  # noqa: E731
    run = await fault_under_load(target, ledger, fleet_factory, work, kill, runs_each_side=50)
    verdict, publish_errors, fleet = run.verdict, run.publish_errors, run.fleet
    promoted = owner_of(cluster, f"{target.prefix}:{{{target.queue}}}:stream")
    print(
        f"\n[redis cluster master kill -9] {verdict.summary()} publish errors retried="
        f"{publish_errors} failover {master.port} -> {promoted.port}"
    )
    assert promoted.port != master.port, "the replica took over the queue's slot"
    assert all(m.alive() for m in fleet.members.values()), fleet.output()
