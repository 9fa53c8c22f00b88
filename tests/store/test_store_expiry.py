"""Expiry on the store's clock: a fake one (memory) or the real one (every other store)."""

from __future__ import annotations

import time

from brokerjobs.store import Store
from tests.support.harness import eventually
from tests.support.harness_store import StoreHarness


async def test_an_expired_value_is_absent_and_may_be_set_again(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key()
    started = time.monotonic()
    assert await store.set_if_absent(key, b"old", ttl=2)
    still_there = await store.get(key)
    if time.monotonic() - started < 1.5:  # a loaded machine may stall past the ttl
        assert still_there == b"old"
    await store_harness.elapse(2.0 + store_harness.clock_tolerance)
    assert await store.get(key) is None
    assert await store.compare_and_set(key, b"old", b"x", ttl=5) is False
    assert await store.compare_and_delete(key, b"old") is False
    assert await store.set_if_absent(key, b"new", ttl=60) is True
    assert await store.get(key) == b"new"


async def test_nothing_expires_early(store: Store, store_harness: StoreHarness) -> None:
    key = store_harness.key()
    ttl = 1.5
    set_at = time.monotonic()  # before the call: the store's clock starts the ttl later
    assert await store.set_if_absent(key, b"v", ttl=ttl)
    if store_harness.fake_clock:
        await store_harness.elapse(ttl - 0.01)
        assert await store.get(key) == b"v"
        await store_harness.elapse(0.02)
        assert await store.get(key) is None
        return

    async def gone() -> bool:
        return await store.get(key) is None

    await eventually(gone, timeout=15.0, interval=0.05)
    assert time.monotonic() - set_at >= ttl - store_harness.clock_tolerance


async def test_compare_and_set_renews_the_expiry(store: Store, store_harness: StoreHarness) -> None:
    key = store_harness.key()
    assert await store.set_if_absent(key, b"lease", ttl=2)
    assert await store.compare_and_set(key, b"lease", b"lease", ttl=600)
    await store_harness.elapse(2.0 + store_harness.clock_tolerance)
    assert await store.get(key) == b"lease"


async def test_a_window_ends_and_the_next_one_starts_empty(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key("rate")
    assert await store.count_in_window(key, limit=1, window=1.5) == 0.0
    wait = await store.count_in_window(key, limit=1, window=1.5)
    assert wait > 0
    await store_harness.elapse(wait + store_harness.clock_tolerance)
    assert await store.count_in_window(key, limit=1, window=1.5) == 0.0


async def test_a_dead_holders_slot_frees_itself(store: Store, store_harness: StoreHarness) -> None:
    key = store_harness.key("sem")
    assert await store.acquire_slot(key, b"dies", limit=1, ttl=1.5) is not None
    assert await store.acquire_slot(key, b"waits", limit=1, ttl=60) is None
    await store_harness.elapse(1.5 + store_harness.clock_tolerance)
    assert await store.acquire_slot(key, b"waits", limit=1, ttl=60) is not None
