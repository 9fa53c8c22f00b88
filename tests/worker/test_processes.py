"""Subprocess-level tests of real worker processes: kill -9, SIGTERM, poison, supervisor."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import pytest

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import dead_letter, send
from tests.worker.processes import WorkerProcess, lines, spawn

pytestmark = pytest.mark.slow


async def test_kill_9_mid_job_loses_nothing(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    tokens = [uuid.uuid4().hex[:8] for _ in range(4)]
    first = spawn(harness, started, tmp_path, "--queue", queue, "--concurrency", "2")
    for token in tokens:
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=token, seconds=2.0))

    async def two_running() -> bool:
        return sum(line.startswith("start") for line in lines(evidence)) >= 2

    await eventually(two_running, timeout=30)
    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    killed_mid_job = {line.split()[1] for line in lines(evidence) if line.startswith("start")}
    assert not any(line.startswith("done") for line in lines(evidence))

    spawn(harness, started, tmp_path, "--queue", queue, "--concurrency", "4")

    async def all_done() -> bool:
        done = {line.split()[1] for line in lines(evidence) if line.startswith("done")}
        return done == set(tokens)

    await eventually(all_done, timeout=harness.redelivery_timeout + 30)
    for token in killed_mid_job:
        attempts = [
            int(line.split()[2]) for line in lines(evidence) if line.startswith(f"done {token}")
        ]
        assert attempts and min(attempts) >= 2, "a redelivery after kill -9 counts an attempt"


async def test_sigterm_finishes_running_jobs_releases_prefetched_ones_and_exits_0(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    tokens = [uuid.uuid4().hex[:8] for _ in range(4)]
    for token in tokens:
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=token, seconds=1.5))
    first = spawn(
        harness,
        started,
        tmp_path,
        "--queue",
        queue,
        "--concurrency",
        "1",
        "--prefetch",
        "2",
        "--shutdown-timeout",
        "20",
    )

    async def one_running() -> bool:
        return any(line.startswith("start") for line in lines(evidence))

    await eventually(one_running, timeout=30)
    first.signal(signal.SIGTERM)
    assert first.wait(20) == 0, first.output()
    assert len([line for line in lines(evidence) if line.startswith("done")]) == 1

    async def given_back() -> bool:
        stats = await backend.stats(queue)
        return stats.in_flight == 0 and stats.ready == 3

    await eventually(given_back, timeout=5)

    spawn(harness, started, tmp_path, "--queue", queue, "--concurrency", "4")

    async def all_done() -> bool:
        return len([line for line in lines(evidence) if line.startswith("done")]) >= 4

    await eventually(all_done, timeout=30)
    for token in tokens:
        starts = [line for line in lines(evidence) if line.startswith(f"start {token}")]
        assert len(starts) == 1, f"{token} ran {len(starts)} times"


async def test_poison_job_killing_its_worker_ends_in_the_dlq_after_bounded_deliveries(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    token = uuid.uuid4().hex[:8]
    supervisor = spawn(
        harness, started, tmp_path, "--queue", queue, "--processes", "2", "--concurrency", "1"
    )
    message_id = await send(backend, queue, jobs.KillWorker(path=str(evidence), token=token))
    try:
        dead = await dead_letter(
            backend, queue, message_id, timeout=3 * harness.redelivery_timeout + 30
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {lines(evidence)}\n{supervisor.output()}") from None
    assert "poison message" in dead.reason
    assert len([line for line in lines(evidence) if line.startswith("start")]) == 2
    # The supervisor restarted the dead worker each time, and still serves the queue.
    await send(backend, queue, jobs.FileSleep(path=str(evidence), token="after"))

    async def served() -> bool:
        return any(line.startswith("done after") for line in lines(evidence))

    await eventually(served, timeout=30)
    assert "died with exit code 17" in supervisor.output()
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0, supervisor.output()


async def test_supervisor_restarts_a_killed_child_without_touching_the_others(
    harness: BackendHarness,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    supervisor = spawn(harness, started, tmp_path, "--queue", queue, "--processes", "2")

    async def both_started() -> bool:
        return len(re.findall(r"worker \d started \(pid (\d+)\)", supervisor.output())) >= 2

    await eventually(both_started, timeout=30)
    pids = [int(p) for p in re.findall(r"worker \d started \(pid (\d+)\)", supervisor.output())]
    os.kill(pids[0], signal.SIGKILL)

    async def restarted() -> bool:
        return len(re.findall(r"worker 0 started", supervisor.output())) >= 2

    await eventually(restarted, timeout=30)
    assert f"worker 0 (pid {pids[0]}) died with signal SIGKILL" in supervisor.output()
    os.kill(pids[1], 0)  # the other child is untouched
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0, supervisor.output()
