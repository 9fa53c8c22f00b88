"""Jobs of the distributed-limit tests (``--app tests.guards.limit_jobs`` for the workers).

Each appends ``start``/``end`` lines (wall-clock time, pid, attempt) to the ledger file
named in its payload; one ``write`` per line on an O_APPEND file keeps lines whole.
``run`` keys the limits (``limit_by``) so that concurrent test runs never share them.
"""

from __future__ import annotations

import os
import time

from brokerjobs import Job, JobContext


def note(ledger: str, line: str) -> None:
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Concurrent(
    Job, queue="limits-concurrent", concurrency_limit=3, limit_by=("run_id",), max_attempts=1
):
    run_id: str
    n: int
    ledger: str

    def run(self, ctx: JobContext) -> None:
        note(self.ledger, f"start {time.time():.6f} {self.n} {os.getpid()} {ctx.attempt}")
        time.sleep(0.1)
        note(self.ledger, f"end {time.time():.6f} {self.n} {os.getpid()} {ctx.attempt}")


class Rated(Job, queue="limits-rated", rate_limit=(20, 1.0), limit_by=("run_id",), max_attempts=1):
    run_id: str
    n: int
    ledger: str

    async def run(self, ctx: JobContext) -> None:
        note(self.ledger, f"start {time.time():.6f} {self.n} {os.getpid()} {ctx.attempt}")
