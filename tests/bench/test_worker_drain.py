"""The backend benchmarks' worker drain runs every job of either kind once, then stops."""

from __future__ import annotations

import pytest

from bench import worker_drain
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore


@pytest.mark.parametrize("kind", worker_drain.JOB_KINDS)
async def test_drain_runs_each_job_once_and_reports_a_rate(kind: str) -> None:
    backend = MemoryBackend(MemoryStore())
    rate, duplicates = await worker_drain.publish_and_drain(
        backend, "drain", kind, 300, concurrency=16, prefetch=32
    )
    assert rate > 0
    assert duplicates == 0
    stats = await backend.stats("drain")
    assert (stats.ready, stats.in_flight) == (0, 0)


async def test_drain_says_how_far_it_got_when_jobs_are_missing() -> None:
    backend = MemoryBackend(MemoryStore())
    await worker_drain.publish(backend, "short", "sync", 5)
    with pytest.raises(TimeoutError, match="5/6 jobs ran"):
        await worker_drain.drain(backend, "short", 6, concurrency=4, prefetch=4, timeout=2)
