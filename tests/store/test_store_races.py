"""Atomicity: many tasks, and several processes, racing on one key never both win."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from brokerjobs.store import Store
from tests.store import racer
from tests.support.harness_store import StoreHarness

TASKS = 40
ROOT = Path(__file__).resolve().parents[2]


async def stores(harness: StoreHarness, count: int = 4) -> list[Store]:
    """Several store instances (own connections), as several workers would have."""
    return [await harness.new_store() for _ in range(count)]


async def test_one_of_many_tasks_wins_set_if_absent(store_harness: StoreHarness) -> None:
    pool = await stores(store_harness)
    key = store_harness.key()
    results = await asyncio.gather(
        *(pool[i % len(pool)].set_if_absent(key, f"{i}".encode(), ttl=60) for i in range(TASKS))
    )
    assert results.count(True) == 1
    winner = results.index(True)
    assert await pool[0].get(key) == f"{winner}".encode()


async def test_compare_and_set_loses_no_update(store_harness: StoreHarness) -> None:
    pool = await stores(store_harness)
    key = store_harness.key("counter")
    await pool[0].set_if_absent(key, b"0", ttl=60)

    async def bump(store: Store) -> None:
        while True:
            current = await store.get(key)
            assert current is not None
            if await store.compare_and_set(key, current, str(int(current) + 1).encode(), ttl=60):
                return

    await asyncio.gather(*(bump(pool[i % len(pool)]) for i in range(TASKS)))
    assert await pool[0].get(key) == str(TASKS).encode()


async def test_one_of_many_tasks_wins_compare_and_delete(store_harness: StoreHarness) -> None:
    pool = await stores(store_harness)
    key = store_harness.key()
    await pool[0].set_if_absent(key, b"lock", ttl=60)
    results = await asyncio.gather(
        *(pool[i % len(pool)].compare_and_delete(key, b"lock") for i in range(TASKS))
    )
    assert results.count(True) == 1


async def test_window_counts_exactly_the_limit_under_a_race(store_harness: StoreHarness) -> None:
    pool = await stores(store_harness)
    key = store_harness.key("rate")
    results = await asyncio.gather(
        *(pool[i % len(pool)].count_in_window(key, limit=15, window=300) for i in range(TASKS))
    )
    assert results.count(0.0) == 15
    assert all(wait > 0 for wait in results if wait != 0.0)


async def test_semaphore_hands_out_exactly_limit_slots_under_a_race(
    store_harness: StoreHarness,
) -> None:
    pool = await stores(store_harness)
    key = store_harness.key("sem")
    results = await asyncio.gather(
        *(
            pool[i % len(pool)].acquire_slot(key, f"h{i}".encode(), limit=3, ttl=60)
            for i in range(TASKS)
        )
    )
    held = [slot for slot in results if slot is not None]
    assert len(held) == 3 and len(set(held)) == 3


@pytest.mark.slow
async def test_processes_racing_on_shared_keys_never_both_win(
    shared_store_harness: StoreHarness, tmp_path: Path
) -> None:
    harness = shared_store_harness
    go = tmp_path / "go"
    env = {**os.environ, **harness.subprocess_env(), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.store.racer", harness.store_spec(), harness.prefix]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, str(go), stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=env
        )
        for _ in range(4)
    ]
    await asyncio.sleep(0.5)  # let them import; the go file starts them together
    go.touch()
    outputs = []
    for process in processes:
        out, _ = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0
        outputs.append(json.loads(out))

    wins = Counter(key for output in outputs for key in output["won"])
    assert sorted(wins) == list(range(racer.KEYS)), "a key nobody won"
    assert set(wins.values()) == {1}, f"a key won twice: {wins}"
    assert sum(output["counted"] for output in outputs) == racer.WINDOW_LIMIT
    slots = [output["slot"] for output in outputs if output["slot"] is not None]
    assert len(slots) == racer.SLOTS and len(set(slots)) == racer.SLOTS
    store = await harness.new_store()
    total = sum(output["increments"] for output in outputs)
    assert await store.get(f"{harness.prefix}:counter") == str(total).encode()
