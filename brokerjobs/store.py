"""The coordination ``Store``: a few atomic primitives on shared state beside the queues.

Unique jobs, idempotency keys, rate and concurrency limits and the scheduler's tick claims
are all built on these operations, and nothing else. Every implementation keeps the same
rules (the suite in ``tests/store`` proves them on each one):

* Keys are strings of 1 to :data:`MAX_KEY_LENGTH` characters; values are bytes.
* Every value expires: ``ttl`` is in seconds, measured by the *store's* clock (the
  database's ``now()``, Redis' ``TIME``), never by the caller's. An expired key reads as
  absent and may be set again at once, even before it is physically removed.
* Each operation is atomic on the server: two callers racing on one key, from any number
  of tasks, threads, processes or machines, never both win a ``set_if_absent``, a
  ``compare_and_set`` or a ``compare_and_delete``. No operation reads and then writes
  from the client where the result must be atomic.
* Driver errors never escape: :class:`~brokerjobs.errors.StoreUnavailableError` for
  transient trouble, :class:`~brokerjobs.errors.StoreError` otherwise.

Two primitives serve the limits: :meth:`Store.count_in_window`, a fixed-window counter,
and :meth:`Store.acquire_slot`, a leased semaphore whose slots are plain keys (renewed
with ``compare_and_set``, released with ``compare_and_delete``, freed by expiry when
their holder died). :class:`StoreBase` builds both on the four core operations, so a
new implementation needs only those four (and may override the others natively).
"""

from __future__ import annotations

import abc
import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from brokerjobs.errors import StoreError

T = TypeVar("T")

MAX_KEY_LENGTH = 255
"""Longest key every implementation accepts (a SQL primary key column)."""
MAX_TTL = 366 * 24 * 3600.0
"""Longest expiry accepted, in seconds (a year): state that must outlive it is a bug."""


@runtime_checkable
class Store(Protocol):
    """Atomic operations on expiring byte values under string keys. Async, server-side clock."""

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds unless a live value is there.

        True when this call stored it; False when the key already held an unexpired value
        (which is left untouched, expiry included).
        """
        ...

    async def get(self, key: str) -> bytes | None:
        """The live value under ``key``, or None when absent or expired."""
        ...

    async def compare_and_set(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        """Replace the live value ``expected`` by ``value``, expiring ``ttl`` seconds from now.

        False (nothing changed) when the key is absent, expired or holds another value.
        ``expected == value`` renews a lease.
        """
        ...

    async def compare_and_delete(self, key: str, expected: bytes) -> bool:
        """Delete ``key`` if its live value is ``expected``; False otherwise (releases a lock)."""
        ...

    async def count_in_window(self, key: str, *, limit: int, window: float) -> float:
        """Count one event in ``key``'s current fixed window, if fewer than ``limit`` are in it.

        A window starts at the first event counted after the previous one ended and lasts
        ``window`` seconds. Returns 0.0 when the event was counted, else the seconds left
        until the window ends (and counts nothing: a refused caller spends no budget).
        """
        ...

    async def acquire_slot(self, key: str, holder: bytes, *, limit: int, ttl: float) -> str | None:
        """Take one of ``limit`` slots of the semaphore ``key`` for ``ttl`` seconds.

        Returns the slot's own key, held with value ``holder``: renew it with
        ``compare_and_set(slot, holder, holder, ttl=...)``, give it back with
        ``compare_and_delete(slot, holder)``. If the holder dies the slot frees itself
        when its ttl runs out. None when every slot is held.
        """
        ...

    async def aclose(self) -> None:
        """Close connections. Idempotent."""
        ...


@runtime_checkable
class SyncStore(Protocol):
    """Blocking twins of the operations :func:`brokerjobs.dispatch` needs (unique jobs)."""

    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool:
        """Blocking twin of :meth:`Store.set_if_absent`."""
        ...

    def get_sync(self, key: str) -> bytes | None:
        """Blocking twin of :meth:`Store.get`."""
        ...

    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool:
        """Blocking twin of :meth:`Store.compare_and_delete`."""
        ...


def check_key(key: str) -> str:
    """``key`` if it is a valid store key, else ``ValueError`` saying why."""
    if not isinstance(key, str) or not key:
        raise ValueError("a store key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"a store key is at most {MAX_KEY_LENGTH} characters, got {len(key)}")
    return key


def check_ttl(ttl: float) -> float:
    """``ttl`` if it is a valid expiry in seconds, else ``ValueError``."""
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be > 0 and <= {MAX_TTL:g} seconds, got {ttl}")
    return float(ttl)


def check_window(key: str, limit: int, window: float) -> float:
    """``window`` if ``key``, ``limit`` and ``window`` are valid for a window counter."""
    check_key(key)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return check_ttl(window)


def slot_key(key: str, index: int) -> str:
    """The key of slot ``index`` of the semaphore ``key``."""
    return f"{key}#slot{index}"


class StoreBase(abc.ABC):
    """The four core operations left abstract; the limit primitives built on them.

    Subclasses with a server-side way to do better (one SQL statement, a Lua script)
    override :meth:`count_in_window` or :meth:`acquire_slot`.
    """

    @abc.abstractmethod
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool: ...

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def compare_and_set(
        self, key: str, expected: bytes, value: bytes, *, ttl: float
    ) -> bool: ...

    @abc.abstractmethod
    async def compare_and_delete(self, key: str, expected: bytes) -> bool: ...

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def acquire_slot(self, key: str, holder: bytes, *, limit: int, ttl: float) -> str | None:
        # Slot i is the key "key#slot<i>": taking a slot is one set_if_absent, so the
        # semaphore is exactly as atomic as that. Starting at a random slot spreads
        # contenders instead of all of them racing for slot 0.
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        check_key(slot_key(key, limit - 1))
        start = random.randrange(limit)
        for offset in range(limit):
            slot = slot_key(key, (start + offset) % limit)
            if await self.set_if_absent(slot, holder, ttl=ttl):
                return slot
        return None

    async def count_in_window(self, key: str, *, limit: int, window: float) -> float:
        # Portable fallback for stores without a server clock to compute with (DynamoDB):
        # the value is "count:window-end", the end fixed by whoever opened the window.
        # Every change is a compare-and-set, so two callers never count the same unit.
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        check_ttl(window)
        for _ in range(100):
            now = time.time()
            opened = f"1:{now + window!r}".encode()
            if await self.set_if_absent(key, opened, ttl=window):
                return 0.0
            current = await self.get(key)
            if current is None:
                continue
            count_text, _, end_text = current.decode().partition(":")
            count, end = int(count_text), float(end_text)
            left = end - now
            if left <= 0:
                if await self.compare_and_set(key, current, opened, ttl=window):
                    return 0.0
                continue
            if count >= limit:
                return left
            bumped = f"{count + 1}:{end!r}".encode()
            if await self.compare_and_set(key, current, bumped, ttl=left):
                return 0.0
        raise StoreError(f"count_in_window({key!r}) lost 100 races in a row; is the key shared?")


class BlockingStore(StoreBase):
    """A store whose driver blocks (SQL, boto3): the ``*_sync`` methods do the work, the
    async contract runs them in a thread. Also a :class:`SyncStore` for dispatch."""

    async def _offload(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    @abc.abstractmethod
    def set_if_absent_sync(self, key: str, value: bytes, *, ttl: float) -> bool: ...

    @abc.abstractmethod
    def get_sync(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    def compare_and_set_sync(
        self, key: str, expected: bytes, value: bytes, *, ttl: float
    ) -> bool: ...

    @abc.abstractmethod
    def compare_and_delete_sync(self, key: str, expected: bytes) -> bool: ...

    @abc.abstractmethod
    def count_in_window_sync(self, key: str, *, limit: int, window: float) -> float: ...

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float) -> bool:
        return await self._offload(self.set_if_absent_sync, key, value, ttl=ttl)

    async def get(self, key: str) -> bytes | None:
        return await self._offload(self.get_sync, key)

    async def compare_and_set(self, key: str, expected: bytes, value: bytes, *, ttl: float) -> bool:
        return await self._offload(self.compare_and_set_sync, key, expected, value, ttl=ttl)

    async def compare_and_delete(self, key: str, expected: bytes) -> bool:
        return await self._offload(self.compare_and_delete_sync, key, expected)

    async def count_in_window(self, key: str, *, limit: int, window: float) -> float:
        return await self._offload(self.count_in_window_sync, key, limit=limit, window=window)
