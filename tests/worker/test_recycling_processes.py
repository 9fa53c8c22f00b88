"""Real worker processes retiring on a limit and draining in burst mode (items 20, 22)."""

from __future__ import annotations

import re
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import send
from tests.worker.processes import WorkerProcess, lines, spawn

pytestmark = pytest.mark.slow


def done_tokens(path: Path) -> list[str]:
    return sorted(line.split()[1] for line in lines(path) if line.startswith("done"))


async def test_supervisor_replaces_workers_that_reach_max_jobs_and_loses_nothing(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    tokens = sorted(f"j{index}" for index in range(8))
    for token in tokens:
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=token, seconds=0.2))
    supervisor = spawn(
        harness,
        started,
        tmp_path,
        "--queue",
        queue,
        "--processes",
        "2",
        "--concurrency",
        "2",
        "--max-jobs",
        "2",
    )

    async def all_done() -> bool:
        return len(done_tokens(evidence)) >= len(tokens)

    await eventually(all_done, timeout=120)
    assert done_tokens(evidence) == tokens, "every job ran exactly once"
    output = supervisor.output()
    assert len(re.findall(r"worker \d \(pid \d+\) retired; replacing it", output)) >= 2, output
    assert "died" not in output, output
    pids = {int(pid) for pid in re.findall(r"worker \d started \(pid (\d+)\)", output)}
    assert len(pids) >= 4, "8 jobs at 2 per process take at least 4 processes"
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0, supervisor.output()


async def test_a_lone_worker_reaching_max_jobs_exits_0(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    for index in range(3):
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=f"j{index}"))
    worker = spawn(harness, started, tmp_path, "--queue", queue, "--max-jobs", "1")
    assert worker.wait(60) == 0, worker.output()
    assert len(done_tokens(evidence)) == 1
    assert "retiring: started 1 jobs (max jobs 1)" in worker.output()

    async def given_back() -> bool:
        stats = await backend.stats(queue)
        return stats.ready == 2

    await eventually(given_back, timeout=harness.redelivery_timeout + 10)


async def test_burst_under_a_supervisor_drains_then_everything_exits_0(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    tokens = sorted(f"j{index}" for index in range(6))
    for token in tokens:
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=token, seconds=0.1))
    await send(
        backend,
        queue,
        jobs.FileSleep(path=str(evidence), token="tomorrow"),
        delay=timedelta(days=1),
    )
    supervisor = spawn(harness, started, tmp_path, "--queue", queue, "--processes", "2", "--burst")
    assert supervisor.wait(90) == 0, supervisor.output()
    assert done_tokens(evidence) == tokens
    assert len(re.findall(r"worker \d \(pid \d+\) finished its work", supervisor.output())) == 2
