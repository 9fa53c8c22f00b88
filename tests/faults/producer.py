"""The ledger-keeping producer: attempted before publishing, confirmed after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from brokerjobs import Job, dispatch_many_async
from brokerjobs.backend import Backend
from brokerjobs.errors import BackendError
from tests.faults.ledger import Ledger


def new_keys(count: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(count)]


async def produce(
    backend: Backend,
    queue: str,
    ledger: Ledger,
    keys: list[str],
    make: Callable[[str], Job],
    *,
    batch: int = 50,
    retries: int = 0,
    retry_pause: float = 1.0,
) -> int:
    """Dispatch one job per key in batches; returns how many publish errors were retried.

    A batch that fails is sent again with the same keys (``retries`` times): a partly
    accepted batch then runs some jobs twice, which the checker counts as duplicates,
    never as losses. Keys of a batch that finally fails stay attempted, not confirmed.
    """
    errors = 0
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        ledger.attempted(chunk)
        for remaining in range(retries, -1, -1):
            try:
                await dispatch_many_async(
                    [make(key) for key in chunk], backend=backend, queue=queue
                )
            except BackendError:
                errors += 1
                if remaining == 0:
                    raise
                await asyncio.sleep(retry_pause)
            else:
                ledger.confirmed(chunk)
                break
    return errors


async def stream(
    backend: Backend,
    queue: str,
    ledger: Ledger,
    make: Callable[[str], Job],
    stop: asyncio.Event,
    *,
    batch: int = 10,
    pause: float = 0.05,
) -> tuple[int, int]:
    """Publish batches until ``stop`` is set; a failed batch is retried until it goes.

    Returns (jobs confirmed, publish errors retried): load that spans a fault.
    """
    sent = errors = 0
    while not stop.is_set():
        keys = new_keys(batch)
        errors += await produce(
            backend, queue, ledger, keys, make, batch=batch, retries=120, retry_pause=0.5
        )
        sent += batch
        await asyncio.sleep(pause)
    return sent, errors
