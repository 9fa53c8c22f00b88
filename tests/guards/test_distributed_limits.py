"""Limits across processes: 4 real worker processes on PostgreSQL (the backend is the store).

* concurrency limit 3, 200 jobs: never more than 3 running at once (from each job's own
  start/end records), all 200 done, every run on attempt 1 (waiting charged nothing);
* rate limit 20/s: over the first 10 s of runs, 200 starts within 10 %.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import brokerjobs
from tests.guards import limit_jobs
from tests.support.backend_postgres import PostgresHarness
from tests.worker.processes import WorkerProcess, child_env, lines

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKERS = 4


@pytest.fixture
async def harness() -> AsyncIterator[PostgresHarness]:
    harness = PostgresHarness()
    try:
        yield harness
    finally:
        await harness.aclose()  # deletes this test's rows


def run_through_workers(
    harness: PostgresHarness, queue: str, jobs: list[brokerjobs.Job], tmp_path: Path
) -> list[WorkerProcess]:
    """Dispatch ``jobs`` to ``queue``, then start the worker processes on it."""
    backend = harness.make_backend()
    harness.backends.append(backend)
    for job in jobs:
        brokerjobs.dispatch(job, backend=backend, queue=queue)
    env = child_env(harness)
    args = ["--app", "tests.guards.limit_jobs", "--queue", queue, "--concurrency", "4"]
    return [WorkerProcess(env, args, tmp_path / f"worker{i}.log") for i in range(WORKERS)]


def stop(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(60)
        finally:
            worker.kill()


def wait_for(ledger: Path, kind: str, count: int, timeout: float) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        entries = [line.split() for line in lines(ledger)]
        if sum(1 for entry in entries if entry[0] == kind) >= count:
            return entries
        if time.monotonic() > deadline:
            done = sum(1 for entry in entries if entry[0] == kind)
            raise AssertionError(f"only {done} of {count} {kind} records after {timeout} s")
        time.sleep(0.2)


async def test_a_concurrency_limit_of_3_holds_across_4_worker_processes(
    harness: PostgresHarness, tmp_path: Path
) -> None:
    ledger, run_id = tmp_path / "ledger.txt", uuid.uuid4().hex
    jobs: list[brokerjobs.Job] = [
        limit_jobs.Concurrent(run_id=run_id, n=n, ledger=str(ledger)) for n in range(200)
    ]
    workers = run_through_workers(harness, harness.queue("concurrent"), jobs, tmp_path)
    try:
        entries = wait_for(ledger, "end", 200, timeout=240)
    finally:
        stop(workers)
    events = sorted((float(at), kind) for kind, at, *_ in entries)
    running = peak = 0
    for _, kind in events:  # at equal times an end sorts before a start: never over-counts
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    starts = [entry for entry in entries if entry[0] == "start"]
    assert peak <= 3, f"{peak} jobs ran at once under a concurrency limit of 3"
    assert peak == 3, "the limit should be reached with 16 worker slots for 3"
    assert sorted(int(entry[2]) for entry in starts) == list(range(200)), "lost or doubled"
    assert {entry[4] for entry in starts} == {"1"}, "waiting for a slot charged an attempt"
    assert len({entry[3] for entry in starts}) > 1, "only one worker process ran jobs"


async def test_a_rate_limit_of_20_per_second_holds_within_10_percent(
    harness: PostgresHarness, tmp_path: Path
) -> None:
    ledger, run_id = tmp_path / "ledger.txt", uuid.uuid4().hex
    jobs: list[brokerjobs.Job] = [
        limit_jobs.Rated(run_id=run_id, n=n, ledger=str(ledger)) for n in range(300)
    ]
    workers = run_through_workers(harness, harness.queue("rated"), jobs, tmp_path)
    try:
        entries = wait_for(ledger, "start", 300, timeout=240)
    finally:
        stop(workers)
    times = sorted(float(entry[1]) for entry in entries)
    first = times[0]
    in_ten_seconds = sum(1 for at in times if at < first + 10.0)
    print(f"rate limit 20/s: {in_ten_seconds} starts in the first 10 s (target 200 +- 10 %)")
    assert 180 <= in_ten_seconds <= 220
    assert sorted(int(entry[2]) for entry in entries) == list(range(300))
    assert {entry[4] for entry in entries} == {"1"}, "waiting for the window charged an attempt"
