"""The in-memory :class:`~brokerjobs.store.Store`: one process, any thread, a fake clock if wanted.

For unit tests and development beside the memory backend (which hands out one sharing
its clock: see :meth:`brokerjobs.memory.MemoryBackend.coordination_store`). Nothing is
shared with other processes: never use it to coordinate a fleet.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from brokerjobs.clock import Clock
from brokerjobs.store import BlockingStore, check_key, check_ttl, check_window

T = TypeVar("T")


class InMemoryStore(BlockingStore):
    """Expiring values in a dict under one lock; time from ``clock`` (real by default)."""

    name = "memory"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._values: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> InMemoryStore:
        """``memory://``: a fresh, empty store."""
        return cls()

    def _live(self, key: str, now: float) -> bytes | None:
        found = self._values.get(key)
        if found is None:
            return None
        if found[1] <= now:
            del self._values[key]
            return None
        return found[0]

    # -- the operations (the async contract calls these directly) ---------------------
    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        ttl = check_ttl(ttl)
        with self._lock:
            now = self.clock.now()
            if self._live(key, now) is not None:
                return False
            self._values[key] = (bytes(value), now + ttl)
            return True

    def get_sync(self, key: str) -> bytes | None:
        check_key(key)
        with self._lock:
            return self._live(key, self.clock.now())

    def compare_and_set_sync(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        check_key(key)
        ttl = check_ttl(ttl)
        with self._lock:
            now = self.clock.now()
            if self._live(key, now) != expected:
                return False
            self._values[key] = (bytes(value), now + ttl)
            return True

    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool:
        check_key(key)
        with self._lock:
            if self._live(key, self.clock.now()) != expected:
                return False
            del self._values[key]
            return True

    def count_in_window_sync(self, key: str, *, limit: int, window: float) -> float:
        window = check_window(key, limit, window)
        with self._lock:
            now = self.clock.now()
            current = self._live(key, now)
            if current is None:
                self._values[key] = (b"1", now + window)
                return 0.0
            count, ends = int(current), self._values[key][1]
            if count >= limit:
                return ends - now
            self._values[key] = (str(count + 1).encode(), ends)
            return 0.0

    async def _offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return function(*args, **kwargs)  # nothing blocks for long: no thread needed

    async def aclose(self) -> None:
        return None

    def keys(self) -> list[str]:
        """Every live key, sorted (for tests asserting what a feature stored)."""
        with self._lock:
            now = self.clock.now()
            return sorted(key for key in list(self._values) if self._live(key, now) is not None)
