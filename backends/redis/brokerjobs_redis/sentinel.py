"""``redis+sentinel://`` URLs: the master of a Sentinel-monitored group, found by name.

Format: ``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]``
(``rediss+sentinel://`` for TLS to the master). The password is the master's; the
sentinels are asked without one unless ``BROKERJOBS_REDIS_SENTINEL_PASSWORD`` is set.
redis-py's Sentinel pools ask the sentinels for the current master on every new
connection, so after a failover the next connection goes to the promoted replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

SCHEMES = ("redis+sentinel", "rediss+sentinel")


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    tls: bool


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Split a ``redis+sentinel://`` URL; ``ValueError`` says what is wrong with it."""
    scheme, _, rest = url.partition("://")
    if scheme not in SCHEMES:
        raise ValueError(f"not a Sentinel URL: {scheme}://")
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, _, secret = userinfo.partition(":")
        username, password = unquote(user) or None, unquote(secret) or None
    sentinels = []
    for address in filter(None, netloc.split(",")):
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "26379")
        sentinels.append((host.strip("[]") or "127.0.0.1", int(port or 26379)))
    parts = [p for p in path.split("/") if p]
    if not sentinels or not parts:
        raise ValueError(
            "a Sentinel URL names the sentinels and the service: "
            "redis+sentinel://host:26379[,host:26379]/mymaster[/db]"
        )
    db = int(parts[1]) if len(parts) > 1 else 0
    return SentinelTarget(sentinels, parts[0], db, username, password, scheme.startswith("rediss"))
