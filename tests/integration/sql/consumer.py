"""A worker-like consumer process for the multi-process tests: consume, log, ack.

Every delivery is appended to a ledger file (``message_id attempt pid``) *before* it is
acked, so an acked message is always in some ledger, and a kill -9 between the two
shows up as a duplicate line, never as a gap.
"""

from __future__ import annotations

import asyncio
import os
from multiprocessing.synchronize import Event
from pathlib import Path

from brokerjobs_sql import PostgresBackend, SQLBackend, SQLiteBackend

PREFETCH = 20


def make_backend(kind: str, target: str, lease: float) -> SQLBackend:
    """A backend of ``kind`` ("sqlite" file path, or "postgres" URL)."""
    if kind == "sqlite":
        return SQLiteBackend(target, lease_seconds=lease, poll_interval=0.05)
    return PostgresBackend(target, lease_seconds=lease, poll_interval=0.25)


def consume_into_ledger(
    kind: str, target: str, queue: str, ledger: str, stop: Event, lease: float
) -> None:
    """Process entry point: consume ``queue`` until ``stop`` is set."""
    asyncio.run(_consume(make_backend(kind, target, lease), queue, Path(ledger), stop))


async def _consume(backend: SQLBackend, queue: str, ledger: Path, stop: Event) -> None:
    subscription = await backend.consume([queue], prefetch=PREFETCH)
    descriptor = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while not stop.is_set():
            try:
                delivery = await asyncio.wait_for(anext(subscription), 0.2)
            except TimeoutError:
                continue
            line = f"{delivery.message_id} {delivery.attempt} {os.getpid()}\n"
            os.write(descriptor, line.encode())
            await backend.ack(delivery)
    finally:
        os.close(descriptor)
        await subscription.stop()
        await backend.aclose()
