"""The app for ``bench/sync_load.py``: one no-op job per kind, each run written to a ledger.

A run appends ``<message id> <time>`` to ``$BENCH_LEDGER`` (one file per worker process),
so the harness can count runs per job (duplicates) and the drain rate from outside.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TextIO

from brokerjobs import Job, JobContext

_lock = threading.Lock()
_ledger: TextIO | None = None


def _record(message_id: str) -> None:
    global _ledger
    with _lock:
        if _ledger is None:
            path = f"{os.environ['BENCH_LEDGER']}-{os.getpid()}"
            _ledger = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the worker
        _ledger.write(f"{message_id} {time.time():.6f}\n")


class SyncNoop(Job, name="bench.sync-load.sync"):
    """A plain ``def run`` job: the thread pool, as most Django and Flask code writes them."""

    n: int

    def run(self, ctx: JobContext) -> None:
        _record(ctx.message_id)


class AsyncNoop(Job, name="bench.sync-load.async"):
    """The same job as ``async def run``: on the event loop."""

    n: int

    async def run(self, ctx: JobContext) -> None:
        _record(ctx.message_id)
