"""Fixtures for the worker suite: a backend per test and a worker running in the background."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from brokerjobs import Job, dispatch_async
from brokerjobs.backend import Backend, DeadLetter
from brokerjobs.worker import Worker
from tests.support.harness import BackendHarness, eventually
from tests.worker.processes import WorkerProcess, interrupt_all

RunWorker = Callable[..., Any]


@pytest.fixture
async def backend(harness: BackendHarness) -> Backend:
    return await harness.new_backend()


@pytest.fixture
async def queue(harness: BackendHarness, backend: Backend) -> str:
    name = harness.queue("work")
    await backend.declare(name)
    return name


@pytest.fixture
def started() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test started (see ``processes.spawn``); killed at the end."""
    workers: list[WorkerProcess] = []
    yield workers
    interrupt_all(workers)


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex


async def send(backend: Backend, queue: str, job: Job, **options: Any) -> str:
    return await dispatch_async(job, backend=backend, queue=queue, **options)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[asyncio.Task[bool]]:
    """Run ``worker`` in the background; stop it gracefully (and check it ended) on exit."""
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        if not task.done():
            worker.request_stop()
        await asyncio.wait_for(task, 30)


def make_worker(backend: Backend, queues: Sequence[str], **options: Any) -> Worker:
    options.setdefault("concurrency", 4)
    options.setdefault("shutdown_timeout", 10.0)
    return Worker(backend, queues, **options)


async def dead_letter(
    backend: Backend, queue: str, message_id: str, timeout: float = 10
) -> DeadLetter:
    """Wait for ``message_id`` to reach the DLQ of ``queue`` and return it."""
    found: list[DeadLetter] = []

    async def parked() -> bool:
        found[:] = [d for d in await backend.dead_letters(queue) if d.message_id == message_id]
        return bool(found)

    await eventually(parked, timeout=timeout)
    return found[0]
