"""Four consumer processes on one database: each job exactly once; kill -9 loses nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import Counter
from multiprocessing.context import SpawnProcess
from pathlib import Path

import pytest

from brokerjobs.backend import OutgoingMessage
from tests.integration.sql.conftest import POSTGRES, SQLITE
from tests.integration.sql.consumer import consume_into_ledger
from tests.support.backend_postgres import URL as POSTGRES_URL
from tests.support.backend_sqlite import LEASE_SECONDS, SQLHarness, SQLiteHarness
from tests.support.harness import eventually

pytestmark = pytest.mark.slow

JOBS = 5000
PROCESSES = 4


def read_ledger(directory: Path) -> list[tuple[str, int, int]]:
    """Every (message_id, attempt, pid) the consumers logged."""
    entries = []
    for path in directory.glob("*.log"):
        for line in path.read_text().splitlines():
            message_id, attempt, pid = line.split()
            entries.append((message_id, int(attempt), int(pid)))
    return entries


async def run_consumers(
    db: SQLHarness, tmp_path: Path, *, kill_after: int | None
) -> tuple[set[str], list[tuple[str, int, int]], set[int]]:
    backend = await db.new_backend()
    queue = db.queue("mp")
    await backend.declare(queue)
    sent = {f"job-{i}" for i in range(JOBS)}
    backend.publish_batch_sync(queue, [OutgoingMessage(m.encode(), m) for m in sorted(sent)])

    kind, target = ("postgres", POSTGRES_URL)
    if isinstance(db, SQLiteHarness):
        kind, target = "sqlite", str(db.path)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes: list[SpawnProcess] = [
        context.Process(
            target=consume_into_ledger,
            args=(kind, target, queue, str(tmp_path / f"c{n}.log"), stop, LEASE_SECONDS),
        )
        for n in range(PROCESSES)
    ]
    killed: set[int] = set()
    try:
        for process in processes:
            process.start()
        if kill_after is not None:

            async def enough_done() -> bool:
                return len(read_ledger(tmp_path)) >= kill_after

            await eventually(enough_done, timeout=60)
            for process in processes[:2]:
                assert process.pid is not None
                os.kill(process.pid, signal.SIGKILL)
                killed.add(process.pid)

        async def drained() -> bool:
            stats = await backend.stats(queue)
            done = {entry[0] for entry in read_ledger(tmp_path)}
            return done >= sent and stats.ready + stats.in_flight + stats.delayed == 0

        await eventually(drained, timeout=90, interval=0.25)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()
    return sent, read_ledger(tmp_path), killed


@pytest.mark.parametrize("db", [SQLITE, POSTGRES], indirect=True)
async def test_each_job_is_claimed_exactly_once_by_four_processes(
    db: SQLHarness, tmp_path: Path
) -> None:
    sent, ledger, _ = await run_consumers(db, tmp_path, kill_after=None)

    runs = Counter(message_id for message_id, _, _ in ledger)
    assert set(runs) == sent
    assert max(runs.values()) == 1, [m for m, n in runs.items() if n > 1][:10]
    assert {attempt for _, attempt, _ in ledger} == {1}
    assert len({pid for _, _, pid in ledger}) > 1, "the work was not shared between processes"


@pytest.mark.parametrize("db", [SQLITE, POSTGRES], indirect=True)
async def test_kill_9_of_two_consumers_loses_nothing(db: SQLHarness, tmp_path: Path) -> None:
    sent, ledger, killed = await run_consumers(db, tmp_path, kill_after=JOBS // 5)

    runs = Counter(message_id for message_id, _, _ in ledger)
    assert set(runs) == sent, f"lost: {sorted(sent - set(runs))[:10]}"
    survivors = {pid for _, _, pid in ledger} - killed
    assert survivors, "the surviving consumers did not finish the work"
    # Only rows the killed processes had claimed can run twice: at most their prefetch.
    duplicates = sum(n - 1 for n in runs.values())
    assert duplicates <= 2 * 20, duplicates
    stats = await db.backends[0].stats(db.queue("mp"))
    assert (stats.ready, stats.in_flight, stats.delayed) == (0, 0, 0)
