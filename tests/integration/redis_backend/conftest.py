"""Fixtures for the Redis backend tests: a harness on the shared Redis (fails if it is down)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.backend_redis import RedisHarness

pytestmark = pytest.mark.redis


@pytest.fixture
async def rds() -> AsyncIterator[RedisHarness]:
    harness = RedisHarness()
    try:
        yield harness
    finally:
        await harness.aclose()
