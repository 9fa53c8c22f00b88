"""Store harnesses for the in-memory store: on a fake clock, and on the real one."""

from __future__ import annotations

from typing import ClassVar

from brokerjobs.clock import Clock, FakeClock
from brokerjobs.store import Store
from brokerjobs.store_memory import InMemoryStore
from tests.support.harness_store import StoreHarness


class MemoryStoreHarness(StoreHarness):
    """Every store of a test shares one in-memory state on a :class:`FakeClock`."""

    name: ClassVar[str] = "memory"
    fake_clock: ClassVar[bool] = True
    clock_tolerance: ClassVar[float] = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.clock: Clock = FakeClock()
        self.shared = InMemoryStore(self.clock)

    def make_store(self) -> Store:
        return self.shared

    async def elapse(self, seconds: float) -> None:
        assert isinstance(self.clock, FakeClock)
        self.clock.advance(seconds)


class RealClockMemoryStoreHarness(MemoryStoreHarness):
    """The same, on the real clock (expiry proven against real time too)."""

    name: ClassVar[str] = "memory-realclock"
    fake_clock: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.shared = InMemoryStore(self.clock)

    async def elapse(self, seconds: float) -> None:
        await StoreHarness.elapse(self, seconds)


HARNESSES = [MemoryStoreHarness, RealClockMemoryStoreHarness]
