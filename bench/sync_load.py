"""Sync and async jobs draining a RabbitMQ queue through ``brokerjobs consume`` (issue #13).

    .venv/bin/python -m bench.sync_load [--amqp-url URL] [--jobs 20000]
        [--concurrency 4,16,32,64,256] [--prefetch default,256] [--kinds sync,async]

For each case: ``--jobs`` no-op jobs are dispatched with ``dispatch_many``, then
``brokerjobs consume --quiet`` (one process, as users run it) drains them. Reported per
case: runs, duplicate runs, lost subscriptions (the worker's "subscription failed" lines: channel
errors), jobs/s from the first run to the last, and that rate as a ratio to raw
aio-pika consume + ack (prefetch 256) on the same kind of queue, measured in the same
run just before each case (a shared machine's speed drifts within a run). Point
``--amqp-url`` at a private node for large runs: the harness cleans up through AMQP
only (it never calls ``rabbitmqctl``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import aio_pika
from brokerjobs_rabbitmq import RabbitMQBackend

import brokerjobs
from bench.sync_load_jobs import AsyncNoop, SyncNoop
from brokerjobs.backend import OutgoingMessage

ROOT = Path(__file__).resolve().parent.parent
RAW_PREFETCH = 256


@dataclass
class Case:
    kind: str
    concurrency: int
    prefetch: int | None
    jobs: int
    runs: int = 0
    duplicates: int = 0
    lost_subscriptions: int = 0
    drained: bool = False
    jobs_per_s: float = 0.0
    raw_per_s: float = 0.0
    """Raw aio-pika consume + ack, measured just before this case (the machine drifts)."""


def _backend(url: str, prefix: str) -> RabbitMQBackend:
    return RabbitMQBackend.from_options(url=url, prefix=prefix)


async def raw_consume_ack(url: str, prefix: str, count: int) -> float:
    """Messages per second of a raw aio-pika consume + ack loop on a brokerjobs work queue."""
    backend = _backend(url, prefix)
    queue = f"raw-{uuid.uuid4().hex[:6]}"
    await backend.declare(queue)
    body = b'{"v":1}'
    await backend.publish_batch(
        queue, [OutgoingMessage(body, uuid.uuid4().hex) for _ in range(count)]
    )
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=RAW_PREFETCH)
        broker_queue = await channel.get_queue(backend.topology.names(queue).work, ensure=False)
        started = time.perf_counter()
        seen = 0
        async with broker_queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                seen += 1
                if seen == count:
                    break
        return count / (time.perf_counter() - started)
    finally:
        await connection.close()
        await _delete(backend, queue)


async def _delete(backend: RabbitMQBackend, queue: str) -> None:
    from brokerjobs_rabbitmq.topology import delete_async

    channel = await backend._channel("bench: clean up")
    await delete_async(channel, backend.topology.names(queue))
    await backend.aclose()


async def run_case(url: str, prefix: str, case: Case, timeout: float) -> Case:
    backend = _backend(url, prefix)
    queue = f"{case.kind}-{case.concurrency}-{uuid.uuid4().hex[:6]}"
    await backend.declare(queue)
    cls = SyncNoop if case.kind == "sync" else AsyncNoop
    await brokerjobs.dispatch_many_async(
        [cls(n=i) for i in range(case.jobs)], backend=backend, queue=queue
    )
    ledger = Path(tempfile.mkdtemp(prefix="bj-sync-load-")) / "runs"
    argv = [
        sys.executable, "-m", "brokerjobs.cli", "consume", "--backend", "rabbitmq",
        "--app", "bench.sync_load_jobs", "--queue", queue,
        "--concurrency", str(case.concurrency), "--quiet",
    ]  # fmt: skip
    if case.prefetch is not None:
        argv += ["--prefetch", str(case.prefetch)]
    env = {
        **os.environ,
        "BENCH_LEDGER": str(ledger),
        "BROKERJOBS_RABBITMQ_URL": url,
        "BROKERJOBS_RABBITMQ_PREFIX": prefix,
        "PYTHONPATH": str(ROOT),
    }
    log = ledger.with_suffix(".log")
    with log.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if len(_runs(ledger)) >= case.jobs and len(set(_ids(ledger))) >= case.jobs:
                    break
                await asyncio.sleep(0.25)
            await asyncio.sleep(1.0)  # late duplicates from requeued deliveries
        finally:
            with contextlib.suppress(ProcessLookupError):  # it may have exited on its own
                worker.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 60)
            if worker.returncode is None:
                worker.kill()
    runs = _runs(ledger)
    counts = Counter(message_id for message_id, _ in runs)
    times = sorted(at for _, at in runs)
    case.runs = len(runs)
    case.duplicates = len(runs) - len(counts)
    case.drained = len(counts) >= case.jobs
    case.jobs_per_s = len(counts) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    case.lost_subscriptions = log.read_text(errors="replace").count("subscription failed")
    await _delete(backend, queue)
    return case


def _runs(ledger: Path) -> list[tuple[str, float]]:
    found: list[tuple[str, float]] = []
    for path in ledger.parent.glob(f"{ledger.name}-*"):
        for line in path.read_text().splitlines():
            message_id, _, at = line.partition(" ")
            if at:
                found.append((message_id, float(at)))
    return found


def _ids(ledger: Path) -> list[str]:
    return [message_id for message_id, _ in _runs(ledger)]


def table(cases: list[Case]) -> str:
    lines = [
        "| job kind | `--concurrency` | `--prefetch` | runs / jobs | duplicates | lost "
        "subscriptions | jobs/s | raw aio-pika/s | vs raw |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        runs = f"{c.runs:,} / {c.jobs:,}" + ("" if c.drained else " (not drained)")
        lines.append(
            f"| `{'def' if c.kind == 'sync' else 'async def'} run` | {c.concurrency} | "
            f"{c.prefetch or 'default'} | {runs} | {c.duplicates} | {c.lost_subscriptions} | "
            f"{c.jobs_per_s:,.0f} | {c.raw_per_s:,.0f} | {c.jobs_per_s / c.raw_per_s:.2f}× |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    prefix = f"bjsyncload{uuid.uuid4().hex[:6]}."
    cases: list[Case] = []
    for kind in args.kinds.split(","):
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            for prefetch in args.prefetch.split(","):
                case = Case(kind, concurrency, None if prefetch == "default" else int(prefetch),
                            args.jobs)  # fmt: skip
                case.raw_per_s = await raw_consume_ack(args.amqp_url, prefix, args.jobs)
                cases.append(await run_case(args.amqp_url, prefix, case, args.timeout))
                print(json.dumps(asdict(case)), flush=True)
    print(table(cases))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp-url", default=os.environ.get("BENCH_AMQP_URL",
                        "amqp://guest:guest@127.0.0.1:5672/"))  # fmt: skip
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--kinds", default="sync,async")
    parser.add_argument("--concurrency", default="4,16,32,64,256")
    parser.add_argument("--prefetch", default="default,256")
    parser.add_argument("--timeout", type=float, default=120.0)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))
