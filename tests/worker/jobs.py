"""Job classes for the worker suite (importable, so subprocess workers find them too).

In-process jobs record their runs in :data:`RUNS` by token; subprocess jobs append a
line to the file named in their payload.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import field_validator

from brokerjobs import Fail, Job, JobContext, Retry


@dataclass(frozen=True)
class Run:
    attempt: int
    at: float
    queue: str


RUNS: dict[str, list[Run]] = {}
_lock = threading.Lock()


def record(token: str, ctx: JobContext) -> None:
    with _lock:
        RUNS.setdefault(token, []).append(Run(ctx.attempt, time.monotonic(), ctx.queue))


def runs(token: str) -> list[Run]:
    with _lock:
        return list(RUNS.get(token, []))


class Succeed(Job, name="bjtest.succeed"):
    token: str

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)


class SyncSucceed(Job, name="bjtest.sync_succeed"):
    token: str

    def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)


class FailTimes(
    Job, name="bjtest.fail_times", max_attempts=3, backoff_base=0.4, backoff_jitter=0.0
):
    """Fails its first ``failures`` attempts, then succeeds."""

    token: str
    failures: int

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        if ctx.attempt <= self.failures:
            raise ConnectionError(f"flaky on attempt {ctx.attempt}")


class AlwaysFail(
    Job, name="bjtest.always_fail", max_attempts=2, backoff_base=0.1, backoff_jitter=0.0
):
    token: str

    def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        raise ValueError(f"broken on attempt {ctx.attempt}")


class AskRetry(Job, name="bjtest.ask_retry", max_attempts=3):
    token: str
    delay: float

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        if ctx.attempt == 1:
            raise Retry("not ready yet", delay=self.delay)


class GiveUp(Job, name="bjtest.give_up", max_attempts=5):
    token: str

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        raise Fail("the account no longer exists")


class NotRetryable(Job, name="bjtest.not_retryable", max_attempts=5, retry_on=(ConnectionError,)):
    token: str

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        raise KeyError("missing")


class SlowAsync(Job, name="bjtest.slow_async", max_attempts=1, time_limit=0.3):
    token: str

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        await asyncio.sleep(30)


class SlowSync(Job, name="bjtest.slow_sync", max_attempts=1, time_limit=0.3):
    token: str
    seconds: float = 2.0

    def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        time.sleep(self.seconds)


class Sleep(Job, name="bjtest.sleep"):
    """Records its start, sleeps, records again: two runs per completed job."""

    token: str
    seconds: float

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        await asyncio.sleep(self.seconds)
        record(self.token + ":done", ctx)


class SyncSleep(Job, name="bjtest.sync_sleep"):
    """:class:`Sleep` as a plain ``def run`` (the thread pool): two runs per completed job."""

    token: str
    seconds: float

    def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)
        time.sleep(self.seconds)
        record(self.token + ":done", ctx)


class Typed(Job, name="bjtest.typed"):
    token: str
    count: int

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)


class Picky(Job, name="bjtest.picky"):
    """Its validator raises TypeError (not a ValidationError) for one value."""

    token: str

    @field_validator("token")
    @classmethod
    def refuse_boom(cls, value: str) -> str:
        if value == "boom":
            raise TypeError("cannot handle boom")
        return value

    async def run(self, ctx: JobContext) -> None:
        record(self.token, ctx)


# -- subprocess jobs: their evidence goes to a file ---------------------------------------
def append(path: str, line: str) -> None:
    with Path(path).open("a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class FileSleep(Job, name="bjtest.file_sleep"):
    """Appends ``start <token> <attempt>``, sleeps, appends ``done <token> <attempt>``."""

    path: str
    token: str
    seconds: float = 0.0

    async def run(self, ctx: JobContext) -> None:
        append(self.path, f"start {self.token} {ctx.attempt}")
        await asyncio.sleep(self.seconds)
        append(self.path, f"done {self.token} {ctx.attempt}")


class KillWorker(Job, name="bjtest.kill_worker", max_attempts=2):
    """Kills its own worker process on every attempt (a poison message)."""

    path: str
    token: str

    def run(self, ctx: JobContext) -> None:
        append(self.path, f"start {self.token} {ctx.attempt}")
        os._exit(17)


class Rendezvous(Job, name="bjtest.rendezvous"):
    """Appends ``start <token> <pid>``, then waits (up to ``seconds``) for ``peers`` starts.

    Appends ``met <token>`` when that many jobs were running at once, else ``alone <token>``:
    proof of parallelism that does not depend on timing.
    """

    path: str
    token: str
    peers: int = 2
    seconds: float = 20.0

    def run(self, ctx: JobContext) -> None:
        append(self.path, f"start {self.token} {os.getpid()}")
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            starts = Path(self.path).read_text().splitlines()
            if sum(line.startswith("start") for line in starts) >= self.peers:
                append(self.path, f"met {self.token}")
                return
            time.sleep(0.05)
        append(self.path, f"alone {self.token}")
