"""Jobs the fault scenarios dispatch; they run in ``brokerjobs consume`` subprocesses.

Each writes its runs to the ledger named by ``$BJFAULTS_LEDGER`` (see
:mod:`tests.faults.ledger`): a start row, then the outcome when it returns.
"""

from __future__ import annotations

import asyncio
import os
import random
import time

from brokerjobs import Job, JobContext
from tests.faults.ledger import process_ledger


class Work(Job, name="bjfaults.work", max_attempts=25, backoff_base=0.2, backoff_cap=2.0):
    """Sleeps ``seconds`` (plus up to ``jitter``); fails its first attempt if ``flaky``.

    ``max_attempts`` is high on purpose: every kill -9 counts a delivery, and a good job
    must not reach the poison bound because its workers kept being killed.
    """

    key: str
    seconds: float = 0.0
    jitter: float = 0.0
    flaky: bool = False
    pad: str = ""

    async def run(self, ctx: JobContext) -> None:
        ledger = process_ledger()
        row = ledger.start(self.key, ctx.attempt)
        await asyncio.sleep(self.seconds + random.random() * self.jitter)
        if self.flaky and ctx.attempt == 1:
            ledger.finish(row, "failed")
            raise ConnectionError("flaky on the first attempt")
        ledger.finish(row, "ok")


class SyncWork(Job, name="bjfaults.sync_work", max_attempts=25, backoff_base=0.2, backoff_cap=2.0):
    """The sync twin of :class:`Work`: a plain ``def run``, run in the worker's thread pool
    (the soak's ``--job-kind sync``), with the same fields, retries and ledger rows."""

    key: str
    seconds: float = 0.0
    jitter: float = 0.0
    flaky: bool = False
    pad: str = ""

    def run(self, ctx: JobContext) -> None:
        ledger = process_ledger()
        row = ledger.start(self.key, ctx.attempt)
        time.sleep(self.seconds + random.random() * self.jitter)
        if self.flaky and ctx.attempt == 1:
            ledger.finish(row, "failed")
            raise ConnectionError("flaky on the first attempt")
        ledger.finish(row, "ok")


WORK_KINDS: dict[str, type[Work] | type[SyncWork]] = {"async": Work, "sync": SyncWork}
"""The soak's ``--job-kind``: which twin it dispatches (the workers run either)."""


class Poison(Job, name="bjfaults.poison", max_attempts=3):
    """Kills its own worker process on every attempt (OOM killer, segfault...)."""

    key: str

    def run(self, ctx: JobContext) -> None:
        process_ledger().start(self.key, ctx.attempt)
        os._exit(137)


class Hang(Job, name="bjfaults.hang", max_attempts=2, time_limit=1.0, backoff_base=0.1):
    """Never returns by itself: the worker's time limit must cancel it."""

    key: str

    async def run(self, ctx: JobContext) -> None:
        row = process_ledger().start(self.key, ctx.attempt)
        try:
            await asyncio.sleep(3600)
        finally:
            process_ledger().finish(row, "cancelled")


class HangSync(Job, name="bjfaults.hang_sync", max_attempts=2, time_limit=1.0, backoff_base=0.1):
    """A sync job past its limit: its thread is abandoned, the attempt fails."""

    key: str
    seconds: float = 4.0

    def run(self, ctx: JobContext) -> None:
        row = process_ledger().start(self.key, ctx.attempt)
        time.sleep(self.seconds)
        process_ledger().finish(row, "late")


class Long(Job, name="bjfaults.long", max_attempts=25):
    """A long job with no time limit (held past the broker's consumer timeout).

    With ``first_only`` only the first attempt is long, so a redelivery can finish.
    """

    key: str
    seconds: float
    first_only: bool = False

    async def run(self, ctx: JobContext) -> None:
        ledger = process_ledger()
        row = ledger.start(self.key, ctx.attempt)
        if ctx.attempt == 1 or not self.first_only:
            await asyncio.sleep(self.seconds)
        ledger.finish(row, "ok")


class LongLimited(Job, name="bjfaults.long_limited", time_limit=3600, queue="bjfaults-limited"):
    """Declares a time limit longer than the consumer timeout of the fault node."""

    key: str

    async def run(self, ctx: JobContext) -> None:
        process_ledger().start(self.key, ctx.attempt)
