"""Clients and scripts: one asyncio client per event loop, one thread-safe sync client.

redis-py's connection pools are thread-safe and reset themselves in a forked child (they
check the pid), so the sync client is shared by every thread and survives ``fork()``.
An asyncio client is bound to the loop that opened its connections, so a new loop (a
test, ``asyncio.run`` in a script) gets its own.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.retry
from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript, Script

from . import scripts
from .batching import ScriptBatcher
from .settings import RedisSettings

RETRIES = 3
"""Retries of a command whose connection broke (a server restart leaves every pooled
connection stale: the first use of each fails). Few and quick, so that a publish to a
server that stays down raises within seconds (the caller decides what then)."""
RETRY_ON = [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=1.0)


SCRIPT_NAMES = (
    "PUBLISH_DELAYED",
    "MOVE_DUE",
    "ACK",
    "RETRY",
    "DEAD_LETTER",
    "RELEASE",
    "EXTEND",
    "HEARTBEAT",
    "RECLAIM",
    "REPLAY",
    "PURGE",
    "RELEASE_CONSUMER",
)


@dataclass(slots=True)
class AsyncScripts:
    """The Lua scripts registered on one asyncio client (EVALSHA, loaded on first use)."""

    client: aioredis.Redis
    table: dict[str, AsyncScript]
    batcher: ScriptBatcher

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self.table[name](keys=keys, args=args)

    async def batched(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Like :meth:`run`, sharing a pipeline with the calls of the same loop iteration."""
        return await self.batcher.run(self.table[name], keys, args)


class Clients:
    """The connections of one backend instance."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._sync_scripts: dict[str, Script] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async: AsyncScripts | None = None

    def _url(self) -> str:
        return self.settings.url.get_secret_value()

    # -- sync -------------------------------------------------------------------------
    def sync(self) -> redis.Redis:
        with self._lock:
            if self._sync is None:
                pool = redis.BlockingConnectionPool.from_url(
                    self._url(),
                    max_connections=self.settings.max_connections,
                    timeout=self.settings.socket_timeout,
                    retry=redis.retry.Retry(_backoff(), RETRIES),
                    retry_on_error=RETRY_ON,
                    **self.settings.client_options(),
                )
                self._sync = redis.Redis.from_pool(pool)
                self._sync_scripts = {
                    name: self._sync.register_script(getattr(scripts, name))
                    for name in SCRIPT_NAMES
                }
            return self._sync

    def sync_script(self, name: str) -> Script:
        self.sync()
        return self._sync_scripts[name]

    def close(self) -> None:
        with self._lock:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()

    # -- asyncio ----------------------------------------------------------------------
    def aio(self) -> AsyncScripts:
        """The client and scripts of the running loop."""
        loop = asyncio.get_running_loop()
        current = self._async
        if current is None or self._loop is not loop:
            # A blocking pool: past max_connections a command waits for a free connection
            # (up to socket_timeout) instead of failing with "Too many connections".
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url(),
                max_connections=self.settings.max_connections,
                timeout=self.settings.socket_timeout,
                retry=redis.asyncio.retry.Retry(_backoff(), RETRIES),
                retry_on_error=RETRY_ON,
                **self.settings.client_options(),
            )
            client = aioredis.Redis.from_pool(pool)
            table = {name: client.register_script(getattr(scripts, name)) for name in SCRIPT_NAMES}
            current = self._async = AsyncScripts(client, table, ScriptBatcher(client))
            self._loop = loop
        return current

    def pipeline(self) -> AsyncPipeline:
        return self.aio().client.pipeline(transaction=False)

    async def aclose(self) -> None:
        current, self._async = self._async, None
        if current is not None and self._loop is asyncio.get_running_loop():
            await current.client.aclose()
        self._loop = None

    async def abort(self) -> None:
        """Drop every asyncio connection at once, as a killed process would."""
        current, self._async = self._async, None
        if current is not None:
            await current.client.connection_pool.disconnect(inuse_connections=True)
        self._loop = None
