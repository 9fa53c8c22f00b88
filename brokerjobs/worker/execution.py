"""Running a job's ``run``: async ones on the loop, sync ones in a bounded thread pool.

Time limits: an async job past its limit is cancelled. A sync job cannot be stopped
from outside its thread, so past its limit it is reported as failed and its thread is
*abandoned*: it keeps running to its end, its result is ignored, and the pool is
replaced by a fresh one so that the abandoned thread never takes a slot from the jobs
that follow. An abandoned thread still holds whatever it holds (connections, locks);
a job that may hang should enforce its own timeouts (socket timeouts, ...).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from brokerjobs.job import Job, JobContext
from brokerjobs.worker.outcome import JobTimeLimitExceeded

log = logging.getLogger("brokerjobs.worker")

_async_classes: dict[type[Job], bool] = {}


def is_async_job(cls: type[Job]) -> bool:
    """Whether ``cls.run`` is a coroutine function (cached per class)."""
    known = _async_classes.get(cls)
    if known is None:
        known = _async_classes[cls] = inspect.iscoroutinefunction(cls.run)
    return known


class JobRunner:
    """Runs jobs with their time limit; owns the thread pool for sync jobs."""

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self._threads = threads
        self._pool = self._new_pool()
        self.abandoned = 0
        """Sync jobs whose thread was left running past their time limit."""

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self._threads, thread_name_prefix="brokerjobs-job")

    async def run(self, job: Job, ctx: JobContext, time_limit: float | None) -> None:
        """Run ``job`` once; raises what it raised, or :class:`JobTimeLimitExceeded`."""
        if is_async_job(type(job)):
            await self._run_async(job, ctx, time_limit)
        else:
            await self._run_sync(job, ctx, time_limit)

    async def _run_async(self, job: Job, ctx: JobContext, time_limit: float | None) -> None:
        coroutine: Any = job.run(ctx)
        if time_limit is None:
            await coroutine
            return
        deadline = asyncio.timeout(time_limit)
        try:
            async with deadline:
                await coroutine
        except TimeoutError:
            if not deadline.expired():
                raise  # the job's own TimeoutError, not our limit
            raise _over_limit(ctx, time_limit, "cancelled") from None

    async def _run_sync(self, job: Job, ctx: JobContext, time_limit: float | None) -> None:
        loop = asyncio.get_running_loop()
        call = contextvars.copy_context().run
        future = loop.run_in_executor(self._pool, call, job.run, ctx)
        if time_limit is None:
            await future
            return
        try:
            await asyncio.wait_for(asyncio.shield(future), time_limit)
        except TimeoutError:
            if future.done():
                future.result()  # finished at the boundary: its own result counts
                return
            self._abandon()
            raise _over_limit(ctx, time_limit, "its thread was abandoned") from None

    def _abandon(self) -> None:
        self.abandoned += 1
        old, self._pool = self._pool, self._new_pool()
        # Running threads of the old pool finish their jobs; no new work goes to it.
        old.shutdown(wait=False)
        log.warning(
            "a sync job overran its time limit; its thread keeps running in the background "
            "(%d abandoned so far)",
            self.abandoned,
        )

    def shutdown(self) -> None:
        """Stop the pool without waiting for running threads (they end on their own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _over_limit(ctx: JobContext, limit: float, what: str) -> JobTimeLimitExceeded:
    return JobTimeLimitExceeded(
        f"{ctx.job_name} ran longer than its time limit of {limit:g} s ({what})"
    )
