"""The Redis store beyond the contract suite: discovery, the backend as its own store,
the blocking twins, key layout and errors (the contract itself runs in tests/store)."""

from __future__ import annotations

import uuid

import pytest
import redis
from brokerjobs_redis import RedisStore

import brokerjobs
from brokerjobs import config, stores
from brokerjobs.errors import StoreUnavailableError
from brokerjobs.store import Store, SyncStore
from tests.guards import jobs
from tests.support.backend_redis import URL, RedisHarness, delete_keys, require_redis
from tests.support.configured_store import fresh_store_config  # noqa: F401 (autouse)

pytestmark = pytest.mark.redis


async def test_a_redis_url_selects_the_redis_store(monkeypatch: pytest.MonkeyPatch) -> None:
    require_redis()
    monkeypatch.setenv("BROKERJOBS_STORE", URL)
    config.reset()
    store = stores.get_store()
    assert isinstance(store, RedisStore) and isinstance(store, Store)
    assert isinstance(store, SyncStore)
    assert store.key_prefix == "brokerjobs:store:"
    key = f"t{uuid.uuid4().hex[:10]}:lock"
    try:
        assert await store.set_if_absent(key, b"me", ttl=30)
        raw = redis.Redis.from_url(URL)
        try:
            # The value sits under the prefixed key, with the expiry kept by the server.
            assert raw.get(f"brokerjobs:store:{key}") == b"me"
            assert 29_000 < int(raw.pttl(f"brokerjobs:store:{key}")) <= 30_000
        finally:
            raw.close()
    finally:
        await store.aclose()
        delete_keys(URL, f"brokerjobs:store:{key}")


async def test_a_redis_backend_is_its_own_default_store(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend()
    store = stores.get_store(backend=backend)
    assert isinstance(store, RedisStore)
    assert store.clients is backend.clients  # same server, same connections
    assert backend.coordination_store() is store
    assert store.key_prefix == f"{rds.prefix}:store:"
    assert await store.set_if_absent("k", b"v", ttl=5)
    await store.aclose()  # the backend's connections are the backend's to close
    assert await store.get("k") == b"v"


def test_a_unique_job_on_redis_needs_no_configured_store(rds: RedisHarness) -> None:
    backend = rds.new_redis_backend()
    queue = rds.queue("unique")
    first = brokerjobs.dispatch(jobs.Report(account=1), backend=backend, queue=queue)
    second = brokerjobs.dispatch(jobs.Report(account=1), backend=backend, queue=queue)
    assert not first.duplicate and second.duplicate and second == first


async def test_the_blocking_twins_share_the_values_of_the_async_operations(
    rds: RedisHarness,
) -> None:
    store = rds.new_redis_backend().coordination_store()
    assert store.set_if_absent_sync("k", b"one", ttl=5)
    assert not store.set_if_absent_sync("k", b"two", ttl=5)
    assert await store.get("k") == b"one" and store.get_sync("k") == b"one"
    assert not store.compare_and_delete_sync("k", b"two")
    assert store.compare_and_delete_sync("k", b"one")
    assert store.get_sync("k") is None and await store.get("k") is None


async def test_an_unreachable_redis_raises_store_unavailable() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:1"):
            await store.set_if_absent("k", b"v", ttl=5)
        with pytest.raises(StoreUnavailableError):
            store.get_sync("k")
    finally:
        await store.aclose()


def test_tls_and_sentinel_urls_select_the_redis_store_too() -> None:
    for url in ("rediss://h:6380/0", "redis+sentinel://h:26379/mymaster/0"):
        assert stores.store_name(url) == "redis"


def test_a_key_too_long_is_refused_before_any_command() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="at most 255"):
        store.set_if_absent_sync("x" * 256, b"v", ttl=5)
