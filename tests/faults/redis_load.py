"""One shape for the Redis server faults: 2 workers and a producer, a fault, a drain."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from brokerjobs import Job
from brokerjobs.backend import Backend
from tests.faults.checker import Verdict, drain
from tests.faults.conftest import make_fleet
from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.faults.producer import stream
from tests.faults.scenarios import until_started
from tests.faults.targets import RedisTarget


@dataclass
class LoadRun:
    verdict: Verdict
    sent: int
    publish_errors: int
    fleet: Fleet
    backend: Backend


async def fault_under_load(
    target: RedisTarget,
    ledger: Ledger,
    fleets: list[Fleet],
    make: Callable[[str], Job],
    fault: Callable[[], Awaitable[None]],
    *,
    runs_each_side: int,
) -> LoadRun:
    """Start 2 workers (concurrency 4, prefetch 4) and a producer; once
    ``runs_each_side`` jobs started, run ``fault``; go on until as many more started,
    stop the producer and drain (the verdict says what was lost)."""
    backend = target.backend()
    await backend.declare(target.queue)
    fleet = make_fleet(fleets, target, ledger, "--concurrency", "4", "--prefetch", "4")
    fleet.start(2)
    stop = asyncio.Event()
    producer = asyncio.create_task(stream(backend, target.queue, ledger, make, stop))
    await until_started(ledger, runs_each_side)
    await fault()
    await until_started(ledger, ledger.started_count() + runs_each_side, timeout=120)
    stop.set()
    sent, publish_errors = await producer
    verdict = await drain(ledger, backend, target.queue, timeout=120)
    return LoadRun(verdict, sent, publish_errors, fleet, backend)
