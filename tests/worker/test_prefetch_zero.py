"""``--prefetch 0``: a worker holds nothing beyond its running jobs (issue 14, item 15)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness, eventually
from tests.worker import jobs
from tests.worker.conftest import make_worker, running, send
from tests.worker.processes import WorkerProcess, lines, spawn


@pytest.mark.slow
async def test_two_processes_with_prefetch_0_run_two_long_jobs_in_parallel(
    harness: BackendHarness,
    backend: Backend,
    queue: str,
    tmp_path: Path,
    started: list[WorkerProcess],
) -> None:
    evidence = tmp_path / "evidence.txt"
    for token in ("a", "b"):
        await send(backend, queue, jobs.Rendezvous(path=str(evidence), token=token, seconds=45))
    # Both messages wait before the workers start: the first to subscribe must leave one.
    supervisor = spawn(
        harness,
        started,
        tmp_path,
        "--queue",
        queue,
        "--processes",
        "2",
        "--concurrency",
        "1",
        "--prefetch",
        "0",
    )

    async def both_finished() -> bool:
        return len([line for line in lines(evidence) if line.split()[0] in {"met", "alone"}]) == 2

    await eventually(both_finished, timeout=90)
    assert sorted(line for line in lines(evidence) if not line.startswith("start")) == [
        "met a",
        "met b",
    ], supervisor.output()
    pids = {line.split()[2] for line in lines(evidence) if line.startswith("start")}
    assert len(pids) == 2, "each job ran in its own worker process"
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0, supervisor.output()


async def test_prefetch_0_holds_only_the_running_job(
    backend: Backend, queue: str, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence.txt"
    for token in ("a", "b", "c"):
        await send(backend, queue, jobs.FileSleep(path=str(evidence), token=token, seconds=1.0))
    worker = make_worker(backend, [queue], concurrency=1, prefetch=0)
    async with running(worker):

        async def one_running() -> bool:
            return any(line.startswith("start") for line in lines(evidence))

        await eventually(one_running, timeout=30)
        stats = await backend.stats(queue)
        assert (stats.in_flight, stats.ready) == (1, 2), stats


def test_prefetch_below_0_is_refused(backend: Backend) -> None:
    with pytest.raises(Exception, match="prefetch must be >= 0"):
        make_worker(backend, ["q"], prefetch=-1)
