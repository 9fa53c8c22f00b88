"""The producer side of every measured system, run as ``python -m bench.peers.<system>``.

The harness starts a driver subprocess in the system's own venv with one JSON request
as its argument. The driver connects, publishes one untimed warm-up message (so queue
declaration and first-use costs stay out of the figures), then the timed modes in order,
then optionally a paced latency run, and prints one JSON line::

    {"seconds": {"seq": 1.9, "window": 0.8}, "published": 7001}

``fill_to`` tops the queue up (untimed, fastest mode) to that many messages in all, so a
worker can then drain a known depth.

Worker-side settings come from ``BENCH_*`` environment variables (see :func:`env`), so
that a peer's own worker CLI can import the same module.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from bench.peers.payload import now

SendMode = Callable[[int, int], Awaitable[None] | None]
"""Publishes ``n`` no-op jobs of ``size`` bytes and returns once all are confirmed."""


class Producer(Protocol):
    """What a system module gives the driver."""

    modes: Mapping[str, SendMode]

    def start(self) -> Awaitable[None] | None: ...

    def one(self, size: int, sent_at: float) -> Awaitable[None] | None:
        """Publish a single job carrying its dispatch time, confirmed."""

    def stop(self) -> Awaitable[None] | None: ...


def env(name: str, default: str | None = None) -> str:
    """A ``BENCH_<NAME>`` setting given by the harness."""
    value = os.environ.get(f"BENCH_{name}", default)
    if value is None:
        raise SystemExit(f"BENCH_{name} is not set (run the benchmark through bench.peers)")
    return value


def queue_arguments() -> dict[str, Any]:
    """Arguments of a raw system's queue: its type, plus ``BENCH_QUEUE_ARGS`` (JSON).

    The quorum baselines declare the same arguments as brokerjobs' work queues (delivery
    limit, at-least-once dead-lettering, reject-publish), so both measure the same queue.
    """
    arguments: dict[str, Any] = {"x-queue-type": env("QUEUE_TYPE", "classic")}
    arguments.update(json.loads(env("QUEUE_ARGS", "{}")))
    return arguments


async def _maybe(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


async def _paced(producer: Producer, size: int, count: int, rate: float) -> None:
    start = time.perf_counter()
    for index in range(count):
        wait = start + index / rate - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        await _maybe(producer.one(size, now()))


async def _run(producer: Producer, request: dict[str, Any]) -> dict[str, Any]:
    size = int(request["size"])
    await _maybe(producer.start())
    seconds: dict[str, float] = {}
    published = 0
    try:
        await _maybe(producer.one(size, 0.0))
        published += 1
        for mode, count in request.get("modes", []):
            begin = time.perf_counter()
            await _maybe(producer.modes[mode](int(count), size))
            seconds[mode] = time.perf_counter() - begin
            published += int(count)
        fill = int(request.get("fill_to", 0)) - published
        if fill > 0:
            await _maybe(producer.modes["fill"](fill, size))
            published += fill
        if "latency" in request:
            count, rate = request["latency"]
            await _paced(producer, size, int(count), float(rate))
            published += int(count)
    finally:
        await _maybe(producer.stop())
    return {"seconds": seconds, "published": published}


def main(factory: Callable[[], Producer]) -> None:
    """Entry point of a system module: run the JSON request in ``sys.argv[1]``."""
    request = json.loads(sys.argv[1])
    result = asyncio.run(_run(factory(), request))
    print(json.dumps(result), flush=True)


def chunks(total: int, size: int) -> list[int]:
    """``total`` split into pieces of at most ``size`` (for windows and batches)."""
    return [min(size, total - start) for start in range(0, total, size)]
