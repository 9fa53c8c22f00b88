"""Helpers the scenarios share: waiting on the ledger, restarting dead workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.faults.fleet import Fleet
from tests.faults.ledger import Ledger
from tests.support.harness import eventually


async def until_started(ledger: Ledger, count: int, timeout: float = 60) -> None:
    """Wait until at least ``count`` runs have started."""

    async def started() -> bool:
        return ledger.started_count() >= count

    await eventually(started, timeout=timeout)


def running_on(ledger: Ledger, pid: int) -> set[str]:
    """Keys whose run on ``pid`` started and has not finished."""
    return {run.key for run in ledger.executions() if run.pid == pid and run.finished is None}


@asynccontextmanager
async def restarting(fleet: Fleet, every: float = 0.2) -> AsyncIterator[None]:
    """Restart any member that died, as a process manager would, while the block runs."""

    async def loop() -> None:
        while True:
            fleet.restart_dead()
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
