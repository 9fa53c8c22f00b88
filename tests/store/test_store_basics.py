"""The Store contract, operation by operation, on every implementation."""

from __future__ import annotations

import pytest

from brokerjobs.store import MAX_KEY_LENGTH, Store
from tests.support.harness_store import StoreHarness


async def test_set_if_absent_stores_once_and_get_reads_it(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key()
    assert await store.get(key) is None
    assert await store.set_if_absent(key, b"first", ttl=60) is True
    assert await store.set_if_absent(key, b"second", ttl=60) is False
    assert await store.get(key) == b"first"


async def test_values_are_bytes_kept_exactly(store: Store, store_harness: StoreHarness) -> None:
    key = store_harness.key()
    value = bytes(range(256)) * 4  # NUL bytes, high bytes: no text conversion anywhere
    assert await store.set_if_absent(key, value, ttl=60)
    assert await store.get(key) == value


async def test_compare_and_set_needs_the_expected_live_value(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key()
    assert await store.compare_and_set(key, b"a", b"b", ttl=60) is False  # absent
    assert await store.get(key) is None
    await store.set_if_absent(key, b"a", ttl=60)
    assert await store.compare_and_set(key, b"x", b"b", ttl=60) is False
    assert await store.get(key) == b"a"
    assert await store.compare_and_set(key, b"a", b"b", ttl=60) is True
    assert await store.get(key) == b"b"


async def test_compare_and_delete_needs_the_expected_live_value(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key()
    assert await store.compare_and_delete(key, b"a") is False
    await store.set_if_absent(key, b"a", ttl=60)
    assert await store.compare_and_delete(key, b"other") is False
    assert await store.get(key) == b"a"
    assert await store.compare_and_delete(key, b"a") is True
    assert await store.get(key) is None
    assert await store.set_if_absent(key, b"again", ttl=60) is True


async def test_keys_are_independent_and_case_sensitive(
    store: Store, store_harness: StoreHarness
) -> None:
    lower, upper = store_harness.key("job"), store_harness.key("JOB")
    assert await store.set_if_absent(lower, b"1", ttl=60)
    assert await store.set_if_absent(upper, b"2", ttl=60)
    assert (await store.get(lower), await store.get(upper)) == (b"1", b"2")


async def test_bad_keys_and_ttls_are_refused(store: Store, store_harness: StoreHarness) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        await store.set_if_absent("", b"v", ttl=1)
    with pytest.raises(ValueError, match=str(MAX_KEY_LENGTH)):
        await store.get("k" * (MAX_KEY_LENGTH + 1))
    with pytest.raises(ValueError, match="ttl"):
        await store.set_if_absent(store_harness.key(), b"v", ttl=0)
    longest = store_harness.key().ljust(MAX_KEY_LENGTH, "x")
    assert await store.set_if_absent(longest, b"v", ttl=60)
    assert await store.get(longest) == b"v"


async def test_window_counts_up_to_the_limit_then_says_how_long_to_wait(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key("rate")
    assert [await store.count_in_window(key, limit=3, window=30) for _ in range(3)] == [0.0] * 3
    wait = await store.count_in_window(key, limit=3, window=30)
    assert 0 < wait <= 30 + store_harness.clock_tolerance
    # A refused call spends nothing: still refused, never counted, same window.
    assert await store.count_in_window(key, limit=4, window=30) == 0.0
    assert await store.count_in_window(key, limit=4, window=30) > 0


async def test_semaphore_hands_out_limit_slots_and_takes_them_back(
    store: Store, store_harness: StoreHarness
) -> None:
    key = store_harness.key("sem")
    slots = [await store.acquire_slot(key, f"h{i}".encode(), limit=3, ttl=60) for i in range(3)]
    assert None not in slots and len(set(slots)) == 3
    assert await store.acquire_slot(key, b"h3", limit=3, ttl=60) is None
    first = slots[0]
    assert first is not None
    assert await store.compare_and_set(first, b"h0", b"h0", ttl=60)  # renewing keeps it
    assert await store.compare_and_delete(first, b"wrong") is False
    assert await store.compare_and_delete(first, b"h0") is True
    assert await store.acquire_slot(key, b"h3", limit=3, ttl=60) == first
