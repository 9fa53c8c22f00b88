"""Worker pieces in isolation: outcome decisions, reasons, config checks, output lines."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from brokerjobs import Fail, Job, JobContext, Retry
from brokerjobs.backend import Delivery
from brokerjobs.cli.output import human_seconds, text_line
from brokerjobs.errors import ConfigurationError
from brokerjobs.job import JobRegistry
from brokerjobs.memory import MemoryBackend
from brokerjobs.memory_store import MemoryStore
from brokerjobs.options import JobOptions
from brokerjobs.worker import JobEvent, Worker
from brokerjobs.worker.execution import JobRunner
from brokerjobs.worker.outcome import Settle, decide, traceback_excerpt
from brokerjobs.worker.supervisor import describe_exit

OPTIONS = JobOptions(
    max_attempts=3, backoff_base=2.0, backoff_jitter=0.0, retry_on=(ConnectionError,)
)


def test_decide_covers_every_outcome() -> None:
    flaky = ConnectionError("reset")
    assert decide(flaky, OPTIONS, 1, 3).settle is Settle.RETRY
    assert decide(flaky, OPTIONS, 2, 3).delay == 4.0
    exhausted = decide(flaky, OPTIONS, 3, 3)
    assert exhausted.settle is Settle.DEAD_LETTER
    assert exhausted.reason.startswith("attempts exhausted (3/3): ConnectionError: reset")
    assert decide(ValueError("x"), OPTIONS, 1, 3).reason.startswith("not retryable: ValueError")
    assert decide(Fail("gone"), OPTIONS, 1, 3).reason == "failed by the job: gone"
    asked = decide(Retry(delay=7), OPTIONS, 1, 3)
    assert (asked.settle, asked.delay) == (Settle.RETRY, 7)
    assert decide(Retry(), OPTIONS, 3, 3).settle is Settle.DEAD_LETTER


def test_traceback_excerpt_is_bounded_and_keeps_the_innermost_frames() -> None:
    def deep(n: int) -> None:
        if n == 0:
            raise RuntimeError("the bottom")
        deep(n - 1)

    try:
        deep(200)
    except RuntimeError as exc:
        excerpt = traceback_excerpt(exc, limit=500)
    assert len(excerpt) == 500 and excerpt.startswith("…")
    assert excerpt.endswith("RuntimeError: the bottom")


def test_a_time_limit_longer_than_the_backend_can_hold_is_refused() -> None:
    class ShortLease(MemoryBackend):
        max_lease = 10.0

    registry = JobRegistry()

    class Long(Job, name="units.long", queue="slow", time_limit=60, abstract=True):
        async def run(self, ctx: JobContext) -> None: ...

    Long.job_name = "units.long"
    registry.register(Long)
    backend = ShortLease(MemoryStore())
    with pytest.raises(ConfigurationError, match="time limit of 60 s"):
        asyncio.run(Worker(backend, ["slow"], registry=registry).run())
    # Jobs of queues the worker does not consume do not matter.
    worker = Worker(backend, ["other"], registry=registry, stop_when_idle=True)
    assert asyncio.run(worker.run()) is True


def test_invalid_worker_settings_are_configuration_errors() -> None:
    backend = MemoryBackend(MemoryStore())
    for kwargs in ({"concurrency": 0}, {"prefetch": -1}, {"shutdown_timeout": -1}):
        with pytest.raises(ConfigurationError):
            Worker(backend, ["q"], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Worker(backend, ["q", "q"])


async def test_abandoned_sync_thread_does_not_block_the_next_job() -> None:
    class Stuck(Job, name="units.stuck", abstract=True):
        def run(self, ctx: JobContext) -> None:
            time.sleep(1.0)

    runner = JobRunner(threads=1)
    ctx = JobContext("id", "units.stuck", "q", 1, 1, enqueued_at=None)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await runner.run(Stuck(), ctx, time_limit=0.1)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await runner.run(Stuck(), ctx, time_limit=0.1)
    assert time.monotonic() - started < 0.5  # a fresh pool: not queued behind the first
    assert runner.abandoned == 2
    runner.shutdown()


def test_output_lines_and_durations() -> None:
    assert [human_seconds(s) for s in (0.012, 1.5, 8, 45, 600, 10800)] == [
        "12 ms",
        "1.5 s",
        "8 s",
        "45 s",
        "10 min",
        "3 h",
    ]
    event = JobEvent(Delivery("emails", b"", "8f3c2a1b9d", 1, None), outcome="ack", duration=0.012)
    assert text_line(event) == "✔ 8f3c2a1b… (not a job) (emails) 12 ms"
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL"
    assert describe_exit(3) == "exit code 3"
