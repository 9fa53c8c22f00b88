"""One racing process for the store suite: ``python -m tests.store.racer SPEC PREFIX GO_FILE``.

Waits for GO_FILE to exist (so every racer starts together), then races on the shared
keys and prints what it won as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from brokerjobs.stores import build_store

KEYS = 40
WINDOW_LIMIT = 25
SLOTS = 3


def wait_for(go_file: str) -> None:
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)


async def race(spec: str, prefix: str) -> dict[str, object]:
    store = build_store(spec)
    me = str(os.getpid()).encode()
    won = [i for i in range(KEYS) if await store.set_if_absent(f"{prefix}:k{i}", me, ttl=120)]
    counted = 0
    for _ in range(WINDOW_LIMIT):
        if await store.count_in_window(f"{prefix}:window", limit=WINDOW_LIMIT, window=300) == 0:
            counted += 1
    slot = await store.acquire_slot(f"{prefix}:sem", me, limit=SLOTS, ttl=120)
    increments = 0
    for _ in range(10):  # a counter bumped by compare-and-set loops: no lost update
        while True:
            current = await store.get(f"{prefix}:counter") or b"0"
            bumped = str(int(current) + 1).encode()
            if current == b"0" and await store.set_if_absent(f"{prefix}:counter", b"1", ttl=120):
                break
            if await store.compare_and_set(f"{prefix}:counter", current, bumped, ttl=120):
                break
        increments += 1
    await store.aclose()
    return {"won": won, "counted": counted, "slot": slot, "increments": increments}


if __name__ == "__main__":
    wait_for(sys.argv[3])
    result = asyncio.run(race(sys.argv[1], sys.argv[2]))
    print(json.dumps(result), flush=True)
