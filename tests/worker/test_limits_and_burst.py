"""Worker recycling limits and burst mode on every backend (issue 14, items 20 and 22)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from brokerjobs.backend import Backend
from brokerjobs.errors import ConfigurationError
from brokerjobs.worker.limits import Limits, resident_mib
from tests.support.harness import eventually
from tests.worker import jobs
from tests.worker.conftest import make_worker, send
from tests.worker.processes import lines

RUN_TIMEOUT = 60


async def test_max_jobs_starts_exactly_n_then_gives_the_rest_back(
    backend: Backend, queue: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.txt"
    for index in range(5):
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=f"j{index}"))
    worker = make_worker(backend, [queue], concurrency=1, prefetch=2, limits=Limits(max_jobs=2))
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert worker.retired is not None and "max jobs 2" in worker.retired
    done = [line for line in lines(evidence) if line.startswith("done")]
    assert len(done) == 2
    assert not [line for line in lines(evidence) if line.startswith("start")][2:]

    async def given_back() -> bool:
        stats = await backend.stats(queue)
        return (stats.ready, stats.in_flight) == (3, 0)

    await eventually(given_back, timeout=10)


async def test_max_jobs_with_concurrency_finishes_the_running_jobs(
    backend: Backend, queue: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.txt"
    for index in range(6):
        await send(
            backend, queue, jobs.FileSleep(path=str(evidence), token=f"j{index}", seconds=0.5)
        )
    worker = make_worker(backend, [queue], concurrency=3, limits=Limits(max_jobs=3))
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert len([line for line in lines(evidence) if line.startswith("done")]) == 3
    assert len([line for line in lines(evidence) if line.startswith("start")]) == 3


async def test_max_time_retires_an_idle_worker(backend: Backend, queue: str) -> None:
    worker = make_worker(backend, [queue], limits=Limits(max_time=1.0))
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert worker.retired == "ran 1 s (max time)"


async def test_max_memory_retires_after_the_job_that_crossed_it(
    backend: Backend, queue: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.txt"
    for index in range(3):
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=f"j{index}"))
    below_now = max(1.0, resident_mib() / 2)
    worker = make_worker(backend, [queue], concurrency=1, limits=Limits(max_memory=below_now))
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert worker.retired is not None and "over max memory" in worker.retired
    assert len([line for line in lines(evidence) if line.startswith("done")]) == 1


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_jobs must be > 0"):
        Limits(max_jobs=0)
    with pytest.raises(ConfigurationError, match="max_memory must be > 0"):
        Limits(max_memory=-1)


def test_resident_memory_is_plausible() -> None:
    assert 5 < resident_mib() < 10_000


async def test_burst_drains_ready_messages_and_leaves_delayed_ones(
    backend: Backend, queue: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.txt"
    for index in range(4):
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=f"j{index}"))
    await send(
        backend,
        queue,
        jobs.FileSleep(path=str(evidence), token="later"),
        delay=timedelta(hours=1),
    )
    worker = make_worker(backend, [queue], concurrency=2, burst=True)
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert worker.retired is None
    done = sorted(line.split()[1] for line in lines(evidence) if line.startswith("done"))
    assert done == ["j0", "j1", "j2", "j3"]
    stats = await backend.stats(queue)
    assert (stats.ready, stats.in_flight, stats.delayed) == (0, 0, 1)


async def test_burst_on_an_empty_queue_returns_at_once(backend: Backend, queue: str) -> None:
    worker = make_worker(backend, [queue], burst=True)
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True


async def test_burst_does_not_wait_for_a_retry_backoff(
    backend: Backend, queue: str, token: str
) -> None:
    await send(backend, queue, jobs.AskRetry(token=token, delay=3600))
    worker = make_worker(backend, [queue], burst=True)
    assert await asyncio.wait_for(worker.run(), RUN_TIMEOUT) is True
    assert [run.attempt for run in jobs.runs(token)] == [1]
    stats = await backend.stats(queue)
    # SQS hides a retry's backoff in the visibility timeout: it counts as in flight there.
    assert (stats.ready, stats.delayed + stats.in_flight) == (0, 1)
