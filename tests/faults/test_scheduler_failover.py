"""Issue #19's proof: 3 schedulers, a 1-second schedule, one SIGKILLed every 10–20 s.

Every tick of the window is dispatched exactly once (0 missed, 0 doubled) and its
lateness p99 is under 2 s, per backend family:

* ``rabbitmq``: RabbitMQ only (the shared broker, this test's own prefix): the broker's
  exclusive-queue lease elects the leader, the tick journal says where it stopped.
* ``sqs``: SQS only (a moto server over HTTP): a FIFO queue drops the copies the other
  schedulers send.

* ``redis``: Redis only: the Redis backend is its own Store; ticks are claimed by
  set-if-absent in it (``SET NX PX``), from three plain ``brokerjobs scheduler`` processes.
* ``store``: ticks claimed in the SQL family's Store (the real PostgreSQL, through
  ``BROKERJOBS_STORE``) by set-if-absent, from three plain ``brokerjobs scheduler``
  processes; the jobs go to RabbitMQ queues (whose lease is then not used), as in a
  RabbitMQ fleet that names a Store.

CI runs each family for 60 s (``BROKERJOBS_SCHEDULER_SOAK_SECONDS`` makes it longer; see
``tests/faults/scheduler_soak.py`` for the 30-minute command).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from brokerjobs_rabbitmq import RabbitMQBackend

from brokerjobs.backend import Backend
from tests.faults.scheduler_soak import run_soak, soak_seconds
from tests.faults.targets import SqsTarget
from tests.support.backend_postgres import URL as POSTGRES_URL
from tests.support.backend_postgres import require_postgres
from tests.support.backend_rabbitmq import RabbitMQHarness
from tests.support.backend_redis import RedisHarness

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@dataclass
class Family:
    name: str
    env: dict[str, str]
    backend: Backend
    queue: str
    lease_based: bool
    command: tuple[str, ...] | None = None
    """The scheduler process (default: ``brokerjobs scheduler --app ...``)."""


@pytest.fixture
async def rabbitmq_family() -> AsyncIterator[Family]:
    harness = RabbitMQHarness()
    backend = await harness.new_rabbitmq_backend()
    queue = harness.queue("ticks")
    name = f"tick-{uuid.uuid4().hex[:8]}"
    yield Family(
        "rabbitmq",
        {**harness.subprocess_env(), "BJSCHED_NAME": name, "BJSCHED_QUEUE": queue},
        backend,
        queue,
        lease_based=True,
    )
    cleaner = RabbitMQBackend.from_options(**harness.options())
    try:
        channel = await cleaner._channel("delete the scheduler's lease and journal")
        base = f"{cleaner.settings.prefix}scheduler.default"
        await channel.queue_delete(f"{base}.{name}.last")
        await channel.exchange_delete(f"{base}.{name}")
    finally:
        await cleaner.aclose()
        await harness.aclose()


@pytest.fixture
async def sqs_family(sqs: SqsTarget) -> AsyncIterator[Family]:
    queue = "ticks.fifo"  # FIFO: the queue drops the copies of a tick
    backend = sqs.make()
    name = f"tick-{uuid.uuid4().hex[:8]}"
    yield Family(
        "sqs",
        {**sqs.env(), "BJSCHED_NAME": name, "BJSCHED_QUEUE": queue},
        backend,
        queue,
        lease_based=False,
    )
    await backend.aclose()
    backend.close()


@pytest.fixture
async def store_family() -> AsyncIterator[Family]:
    require_postgres()
    harness = RabbitMQHarness()
    backend = await harness.new_rabbitmq_backend()
    queue = harness.queue("ticks")
    env = {
        **harness.subprocess_env(),
        "BJSCHED_NAME": f"tick-{uuid.uuid4().hex[:8]}",  # tick keys are this test's own
        "BJSCHED_QUEUE": queue,
        "BROKERJOBS_STORE": POSTGRES_URL,
    }
    yield Family("store", env, backend, queue, lease_based=False)
    await harness.aclose()


@pytest.fixture
async def redis_family() -> AsyncIterator[Family]:
    # Redis only: the backend is its own Store (no BROKERJOBS_STORE), keys under this
    # test's prefix.
    harness = RedisHarness()
    backend = harness.new_redis_backend()
    queue = harness.queue("ticks")
    env = {
        **harness.subprocess_env(),
        "BJSCHED_NAME": f"tick-{uuid.uuid4().hex[:8]}",
        "BJSCHED_QUEUE": queue,
    }
    yield Family("redis", env, backend, queue, lease_based=False)
    await harness.aclose()


@pytest.fixture(
    params=[
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("sqs", marks=pytest.mark.sqs),
        pytest.param("store", marks=[pytest.mark.rabbitmq, pytest.mark.postgres]),
    ]
)
def family(request: pytest.FixtureRequest) -> Family:
    chosen: Family = request.getfixturevalue(f"{request.param}_family")
    return chosen


@pytest.mark.timeout(int(soak_seconds()) + 180)
async def test_three_schedulers_with_kills_dispatch_every_tick_once(
    family: Family, tmp_path: Path
) -> None:
    duration = soak_seconds()
    await family.backend.declare(family.queue)
    report, fleet = await run_soak(
        env=family.env,
        backend=family.backend,
        queue=family.queue,
        log_dir=tmp_path,
        duration=duration,
        seed=19,
        lease_based=family.lease_based,
        command=family.command,
    )
    print(f"\n{family.name}: {report.summary()}")
    context = f"{report.summary()}\n{fleet.output()}"
    assert report.expected >= duration - 10, context
    assert report.kills >= int(duration // 20), context
    if family.lease_based:
        assert report.leader_kills >= 1, context
    assert report.missed == [], context
    assert report.doubled == {}, context
    assert report.lateness_p99 < 2.0, context
