"""Store harness for the Redis store on the shared server (127.0.0.1:6379 unless overridden).

The test fails (never skips) when Redis is down, saying how to start it; the test's keys
(``brokerjobs:store:<test prefix>:…``) are deleted afterwards.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from brokerjobs_redis.store import RedisStore

from brokerjobs.store import Store
from tests.support import backend_redis
from tests.support.harness_store import StoreHarness


class RedisStoreHarness(StoreHarness):
    name: ClassVar[str] = "redis"
    clock_tolerance: ClassVar[float] = 0.05  # PX and PTTL are whole milliseconds

    def __init__(self) -> None:
        super().__init__()
        backend_redis.require_redis()

    def store_spec(self) -> str:
        return backend_redis.URL

    def make_store(self) -> Store:
        return RedisStore.from_url(self.store_spec())

    async def cleanup(self) -> None:
        doomed = f"{RedisStore.from_url(self.store_spec()).key_prefix}{self.prefix}:"
        await asyncio.to_thread(backend_redis.delete_keys, backend_redis.URL, doomed)


HARNESSES = [RedisStoreHarness]
MARKS = {"redis": [pytest.mark.redis]}
