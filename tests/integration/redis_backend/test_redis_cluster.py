"""The contract and worker suites, unchanged, on a private 3-master Redis Cluster.

Every key of a queue shares one hash slot, so the Lua scripts run there as on one
server; queues of one subscription may live on different masters.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from uuid import uuid4

import pytest
import redis
from brokerjobs_redis import RedisBackend

from tests.contract import (
    test_dead_letters,
    test_delays_and_stats,
    test_publish_consume,
    test_redelivery_and_retry,
)
from tests.contract.conftest import message
from tests.faults.redis_cluster import ClusterNode, private_cluster
from tests.support.backend_redis import RedisHarness
from tests.support.harness import receive
from tests.worker import (
    test_bad_messages,
    test_hooks,
    test_outcomes,
    test_priority,
    test_shutdown,
    test_time_limits,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ContractTest = Callable[..., Awaitable[None]]
CONTRACT: list[ContractTest] = [
    test
    for module in (
        test_publish_consume,
        test_redelivery_and_retry,
        test_delays_and_stats,
        test_dead_letters,
    )
    for name, test in sorted(vars(module).items())
    if name.startswith("test_") and inspect.iscoroutinefunction(test)
]

WORKER: list[ContractTest] = [
    test
    for module in (
        test_outcomes,
        test_priority,
        test_shutdown,
        test_time_limits,
        test_bad_messages,
        test_hooks,
    )
    for name, test in sorted(vars(module).items())
    if name.startswith("test_")
    and inspect.iscoroutinefunction(test)
    and "kind" not in inspect.signature(test).parameters  # parametrized: run on one server
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[ClusterNode]]:
    with private_cluster(3) as nodes:
        yield nodes


class ClusterHarness(RedisHarness):
    """The Redis harness pointed at the private cluster (private: nothing to clean)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def options(self) -> dict[str, Any]:
        return {**super().options(), "url": self.url, "cluster": True}

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
            backend.close()
        self.backends.clear()


async def run_on_cluster(cluster: list[ClusterNode], test: ContractTest) -> None:
    """Call a suite's test function with the fixtures it names, made for the cluster."""
    harness = ClusterHarness(cluster[0].url)
    try:
        backend = await harness.new_backend()
        queue = harness.queue("work")
        await backend.declare(queue)
        offered = {"harness": harness, "backend": backend, "queue": queue, "token": uuid4().hex}
        await test(**{name: offered[name] for name in inspect.signature(test).parameters})
    finally:
        await harness.aclose()


@pytest.mark.parametrize("contract_test", CONTRACT, ids=lambda test: test.__name__)
async def test_contract_on_a_cluster(
    cluster: list[ClusterNode], contract_test: ContractTest
) -> None:
    await run_on_cluster(cluster, contract_test)


@pytest.mark.parametrize("worker_test", WORKER, ids=lambda test: test.__name__)
async def test_worker_suite_on_a_cluster(
    cluster: list[ClusterNode], worker_test: ContractTest
) -> None:
    await run_on_cluster(cluster, worker_test)


async def test_one_subscription_over_queues_on_different_masters(
    cluster: list[ClusterNode],
) -> None:
    harness = ClusterHarness(cluster[0].url)
    try:
        backend = harness.new_redis_backend()
        raw = redis.cluster.RedisCluster.from_url(cluster[0].url)
        queues: list[str] = []
        owners: set[str] = set()
        for n in range(50):  # names until three masters own one queue each
            queue = harness.queue(f"q{n}")
            owner = raw.get_node_from_key(backend.keys(queue).stream).name
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
