"""Fixtures of the fault suite: private RabbitMQ, moto and redis-server processes, ledger, fleet.

The private node, moto server and redis-server live for the whole session and only if a test asks
for them; they are stopped (by our own PIDs) at the end. Nothing here touches the
shared brokers on 5672 and 6379.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.faults.fleet import Fleet
from tests.faults.ledger import ENV_VAR, Ledger
from tests.faults.moto_process import MotoProcess
from tests.faults.rabbit_node import RabbitNode
from tests.faults.redis_server import RedisServer, private_redis
from tests.faults.targets import RabbitTarget, RedisTarget, SqliteTarget, SqsTarget, Target

CONSUMER_TIMEOUT_MS = 20_000


def pytest_configure(config: pytest.Config) -> None:
    # Already in pyproject; kept so the suite also runs from a checkout that lacks it.
    config.addinivalue_line("markers", "faults: fault-injection scenarios")


@pytest.fixture(scope="session")
def rabbit_node() -> Iterator[RabbitNode]:
    base = Path(tempfile.mkdtemp(prefix="bjfaults-rabbit-"))
    node = RabbitNode(base, consumer_timeout_ms=CONSUMER_TIMEOUT_MS)
    try:
        node.start()
        yield node
    finally:
        node.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoProcess]:
    base = Path(tempfile.mkdtemp(prefix="bjfaults-moto-"))
    server = MotoProcess(base / "moto.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_node() -> Iterator[RedisServer]:
    """A private redis-server with AOF ``appendfsync always`` for the whole session."""
    with private_redis("always") as server:
        yield server


@pytest.fixture
async def redis_target_on_node(redis_node: RedisServer) -> AsyncIterator[RedisTarget]:
    target = RedisTarget(redis_node)
    yield target
    await target.aclose()


@pytest.fixture
async def rabbit(rabbit_node: RabbitNode) -> AsyncIterator[RabbitTarget]:
    rabbit_node.wait_ready()
    target = RabbitTarget(rabbit_node)
    yield target
    await target.aclose()


@pytest.fixture
async def sqs(moto: MotoProcess) -> AsyncIterator[SqsTarget]:
    target = SqsTarget(moto)
    yield target
    await target.aclose()


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteTarget]:
    target = SqliteTarget(tmp_path)
    yield target
    await target.aclose()


@pytest.fixture(
    params=[
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        pytest.param("sqs", marks=pytest.mark.sqs),
        pytest.param("sqlite", marks=pytest.mark.sqlite),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def target(request: pytest.FixtureRequest) -> Target:
    """One scenario on every target (parametrized)."""
    chosen: Target = request.getfixturevalue(
        {"rabbitmq": "rabbit", "sqs": "sqs", "sqlite": "sqlite", "redis": "redis_target_on_node"}[
            request.param
        ]
    )
    return chosen


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


@pytest.fixture
def fleet_factory(tmp_path: Path, ledger: Ledger) -> Iterator[list[Fleet]]:
    fleets: list[Fleet] = []
    yield fleets
    for fleet in fleets:
        fleet.kill_all()


def make_fleet(
    fleets: list[Fleet], target: Target, ledger: Ledger, *args: str, queue: str | None = None
) -> Fleet:
    """A fleet of workers on ``target`` (``--queue`` defaults to the target's queue)."""
    env = {**target.env(), ENV_VAR: str(ledger.path)}
    fleet = Fleet(env, ["--queue", queue or target.queue, *args], ledger.path.parent)
    fleets.append(fleet)
    return fleet
