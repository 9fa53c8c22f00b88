"""Key names: every key of one queue shares the hash tag ``{<queue>}``.

One tag per queue keeps all of a queue's keys in one cluster hash slot, so the Lua
scripts (which touch the stream, the delay set and the dead-letter stream together) run
on Redis Cluster as they do on a single server.
"""

from __future__ import annotations

from dataclasses import dataclass

from brokerjobs.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one brokerjobs queue."""

    stream: str
    """The work stream (consumer group ``group``): ready and in-flight messages."""
    delayed: str
    """Sorted set of delayed and backed-off messages, scored by due time (server ms)."""
    dead: str
    """The dead-letter stream, one entry per parked message with its reason."""

    @property
    def all(self) -> tuple[str, str, str]:
        return (self.stream, self.delayed, self.dead)


def queue_keys(prefix: str, queue: str) -> QueueKeys:
    """The keys of ``queue`` under ``prefix``: ``<prefix>{<queue>}:stream`` and so on."""
    if not queue or "{" in queue or "}" in queue:
        raise ConfigurationError(
            f"invalid Redis queue name {queue!r}: it must be non-empty and may not contain "
            "{ or } (the backend puts the name in a hash tag)"
        )
    tag = f"{prefix}{{{queue}}}"
    return QueueKeys(stream=f"{tag}:stream", delayed=f"{tag}:delayed", dead=f"{tag}:dead")
