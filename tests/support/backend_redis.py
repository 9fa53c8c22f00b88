"""Harness for the Redis backend on the real server (127.0.0.1:6379 unless overridden).

Every test gets its own key prefix (``t<hex>:``), so tests never see each other's keys,
and its keys are deleted afterwards. Leases are short (2 s) so a crashed consumer's
entries come back quickly. If Redis is unreachable the test fails (never skips) and says
how to start it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import redis
from brokerjobs_redis import RedisBackend

from brokerjobs.backend import Backend
from tests.support.harness import BackendHarness

URL = os.environ.get("BROKERJOBS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log (or: bash .ci/services)"
)
LEASE_SECONDS = 2.0


def require_redis(url: str = URL) -> None:
    """Fail the test with instructions when nothing answers on the Redis port."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(
            f"Redis is not reachable at {host}:{port} ({exc}); start it with: {START}",
            pytrace=False,
        )


def delete_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` (this test's keys)."""
    client = redis.Redis.from_url(url)
    try:
        doomed = list(client.scan_iter(match=f"{prefix}*", count=1000))
        return int(client.delete(*doomed)) if doomed else 0
    finally:
        client.close()


class RedisHarness(BackendHarness):
    """Backends on the shared Redis with this test's key prefix and short leases."""

    name: ClassVar[str] = "redis"
    redelivery_timeout: ClassVar[float] = LEASE_SECONDS + 6.0
    timing_tolerance: ClassVar[float] = 1.5

    def __init__(self) -> None:
        super().__init__()
        require_redis()
        self.backends: list[RedisBackend] = []

    def options(self) -> dict[str, Any]:
        """Settings of this test's backends (JSON-friendly, for worker subprocesses too)."""
        return {
            "url": URL,
            "prefix": f"{self.prefix}:",
            "lease": LEASE_SECONDS,
            "poll_interval": 0.1,
            "client_name": f"brokerjobs-test.{self.prefix}",
            "warn_without_persistence": False,
        }

    def subprocess_env(self) -> dict[str, str]:
        return {
            "BROKERJOBS_BACKEND": "redis",
            "BROKERJOBS_BACKEND_OPTIONS": json.dumps(self.options()),
        }

    async def new_backend(self) -> Backend:
        return self.new_redis_backend()

    def new_redis_backend(self, **overrides: Any) -> RedisBackend:
        backend = RedisBackend.from_options(**{**self.options(), **overrides})
        self.backends.append(backend)
        return backend

    async def crash(self, backend: Backend) -> None:
        assert isinstance(backend, RedisBackend)
        await backend.abandon()

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
            backend.close()
        self.backends.clear()
        await asyncio.to_thread(delete_keys, URL, f"{self.prefix}:")


HARNESS = RedisHarness
MARKS = [pytest.mark.redis]
