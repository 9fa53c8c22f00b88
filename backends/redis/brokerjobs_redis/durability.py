"""What the server does with a write before it answers: the durability a publish gets.

A reply from Redis is not a disk write. With AOF ``appendfsync always`` a write is on
disk before the reply; with ``everysec`` (Redis's default when AOF is on) a crash of the
host can lose about the last second of confirmed writes; with RDB snapshots only, all
since the last snapshot; with neither, everything at a restart. ``WAIT`` (the backend's
``replicas`` setting) adds copies on replicas instead of, or as well as, the disk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.exceptions as rex

from .connection import AsyncClient
from .settings import RedisSettings

log = logging.getLogger("brokerjobs.redis")


@dataclass(frozen=True, slots=True)
class Persistence:
    """The server's persistence settings, as far as it lets a client read them."""

    appendonly: bool | None
    """AOF on; None when neither CONFIG nor INFO would tell."""
    appendfsync: str | None
    """``always``, ``everysec`` or ``no`` (None: unknown)."""
    snapshots: bool | None
    """RDB ``save`` points configured (None: unknown, e.g. CONFIG disabled)."""

    @property
    def volatile(self) -> bool:
        """True when the server keeps nothing on disk: a restart loses every message."""
        return self.appendonly is False and self.snapshots is False

    def describe(self) -> str:
        if self.appendonly:
            return f"AOF with appendfsync {self.appendfsync or 'unknown'}"
        if self.snapshots:
            return "RDB snapshots only (no AOF)"
        if self.volatile:
            return "no persistence (neither AOF nor RDB)"
        return "unknown persistence (CONFIG GET is not allowed)"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_persistence(client: AsyncClient) -> Persistence:
    """Read ``appendonly``, ``appendfsync`` and ``save`` (INFO when CONFIG is refused)."""
    try:
        config = {
            _text(k): _text(v)
            for k, v in (await client.config_get("*")).items()
            if _text(k) in ("appendonly", "appendfsync", "save")
        }
        return Persistence(
            appendonly=config.get("appendonly") == "yes",
            appendfsync=config.get("appendfsync"),
            snapshots=bool(config.get("save", "").strip()),
        )
    except rex.ResponseError:
        # Managed services often rename or forbid CONFIG; INFO still says whether AOF is on.
        info = await client.info("persistence")
        return Persistence(
            appendonly=bool(int(info.get("aof_enabled", 0))), appendfsync=None, snapshots=None
        )


async def warn_if_volatile(client: AsyncClient, settings: RedisSettings) -> Persistence | None:
    """Log a warning when the server would lose every message at a restart."""
    try:
        persistence = await read_persistence(client)
    except (rex.RedisError, OSError) as exc:
        log.debug("could not read the persistence settings of %s: %s", settings.safe_url, exc)
        return None
    if persistence.volatile:
        log.warning(
            "Redis at %s has no persistence (appendonly no, no save points): a restart of the "
            "server loses every queued, delayed and dead message. Turn on AOF "
            "(appendonly yes, appendfsync always for no loss on a crash); see "
            "docs/backends/redis.md#durability",
            settings.safe_url,
        )
    elif persistence.appendonly and persistence.appendfsync != "always":
        log.info(
            "Redis at %s: %s; a crash of its host may lose the last second of confirmed "
            "dispatches (appendfsync always closes that window)",
            settings.safe_url,
            persistence.describe(),
        )
    return persistence
