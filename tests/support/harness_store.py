"""What the store contract suite (tests/store) needs from a Store implementation under test.

Each implementation ships one module ``tests/support/store_<name>.py`` exposing
``HARNESS: type[StoreHarness]`` (and optionally ``MARKS``). The suite is parametrized over
every such module, so a new store (Redis, ...) plugs in by adding one file.
``BROKERJOBS_TEST_STORES=memory,postgres`` narrows the set.
"""

from __future__ import annotations

import abc
import asyncio
import uuid
from typing import ClassVar

from brokerjobs.store import Store


class StoreHarness(abc.ABC):
    """Creates stores on one server for one test, keys prefixed to keep tests apart."""

    name: ClassVar[str]
    fake_clock: ClassVar[bool] = False
    """True when :meth:`elapse` advances a fake clock instead of sleeping."""
    clock_tolerance: ClassVar[float] = 0.3
    """Seconds the store's clock may differ from this process's (a database server's)."""

    def __init__(self) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}"
        self.stores: list[Store] = []

    def key(self, base: str = "k") -> str:
        """A key unique to this test."""
        return f"{self.prefix}:{base}"

    async def new_store(self) -> Store:
        """A fresh store instance (its own connections) on the shared server."""
        store = self.make_store()
        self.stores.append(store)
        return store

    @abc.abstractmethod
    def make_store(self) -> Store:
        """A store of the implementation under test (not yet tracked)."""

    def store_spec(self) -> str:
        """A ``BROKERJOBS_STORE`` value by which another process reaches the same store.

        Raise ``NotImplementedError`` where no other process can (the memory store).
        """
        raise NotImplementedError(f"the {self.name} store is private to one process")

    def subprocess_env(self) -> dict[str, str]:
        """Extra environment another process needs to reach :meth:`store_spec` (credentials)."""
        return {}

    async def elapse(self, seconds: float) -> None:
        """Let ``seconds`` of store time pass (real sleep, or a fake clock's advance)."""
        await asyncio.sleep(seconds)

    async def cleanup(self) -> None:
        """Delete what this test stored (keys under :attr:`prefix`)."""
        return None

    async def aclose(self) -> None:
        await self.cleanup()
        for store in self.stores:
            await store.aclose()
        self.stores.clear()
