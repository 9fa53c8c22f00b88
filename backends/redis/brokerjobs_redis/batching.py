"""Settlements coalesced: the script calls made in one event-loop iteration share a pipeline.

A worker running 64 jobs settles them from 64 tasks. Sent one by one, each would wait a
round trip and take a pooled connection of its own; queued here, everything asked for
before the loop next gets to run goes out as one pipeline of ``EVALSHA`` calls on one
connection, and each caller gets its own script's answer (or error). Each script still
runs atomically on the server; only the round trips are shared. Nothing waits on a
timer: a lone settlement leaves at the end of the current iteration.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as rex
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.commands.core import AsyncScript

MAX_BATCH = 512
"""Most script calls per pipeline; more wait for the next flush (started at once)."""
CLUSTER_CONCURRENCY = 16
"""Script calls in flight at once on a cluster, where pipelines cannot carry scripts."""


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    keys: list[str]
    args: list[Any]
    done: asyncio.Future[Any]


class ScriptBatcher:
    """Runs script calls through pipelines on one asyncio client (one loop)."""

    def __init__(self, client: aioredis.Redis | AsyncRedisCluster) -> None:
        self._client = client
        self._queued: list[_Call] = []
        self._flushing = False

    def run(self, script: AsyncScript, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue one call; the future resolves to its reply (or its exception)."""
        loop = asyncio.get_running_loop()
        call = _Call(script, keys, args, loop.create_future())
        self._queued.append(call)
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._start_flush)
        return call.done

    def _start_flush(self) -> None:
        asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued[:MAX_BATCH], self._queued[MAX_BATCH:]
                await self._send(batch)
        finally:
            self._flushing = False

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._pipelined(batch)
            missing = [c for c, r in zip(batch, replies, strict=True) if _no_script(r)]
            if missing:
                # The server lost its script cache (restart, SCRIPT FLUSH): load, send again.
                for script in {id(c.script): c.script for c in missing}.values():
                    await self._client.script_load(script.script)
                again = dict(zip(map(id, missing), await self._pipelined(missing), strict=True))
                replies = [again.get(id(c), r) for c, r in zip(batch, replies, strict=True)]
        except BaseException as exc:
            for call in batch:
                if not call.done.done():
                    call.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for call, reply in zip(batch, replies, strict=True):
            if call.done.done():
                continue  # the caller was cancelled: nobody reads this reply
            if isinstance(reply, Exception):
                call.done.set_exception(reply)
            else:
                call.done.set_result(reply)

    async def _pipelined(self, batch: list[_Call]) -> list[Any]:
        if isinstance(self._client, AsyncRedisCluster):
            # A cluster pipeline refuses scripts: run them side by side instead, a
            # bounded number at a time (each node's pool has max_connections).
            replies: list[Any] = []
            for start in range(0, len(batch), CLUSTER_CONCURRENCY):
                replies += await asyncio.gather(
                    *(
                        self._client.evalsha(c.script.sha, len(c.keys), *c.keys, *c.args)
                        for c in batch[start : start + CLUSTER_CONCURRENCY]
                    ),
                    return_exceptions=True,
                )
            return replies
        pipe = self._client.pipeline(transaction=False)
        for call in batch:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        return list(await pipe.execute(raise_on_error=False))


def _no_script(reply: object) -> bool:
    return isinstance(reply, rex.NoScriptError)
