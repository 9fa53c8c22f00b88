"""The contract and worker suites, unchanged, on a private 3-master Redis Cluster.

Every key of a queue shares one hash slot, so the Lua scripts run there as on one
server; queues of one subscription may live on different masters.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from brokerjobs_redis import RedisBackend

from tests.contract.conftest import message
from tests.faults.redis_cluster import ClusterNode, private_cluster
from tests.integration.redis_backend.suites import (
    CONTRACT,
    WORKER,
    PrivateHarness,
    SuiteTest,
    run_suite_test,
)
from tests.support.harness import receive

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[ClusterNode]]:
    with private_cluster(3) as nodes:
        yield nodes


@pytest.mark.parametrize("contract_test", CONTRACT, ids=lambda test: test.__name__)
async def test_contract_on_a_cluster(cluster: list[ClusterNode], contract_test: SuiteTest) -> None:
    await run_suite_test(contract_test, cluster[0].url, cluster=True)


@pytest.mark.parametrize("worker_test", WORKER, ids=lambda test: test.__name__)
async def test_worker_suite_on_a_cluster(
    cluster: list[ClusterNode], worker_test: SuiteTest
) -> None:
    await run_suite_test(worker_test, cluster[0].url, cluster=True)


async def test_one_subscription_over_queues_on_different_masters(
    cluster: list[ClusterNode],
) -> None:
    harness = PrivateHarness(cluster[0].url, cluster=True)
    try:
        backend = harness.new_redis_backend()
        raw = redis.cluster.RedisCluster.from_url(cluster[0].url)
        queues: list[str] = []
        owners: set[str] = set()
        for n in range(50):  # names until three masters own one queue each
            queue = harness.queue(f"q{n}")
            key = backend.keys(queue).stream
            owner = raw.get_node_from_key(key).name  # type: ignore[no-untyped-call]
            if owner not in owners:
                owners.add(owner)
                queues.append(queue)
            if len(queues) == 3:
                break
        raw.close()
        assert len(queues) == 3
        sent = {}
        for queue in queues:
            await backend.declare(queue)
            one = message()
            await backend.publish(queue, one)
            sent[one.message_id] = queue
        await backend.publish(queues[2], message(delay=0.5))
        subscription = await backend.consume(queues, prefetch=1)
        got = {}
        for _ in range(4):
            delivery = await receive(subscription, timeout=10)
            got[delivery.message_id] = delivery.queue
            await backend.ack(delivery)
        assert {k: v for k, v in got.items() if k in sent} == sent
        stats = [await backend.stats(queue) for queue in queues]
        assert all((s.ready, s.in_flight, s.delayed) == (0, 0, 0) for s in stats)
        await subscription.stop()
        assert isinstance(backend, RedisBackend)
    finally:
        await harness.aclose()


async def test_the_store_works_on_a_cluster_with_keys_on_every_master(
    cluster: list[ClusterNode],
) -> None:
    backend = PrivateHarness(cluster[0].url, cluster=True).new_redis_backend()
    store = backend.coordination_store()
    raw = redis.cluster.RedisCluster.from_url(cluster[0].url)
    try:
        keys = [f"k{n}" for n in range(30)]
        owners = {
            raw.get_node_from_key(store.redis_key(key)).name  # type: ignore[no-untyped-call]
            for key in keys
        }
        assert len(owners) == 3  # the store's keys spread over every master
        for key in keys:
            assert await store.set_if_absent(key, b"a", ttl=30)
            assert not await store.set_if_absent(key, b"b", ttl=30)
            assert await store.compare_and_set(key, b"a", b"c", ttl=30)
            assert not await store.compare_and_delete(key, b"a")
            assert await store.compare_and_delete(key, b"c")
            assert await store.get(key) is None
        counted = [await store.count_in_window("rate", limit=2, window=30) for _ in range(2)]
        assert counted == [0.0, 0.0]
        assert await store.count_in_window("rate", limit=2, window=30) > 25  # seconds left
        slots = [await store.acquire_slot("sem", b"me", limit=4, ttl=30) for _ in range(5)]
        assert slots[4] is None and len(set(slots[:4])) == 4  # slot keys in several slots
        assert store.set_if_absent_sync("sync", b"x", ttl=30) and store.get_sync("sync") == b"x"
    finally:
        raw.close()
        await backend.aclose()
        backend.close()
