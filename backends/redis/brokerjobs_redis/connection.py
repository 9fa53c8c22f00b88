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
import redis.cluster
import redis.retry
import redis.sentinel
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript

from . import scripts
from .batching import ScriptBatcher
from .sentinel import SentinelTarget
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
    "PURGE_QUEUE",
    "CANCEL",
)


AsyncClient = aioredis.Redis | AsyncRedisCluster
SyncClient = redis.Redis | redis.cluster.RedisCluster


@dataclass(slots=True)
class AsyncScripts:
    """The Lua scripts registered on one asyncio client (EVALSHA, loaded on first use)."""

    client: AsyncClient
    table: dict[str, AsyncScript]
    batcher: ScriptBatcher

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self.table[name](keys=keys, args=args)

    async def batched(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Like :meth:`run`, sharing a pipeline with the calls of the same loop iteration."""
        return await self.batcher.run(self.table[name], keys, args)


class Clients:
    """The connections of one backend instance (single server, or Redis Cluster)."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sync: SyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async: AsyncScripts | None = None

    def _url(self) -> str:
        return self.settings.url.get_secret_value()

    # -- sync -------------------------------------------------------------------------
    def sync(self) -> SyncClient:
        with self._lock:
            if self._sync is None:
                self._sync = self._new_sync()
            return self._sync

    def _sentinel_options(self, target: SentinelTarget) -> tuple[dict[str, Any], dict[str, Any]]:
        """(options of the master's connections, options of the sentinel connections)."""
        options = self.settings.client_options()
        options.update(db=target.db, username=target.username, password=target.password)
        if target.tls:
            options["ssl"] = True
        secret = self.settings.sentinel_password
        to_sentinels: dict[str, Any] = {
            "socket_timeout": self.settings.socket_timeout,
            "socket_connect_timeout": self.settings.connect_timeout,
            "password": secret.get_secret_value() if secret else None,
        }
        return options, to_sentinels

    def _new_sync(self) -> SyncClient:
        options = self.settings.client_options()
        target = self.settings.sentinel
        if target is not None:
            master, to_sentinels = self._sentinel_options(target)
            sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
                target.sentinels, sentinel_kwargs=to_sentinels
            )
            master_client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
                target.service,
                max_connections=self.settings.max_connections,
                retry=redis.retry.Retry(_backoff(), RETRIES),
                retry_on_error=RETRY_ON,
                **master,
            )
            return master_client
        if self.settings.cluster:
            # The cluster client keeps a pool per node and retries through topology
            # changes (MOVED, a failover) itself.
            return redis.cluster.RedisCluster.from_url(self._url(), **options)
        pool = redis.BlockingConnectionPool.from_url(
            self._url(),
            max_connections=self.settings.max_connections,
            timeout=self.settings.socket_timeout,
            retry=redis.retry.Retry(_backoff(), RETRIES),
            retry_on_error=RETRY_ON,
            **options,
        )
        return redis.Redis.from_pool(pool)

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
            client = self._new_async()
            table = {name: client.register_script(getattr(scripts, name)) for name in SCRIPT_NAMES}
            current = self._async = AsyncScripts(client, table, ScriptBatcher(client))
            self._loop = loop
        return current

    def _new_async(self) -> AsyncClient:
        options = self.settings.client_options()
        target = self.settings.sentinel
        if target is not None:
            master, to_sentinels = self._sentinel_options(target)
            sentinel = AsyncSentinel(  # type: ignore[no-untyped-call]
                target.sentinels, sentinel_kwargs=to_sentinels
            )
            client: aioredis.Redis = sentinel.master_for(
                target.service,
                max_connections=self.settings.max_connections,
                retry=redis.asyncio.retry.Retry(_backoff(), RETRIES),
                retry_on_error=RETRY_ON,
                **master,
            )
            return client
        if self.settings.cluster:
            return AsyncRedisCluster.from_url(
                self._url(), max_connections=self.settings.max_connections, **options
            )
        # A blocking pool: past max_connections a command waits for a free connection
        # (up to socket_timeout) instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url(),
            max_connections=self.settings.max_connections,
            timeout=self.settings.socket_timeout,
            retry=redis.asyncio.retry.Retry(_backoff(), RETRIES),
            retry_on_error=RETRY_ON,
            **options,
        )
        return aioredis.Redis.from_pool(pool)

    def pipeline(self) -> Any:
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
            client = current.client
            if isinstance(client, AsyncRedisCluster):
                await client.aclose()
            else:
                await client.connection_pool.disconnect(inuse_connections=True)
        self._loop = None
