"""Operations: stats and dead-letter listing (replay and purge are Lua scripts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from brokerjobs.backend import DeadLetter, QueueStats

from .connection import AsyncClient
from .keys import QueueKeys, queue_keys
from .settings import RedisSettings


def _ms(entry_id: bytes | str) -> int:
    """The millisecond timestamp of a stream entry id (``<ms>-<seq>``)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0])


def _field(mapping: dict[Any, Any], name: str) -> Any:
    return mapping.get(name.encode(), mapping.get(name))


async def stats(client: AsyncClient, settings: RedisSettings, queue: str) -> QueueStats:
    """Counts for ``queue``; ready excludes delayed messages and in-flight entries.

    Settled entries are deleted from the stream, so the stream holds exactly the ready
    entries and the pending ones: ready = XLEN - pending. The oldest ready entry is the
    first after the group's last-delivered id, and its id says when it was added.
    """
    keys = queue_keys(settings.prefix, queue)
    pipe = client.pipeline(transaction=False)
    pipe.xlen(keys.stream)
    pipe.xpending(keys.stream, settings.group)
    pipe.zcard(keys.delayed)
    pipe.xlen(keys.dead)
    pipe.xinfo_groups(keys.stream)
    length, pending, delayed, dead, groups = await pipe.execute(raise_on_error=False)
    in_flight = 0 if isinstance(pending, Exception) else int(_field(pending, "pending") or 0)
    last = "0-0"
    if not isinstance(groups, Exception):
        for group in groups:
            name = _field(group, "name")
            if (name.decode() if isinstance(name, bytes) else name) == settings.group:
                delivered = _field(group, "last-delivered-id")
                last = delivered.decode() if isinstance(delivered, bytes) else str(delivered)
    ready = max(0, int(length) - in_flight)
    oldest: float | None = None
    if ready:
        first: Any = await client.xrange(keys.stream, min=f"({last}", count=1)
        if first:
            now: Any = await client.time()  # the server's clock, as the entry ids are
            now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
            oldest = max(0.0, (now_ms - _ms(first[0][0])) / 1000)
    return QueueStats(
        queue=queue,
        ready=ready,
        in_flight=in_flight,
        delayed=int(delayed),
        dead=int(dead),
        oldest_ready_age=oldest,
    )


async def dead_letters(
    client: AsyncClient, keys: QueueKeys, queue: str, limit: int
) -> list[DeadLetter]:
    """The first ``limit`` entries of the dead-letter stream, oldest first."""
    entries: Any = await client.xrange(keys.dead, count=limit)
    found = []
    for entry_id, fields in entries:
        found.append(
            DeadLetter(
                queue=queue,
                message_id=fields.get(b"i", b"").decode(),
                body=fields.get(b"b", b""),
                reason=fields.get(b"r", b"").decode(errors="replace"),
                attempt=int(fields.get(b"a", b"0")),
                dead_lettered_at=datetime.fromtimestamp(_ms(entry_id) / 1000, UTC),
            )
        )
    return found
