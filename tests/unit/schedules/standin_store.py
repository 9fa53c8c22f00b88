"""A minimal stand-in for ``brokerjobs.Store`` (issue #17), for the scheduler's tests only.

It implements exactly the agreed API the tick claimer uses (set-if-absent with expiry,
get, compare-and-set/delete) on a dict, with expiry read from a clock. The lead switches
these tests to the real memory and SQL stores once ``brokerjobs.store`` is merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class StandInStore:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._items: dict[str, tuple[bytes, float]] = {}

    def _live(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= self._now():
            del self._items[key]
            return None
        return item[0]

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._items[key] = (value, self._now() + ttl)
        return True

    async def get(self, key: str) -> bytes | None:
        return self._live(key)

    async def compare_and_set(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        if self._live(key) != expected:
            return False
        self._items[key] = (value, self._now() + ttl)
        return True

    async def compare_and_delete(self, key: str, expected: bytes) -> bool:
        if self._live(key) != expected:
            return False
        del self._items[key]
        return True

    async def aclose(self) -> None:
        return None
