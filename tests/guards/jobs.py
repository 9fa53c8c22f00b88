"""Guarded jobs for the guard tests; each on a queue of its own, away from other suites."""

from __future__ import annotations

import threading
import time
from collections import Counter

from brokerjobs import Job, JobContext

runs: Counter[str] = Counter()
_lock = threading.Lock()


def ran(label: str) -> None:
    with _lock:
        runs[label] += 1


class Report(Job, queue="guards-unique", unique_for=60, unique_by=("account",)):
    account: int
    note: str = ""

    def run(self, ctx: JobContext) -> None:
        ran(f"report-{self.account}")


class ReportUntilStarted(Job, queue="guards-unique", unique_for=60, unique_until="started"):
    account: int

    def run(self, ctx: JobContext) -> None:
        ran(f"started-{self.account}")


class Charge(Job, queue="guards-idem", idempotency_key_by=("order",)):
    order: str
    cents: int

    def run(self, ctx: JobContext) -> None:
        ran(f"charge-{self.order}")


class Flaky(Job, queue="guards-idem", idempotency_key_by=("order",), backoff_base=1):
    order: str

    def run(self, ctx: JobContext) -> None:
        ran(f"flaky-{self.order}")
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")


class Plain(Job, queue="guards-idem"):
    n: int

    def run(self, ctx: JobContext) -> None:
        ran(f"plain-{self.n}")


class Throttled(Job, queue="guards-limits", rate_limit=(2, 10.0), max_attempts=1):
    n: int

    def run(self, ctx: JobContext) -> None:
        ran("throttled")


class PerTenant(Job, queue="guards-limits", rate_limit=(1, 10.0), limit_by=("tenant",)):
    tenant: str
    n: int

    def run(self, ctx: JobContext) -> None:
        ran(f"tenant-{self.tenant}")


class OneAtATime(Job, queue="guards-limits", concurrency_limit=1, max_attempts=1):
    n: int

    async def run(self, ctx: JobContext) -> None:
        ran("one-at-a-time")


class Sleeper(Job, queue="guards-limits-real", concurrency_limit=2):
    n: int

    def run(self, ctx: JobContext) -> None:
        time.sleep(0.05)


redispatched: list[bool] = []
"""``duplicate`` flags of the dispatches the two jobs below make from inside their run."""


class LockedWhileRunning(Job, queue="guards-unique", unique_for=60, unique_by=("account",)):
    account: int
    depth: int = 0

    def run(self, ctx: JobContext) -> None:
        import brokerjobs

        if self.depth == 0:
            again = brokerjobs.dispatch(LockedWhileRunning(account=self.account, depth=1))
            redispatched.append(again.duplicate)


class FreedAtStart(
    Job, queue="guards-unique", unique_for=60, unique_by=("account",), unique_until="started"
):
    account: int
    depth: int = 0

    def run(self, ctx: JobContext) -> None:
        import brokerjobs

        if self.depth == 0:
            again = brokerjobs.dispatch(FreedAtStart(account=self.account, depth=1))
            redispatched.append(again.duplicate)


attempts_seen: list[int] = []


class Audited(Job, queue="guards-idem", idempotency_key_by=("order",), max_attempts=1):
    order: str

    def run(self, ctx: JobContext) -> None:
        attempts_seen.append(ctx.attempt)


class Once(Job, queue="guards-crash", idempotency_key_by=("key",)):
    """Counts its completed runs per key in :data:`runs` (``once-KEY``)."""

    key: str

    async def run(self, ctx: JobContext) -> None:
        ran(f"once-{self.key}")
