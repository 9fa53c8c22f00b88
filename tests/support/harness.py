"""What the shared suites (tests/contract, tests/worker) need from a backend under test.

Each backend ships one module ``tests/support/backend_<name>.py`` exposing
``HARNESS: type[BackendHarness]``. The suites are parametrized over every such module, so
a backend plugs in without copying a test. ``BROKERJOBS_TEST_BACKENDS=memory,rabbitmq``
narrows the set; in CI every backend runs and none may skip.
"""

from __future__ import annotations

import abc
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import ClassVar

from brokerjobs.backend import Backend, Delivery, Subscription


class BackendHarness(abc.ABC):
    """Creates isolated backends for one test and simulates time and crashes."""

    name: ClassVar[str]
    redelivery_timeout: ClassVar[float] = 10.0
    """Upper bound in seconds for a crashed consumer's message to come back."""
    timing_tolerance: ClassVar[float] = 1.5
    """How late a delayed message may arrive, in seconds (promise 4: about a second)."""

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"

    def queue(self, base: str = "q") -> str:
        """A queue name unique to this test."""
        return f"{self.prefix}-{base}"

    @abc.abstractmethod
    async def new_backend(self) -> Backend:
        """A fresh backend instance (its own connections), as a second worker would have."""

    @abc.abstractmethod
    async def crash(self, backend: Backend) -> None:
        """Kill ``backend`` as kill -9 would: connections dropped, nothing settled or released.

        Afterwards its unsettled deliveries must reach another backend instance within
        :attr:`redelivery_timeout` seconds.
        """

    def subprocess_env(self) -> dict[str, str]:
        """Environment variables that point a worker subprocess at this test's broker.

        ``BROKERJOBS_BACKEND`` plus the backend's own variables, and
        ``BROKERJOBS_BACKEND_OPTIONS`` (JSON) for options without one. Raise
        ``NotImplementedError`` (with the reason) where no other process can reach it.
        """
        raise NotImplementedError(f"the {self.name} harness cannot reach another process")

    async def elapse(self, seconds: float) -> None:
        """Let ``seconds`` of broker time pass (real sleep, or a fake clock's advance)."""
        await asyncio.sleep(seconds)

    async def aclose(self) -> None:
        """Close every backend made and delete what this test declared."""
        return None


async def receive(subscription: Subscription, timeout: float = 10.0) -> Delivery:
    """The next delivery, or fail the test after ``timeout`` seconds."""
    return await asyncio.wait_for(anext(subscription), timeout)


async def nothing_within(subscription: Subscription, seconds: float) -> bool:
    """True when no delivery arrives within ``seconds`` (the pending read is cancelled)."""
    try:
        delivery = await asyncio.wait_for(anext(subscription), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected delivery {delivery.message_id} (attempt {delivery.attempt})")


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll ``check`` until it returns True; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
